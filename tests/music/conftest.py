"""Fixtures for the music core: small MIDI files built with mido, and the parsed corpus."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mido
import pytest

from radio.music.midi_io import ParsedMidi, read_midi


def build_midi(tracks: list[list[tuple[int, mido.Message | mido.MetaMessage]]], *,
               ticks_per_beat: int = 480, midi_type: int = 1) -> bytes:
    """MIDI bytes from tracks of (absolute tick, message); messages at one tick keep their order."""
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: e[0]):  # sorted() is stable
            track.append(msg.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def on(pitch: int, velocity: int = 80, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def off(pitch: int, channel: int = 0) -> mido.Message:
    return mido.Message("note_off", note=pitch, velocity=0, channel=channel)


@dataclass
class MidiKit:
    build: Callable[..., bytes]
    on: Callable[..., mido.Message]
    off: Callable[..., mido.Message]


@pytest.fixture
def kit() -> MidiKit:
    return MidiKit(build_midi, on, off)


@dataclass
class ParsedCorpus:
    pieces: dict[Path, ParsedMidi]
    failures: dict[Path, str]
    seconds: float


@pytest.fixture(scope="session")
def parsed_corpus(corpus_dir: Path) -> ParsedCorpus:
    """Every corpus file parsed once per session (the parse itself is one of the tests)."""
    from radio.music.midi_io import MidiError

    pieces: dict[Path, ParsedMidi] = {}
    failures: dict[Path, str] = {}
    start = time.perf_counter()
    for path in sorted(corpus_dir.glob("*/*.mid")):
        try:
            pieces[path] = read_midi(path)
        except MidiError as exc:
            failures[path] = str(exc)
    return ParsedCorpus(pieces, failures, time.perf_counter() - start)

"""Fixtures for the audio tests: timbres and random note streams."""

from __future__ import annotations

import random
from typing import Callable

import pytest

from radio.music.notes import ListOfNotes, validate
from radio.styles import Timbre

BAROQUE_LIKE = Timbre(
    partials=(1.0, 0.55, 0.35, 0.22, 0.14, 0.08),
    attack=0.006,
    decay=0.25,
    sustain=0.55,
    release=0.18,
    detune_cents=1.5,
    level=0.65,
)
INHARMONIC = Timbre(partials=(1.0, 0.7, 0.45, 0.3), attack=0.008, decay=0.12, release=0.12, inharmonicity=0.0002)


@pytest.fixture(params=["harmonic", "inharmonic"])
def timbre(request) -> Timbre:
    """Both oscillator paths: the wavetable (harmonic) and one oscillator per partial."""
    return BAROQUE_LIKE if request.param == "harmonic" else INHARMONIC


def _random_stream(voices: int, beats: int, seed: int, max_length: int = 8) -> ListOfNotes:
    """``voices`` parts in separate registers, random notes of 1..max_length beats, with rests."""
    rng = random.Random(seed)
    stream: list[dict[int, str]] = [{} for _ in range(beats)]
    for v in range(voices):
        low = 40 + 9 * v
        i = 0
        while i < beats:
            length = rng.randint(1, max_length)
            if rng.random() < 0.15:
                i += length  # a rest
                continue
            pitch = low + rng.randrange(12)
            for j in range(i, min(i + length, beats)):
                if stream[j].get(pitch) != "b":
                    stream[j][pitch] = "b" if j == i else "s"
            i += length
    notes = [sorted(beat.items()) for beat in stream]
    validate(notes)
    return notes


@pytest.fixture
def random_stream() -> Callable[..., ListOfNotes]:
    return _random_stream

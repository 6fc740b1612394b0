"""MIDI files ⇄ ``list_of_notes``, with mido.

Reading works on the absolute tick timeline: each note's onset and end are rounded to
the nearest 16th separately (a note lasts at least one 16th), so rounding never
accumulates into drift the way rounding every delta time did.

Policies (each one a decision about an ambiguous file, kept in one place):

* Type 0 and type 1 files: every track is read and the notes are merged. Type 2 files
  (independent sequences) are rejected: laying them end to end would invent a piece.
* ``note_on`` with velocity 0 is a note-off.
* Notes are paired per (track, channel, pitch). A second ``note_on`` before the first
  one's ``note_off`` is a second note, re-struck where it starts. A ``note_off``
  releases every open note of its pitch, as a piano key would, except one struck at
  that same tick (an off-then-on pair written on-then-off). Pairing oldest-first
  instead would let one unbalanced ``note_on`` mis-pair every later note of that pitch.
* A ``note_off`` with nothing open is ignored; a ``note_on`` at the same tick right
  after it is a zero-length (grace) note written off-before-on and lasts one 16th.
  Any other note never released ends where the file ends.
* Channel 10 (index 9) is General MIDI percussion: its notes are dropped.
* The grid is musical time (16ths of a quarter note), so tempo changes do not move
  notes; they are recorded in :class:`ParsedMidi`.
* A piece longer than :data:`MAX_BEATS` 16ths is refused: a huge delta time in a
  damaged file would otherwise allocate an enormous, silent piece.

Every failure is a :class:`MidiError` whose message names the reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import mido

from radio import errors
from radio.music.notes import BEATS_PER_QUARTER, ListOfNotes, Span, from_spans, to_spans, validate

MAX_BEATS = 100_000  # 16ths; about 3.5 hours at 120 bpm
MAX_FILE_BYTES = 32 * 1024 * 1024
DRUM_CHANNEL = 9
DEFAULT_BPM = 120.0
WRITE_TICKS_PER_BEAT = 480
MIN_WRITE_BPM, MAX_WRITE_BPM = 4.0, 1000.0


class MidiError(errors.MidiError):
    """A file could not be read as a usable MIDI file (the message says why)."""


@dataclass
class ParsedMidi:
    notes: ListOfNotes  # as written, not transposed
    tempo_bpm: float  # the first tempo in the file (120 when it sets none)
    tempo_changes: list[tuple[int, float]] = field(default_factory=list)  # (16th index, bpm) after the first
    key_signature: str | None = None  # the earliest key_signature meta, mido spelling ('Am', 'Bb')
    ticks_per_beat: int = WRITE_TICKS_PER_BEAT
    tracks: int = 1


def read_midi(source: str | Path | bytes) -> ParsedMidi:
    """Parse a MIDI file (a path or its bytes) into 16th-note beats; raises :class:`MidiError`.

    Standard MIDI files and RIFF-wrapped ones (``.rmi``) are read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _convert(_open(_unwrap(bytes(source))))
    try:
        return _convert(_open(_unwrap(_read_file(Path(source)))))
    except MidiError as exc:
        raise MidiError(f"{source}: {exc}") from exc


def write_midi(notes: ListOfNotes, bpm: float = DEFAULT_BPM, *, program: int = 0, velocity: int = 80) -> bytes:
    """Type-1 MIDI bytes: a conductor track (tempo) and one piano-roll track on channel 1.

    ``read_midi(write_midi(n)).notes == n`` for any valid, normalized ``n`` with at least
    one note (:func:`radio.music.notes.normalize`); trailing silent beats survive because the end of track is placed at ``len(n)``.
    """
    validate(notes)
    if not MIN_WRITE_BPM <= bpm <= MAX_WRITE_BPM:  # a MIDI tempo is 24 bits of µs per quarter
        raise ValueError(f"bpm must be within {MIN_WRITE_BPM}..{MAX_WRITE_BPM}, got {bpm!r}")
    if not 0 <= program <= 127 or not 1 <= velocity <= 127:
        raise ValueError(f"program must be 0..127 and velocity 1..127, got {program}, {velocity}")
    per_16th = WRITE_TICKS_PER_BEAT // BEATS_PER_QUARTER
    end_tick = len(notes) * per_16th

    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    conductor.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=end_tick))

    # (tick, 0 = off before 1 = on at the same tick, pitch) so a re-strike never closes itself
    events: list[tuple[int, int, int]] = []
    for span in to_spans(notes):
        events.append((span.start * per_16th, 1, span.pitch))
        events.append((span.end * per_16th, 0, span.pitch))
    events.sort()
    track = mido.MidiTrack()
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    now = 0
    for tick, kind, pitch in events:
        msg_type = "note_on" if kind else "note_off"
        track.append(mido.Message(msg_type, note=pitch, velocity=velocity if kind else 0, channel=0, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=end_tick - now))

    midi = mido.MidiFile(type=1, ticks_per_beat=WRITE_TICKS_PER_BEAT)
    midi.tracks.extend([conductor, track])
    out = io.BytesIO()
    midi.save(file=out)
    return out.getvalue()


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise MidiError(f"larger than {MAX_FILE_BYTES} bytes; not a plausible MIDI file")
        return path.read_bytes()
    except OSError as exc:
        raise MidiError(f"cannot read the file ({exc.strerror or exc})") from exc


def _unwrap(data: bytes) -> bytes:
    """The Standard MIDI File inside ``data``: as is, or the 'data' chunk of a RIFF RMID file."""
    if not data:
        raise MidiError("the file is empty (zero bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise MidiError(f"larger than {MAX_FILE_BYTES} bytes; not a plausible MIDI file")
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        at = 12
        while at + 8 <= len(data):
            size = int.from_bytes(data[at + 4:at + 8], "little")
            if data[at:at + 4] == b"data":
                data = data[at + 8:at + 8 + size]
                break
            at += 8 + size + (size & 1)  # RIFF chunks are padded to even lengths
        else:
            raise MidiError("RIFF MIDI file without a 'data' chunk")
    if not data.startswith(b"MThd"):
        raise MidiError("not a MIDI file (no 'MThd' header)")
    return data


def _open(data: bytes) -> mido.MidiFile:
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except EOFError as exc:
        raise MidiError("truncated MIDI file: the data ends inside a chunk or message") from exc
    except Exception as exc:  # mido raises OSError, ValueError, KeyError, IndexError, struct.error...
        raise MidiError(f"corrupt MIDI file: {type(exc).__name__}: {exc}") from exc
    if midi.type == 2:
        raise MidiError("MIDI type 2 (independent sequences) is not supported; save it as type 0 or 1")
    # mido reads the division as signed: negative means SMPTE frames, not ticks per quarter
    if midi.ticks_per_beat < 0 or midi.ticks_per_beat >= 0x8000:
        raise MidiError("SMPTE time division is not supported; only ticks per quarter note")
    if midi.ticks_per_beat == 0:
        raise MidiError("invalid MIDI header: ticks_per_beat is 0")
    return midi


def _convert(midi: mido.MidiFile) -> ParsedMidi:
    tpb = midi.ticks_per_beat
    max_tick = MAX_BEATS * tpb // BEATS_PER_QUARTER

    def to_16th(tick: int) -> int:
        # round half up on exact integers: no float error over long pieces
        return (2 * BEATS_PER_QUARTER * tick + tpb) // (2 * tpb)

    note_ticks: list[tuple[int, int, int | None]] = []  # (pitch, on, off or None: never released)
    tempos: list[tuple[int, int, float]] = []  # (tick, track, bpm)
    keys: list[tuple[int, int, str]] = []  # (tick, track, key)
    last_tick = 0
    for track_no, track in enumerate(midi.tracks):
        tick = 0
        open_notes: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> onset ticks, oldest first
        stray_offs: set[tuple[tuple[int, int], int]] = set()  # ((channel, pitch), tick) of a note_off with nothing open
        for msg in track:
            tick += msg.time
            if tick > max_tick:
                raise MidiError(f"piece too long: an event at quarter note {tick // tpb} is beyond the "
                                f"{MAX_BEATS // BEATS_PER_QUARTER}-quarter limit (a huge delta time?)")
            kind = msg.type
            if kind == "note_on" or kind == "note_off":
                if msg.channel == DRUM_CHANNEL:
                    continue
                key = (msg.channel, msg.note)
                if kind == "note_on" and msg.velocity > 0:
                    if (key, tick) in stray_offs:
                        note_ticks.append((msg.note, tick, tick))  # its note-off came first: a grace note
                    else:
                        open_notes.setdefault(key, []).append(tick)
                elif open_notes.get(key):
                    starts = open_notes.pop(key)
                    struck_now = [t for t in starts if t == tick]
                    if struck_now and len(struck_now) < len(starts):
                        open_notes[key] = struck_now  # an off-then-on pair written on-then-off
                        starts = [t for t in starts if t != tick]
                    note_ticks.extend((msg.note, start, tick) for start in starts)
                else:
                    stray_offs.add((key, tick))
            elif kind == "set_tempo" and msg.tempo > 0:  # a zero tempo is damage, not a tempo
                tempos.append((tick, track_no, mido.tempo2bpm(msg.tempo)))
            elif kind == "key_signature":
                keys.append((tick, track_no, msg.key))
        last_tick = max(last_tick, tick)
        for (_, pitch), starts in open_notes.items():
            note_ticks.extend((pitch, start, None) for start in starts)

    if not note_ticks:
        raise MidiError("no notes: the file has no pitched notes (drum channel 10 is ignored)")

    spans = []
    for pitch, on, off in note_ticks:
        start = to_16th(on)
        end = to_16th(last_tick if off is None else off)
        spans.append(Span(pitch, start, max(1, end - start)))
    length = max(max(s.end for s in spans), to_16th(last_tick))
    if length > MAX_BEATS:
        raise MidiError(f"piece too long: {length} 16ths exceeds the limit of {MAX_BEATS}")

    tempos.sort(key=lambda t: (t[0], t[1]))
    tempo_bpm = round(tempos[0][2], 3) if tempos else DEFAULT_BPM
    changes: list[tuple[int, float]] = []
    current = tempo_bpm
    for tick, _, bpm in tempos[1:]:
        bpm = round(bpm, 3)
        if bpm != current:
            beat = to_16th(tick)
            if changes and changes[-1][0] == beat:
                changes[-1] = (beat, bpm)  # two tempos on one 16th: the later one is what plays
            else:
                changes.append((beat, bpm))
            current = bpm
    keys.sort(key=lambda k: (k[0], k[1]))

    return ParsedMidi(
        notes=from_spans(spans, length),
        tempo_bpm=tempo_bpm,
        tempo_changes=changes,
        key_signature=keys[0][2] if keys else None,
        ticks_per_beat=tpb,
        tracks=len(midi.tracks),
    )

"""The data model: a ``list_of_notes`` is a list of 16th-note beats.

Each beat is a list of ``(midi_note, 'b' | 's')`` tuples. ``'b'`` means the note is
struck on this beat, ``'s'`` means it is held over from the beat before. Every other
module (MIDI I/O, the model encodings, the synth, the piano roll) works over this
format through the functions here; nothing else invents its own note format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

from radio.errors import NotesError

STRUCK: Literal["b"] = "b"
HELD: Literal["s"] = "s"
BEATS_PER_QUARTER = 4  # a beat is a 16th note
BEATS_PER_BAR = 16  # a bar of 4/4: the token encoding's positions and the form plans count in it
LOWEST, HIGHEST = 0, 127

Tie = Literal["b", "s"]
NoteEvent = tuple[int, str]
Beat = list[NoteEvent]
ListOfNotes = list[Beat]


@dataclass(frozen=True, slots=True)
class Span:
    """One note as a pitch with a start beat and a length in beats (≥ 1)."""

    pitch: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


def validate(notes: Sequence[Sequence[NoteEvent]]) -> None:
    """Raise :class:`NotesError` unless ``notes`` is a well-formed list_of_notes.

    Checks: pitches are ints in 0..127, ties are 'b' or 's', a pitch occurs at most once
    per beat, and a held note ('s') was sounding on the beat before.
    """
    previous: set[int] = set()
    for i, beat in enumerate(notes):
        if not isinstance(beat, (list, tuple)):
            raise NotesError(f"beat {i} is {type(beat).__name__}, expected a list of (pitch, tie)")
        current: set[int] = set()
        for event in beat:
            if not (isinstance(event, (list, tuple)) and len(event) == 2):
                raise NotesError(f"beat {i}: {event!r} is not a (pitch, tie) pair")
            pitch, tie = event
            if isinstance(pitch, bool) or not isinstance(pitch, int) or not LOWEST <= pitch <= HIGHEST:
                raise NotesError(f"beat {i}: pitch {pitch!r} is not an int in 0..127")
            if tie not in (STRUCK, HELD):
                raise NotesError(f"beat {i}: tie {tie!r} must be 'b' (struck) or 's' (held)")
            if pitch in current:
                raise NotesError(f"beat {i}: pitch {pitch} appears twice")
            if tie == HELD and pitch not in previous:
                raise NotesError(f"beat {i}: pitch {pitch} is held ('s') but was not sounding on beat {i - 1}")
            current.add(pitch)
        previous = current


def normalize(notes: Iterable[Iterable[Sequence]]) -> ListOfNotes:
    """Return a canonical copy: tuples, each beat sorted by pitch. Accepts JSON-ish lists."""
    return [sorted((int(p), str(t)) for p, t in beat) for beat in notes]


def sounding(beat: Iterable[NoteEvent]) -> list[int]:
    """The pitches sounding on a beat (struck or held), ascending."""
    return sorted(p for p, _ in beat)


def struck(beat: Iterable[NoteEvent]) -> list[int]:
    """The pitches struck on a beat, ascending."""
    return sorted(p for p, t in beat if t == STRUCK)


def transpose(notes: Sequence[Sequence[NoteEvent]], semitones: int) -> ListOfNotes:
    """Shift every pitch; raise :class:`NotesError` if a pitch would leave 0..127."""
    if semitones == 0:
        return [list(beat) for beat in notes]
    out: ListOfNotes = []
    for i, beat in enumerate(notes):
        new_beat: Beat = []
        for pitch, tie in beat:
            shifted = pitch + semitones
            if not LOWEST <= shifted <= HIGHEST:
                raise NotesError(f"beat {i}: pitch {pitch} + {semitones} leaves the MIDI range 0..127")
            new_beat.append((shifted, tie))
        out.append(new_beat)
    return out


def pitch_range(notes: Iterable[Iterable[NoteEvent]]) -> tuple[int, int] | None:
    """(lowest, highest) pitch, or None when there are no notes."""
    pitches = [p for beat in notes for p, _ in beat]
    return (min(pitches), max(pitches)) if pitches else None


def to_spans(notes: Sequence[Sequence[NoteEvent]]) -> list[Span]:
    """Turn beats into notes with lengths, ordered by (start, pitch).

    A held tie with no sounding predecessor is read as a strike, so slightly malformed
    input (for example a chunk cut out of a longer stream) still gives real notes.
    """
    open_at: dict[int, int] = {}
    spans: list[Span] = []
    for i, beat in enumerate(notes):
        ties = {pitch: tie for pitch, tie in beat}
        for pitch in [p for p in open_at if ties.get(p) != HELD]:
            start = open_at.pop(pitch)
            spans.append(Span(pitch, start, i - start))
        for pitch, tie in ties.items():
            if pitch not in open_at:
                open_at[pitch] = i
    end = len(notes)
    for pitch, start in open_at.items():
        spans.append(Span(pitch, start, end - start))
    spans.sort(key=lambda s: (s.start, s.pitch))
    return spans


def from_spans(spans: Iterable[Span], length: int | None = None) -> ListOfNotes:
    """Build beats from notes. Overlapping spans of one pitch are merged by re-striking."""
    spans = sorted(spans, key=lambda s: (s.start, s.pitch))
    total = max((s.end for s in spans), default=0)
    if length is None:
        length = total
    beats: list[dict[int, str]] = [dict() for _ in range(length)]
    for s in spans:
        if s.length < 1 or s.start < 0:
            raise NotesError(f"span {s} must start at ≥ 0 and last ≥ 1 beat")
        for i in range(s.start, min(s.end, length)):
            if i == s.start:
                beats[i][s.pitch] = STRUCK
            else:
                beats[i].setdefault(s.pitch, HELD)
    return [sorted(b.items()) for b in beats]


def seconds(num_beats: int, bpm: float) -> float:
    """Duration of ``num_beats`` 16ths at ``bpm`` quarter notes per minute."""
    return num_beats * 60.0 / (bpm * BEATS_PER_QUARTER)


def beats_for_seconds(secs: float, bpm: float) -> int:
    return int(round(secs * bpm * BEATS_PER_QUARTER / 60.0))


def polyphony(notes: Sequence[Sequence[NoteEvent]]) -> float:
    """Mean number of sounding notes over the beats that sound at all (0.0 if silent)."""
    counts = [len(b) for b in notes if b]
    return sum(counts) / len(counts) if counts else 0.0


def pitch_class_histogram(notes: Iterable[Iterable[NoteEvent]], weight_by_duration: bool = True) -> list[float]:
    """Twelve weights, C first: beats sounding (or strikes, when not by duration) per pitch class."""
    hist = [0.0] * 12
    for beat in notes:
        for pitch, tie in beat:
            if weight_by_duration or tie == STRUCK:
                hist[pitch % 12] += 1.0
    return hist

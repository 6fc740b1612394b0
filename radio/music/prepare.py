"""The one way every consumer turns a MIDI file into training-ready notes (in C / Am).

Which key a piece is in (the rule, in order):

1. No ``key_signature`` in the file (or one we cannot parse): the estimate from the
   notes (``key_source = 'estimated'``).
2. A signature fixes a pair of keys, a major and its relative minor, and is more
   reliable about that pair than about the mode (many files write mode 0 for minor
   pieces). Of the pair, take the better-scoring one on the notes. If that is the
   signature's own key, ``key_source = 'signature'``; if it is the relative,
   ``'estimated'``.
3. If even the better of the pair scores more than :data:`DISAGREEMENT` below the best
   estimate, the signature disagrees with the notes (a default 'C' left by a notation
   program, a signature for another section): use the estimate (``'estimated'``).

Either of a relative pair gives the same shift to C major / A minor, so rule 2 changes
only the reported key, never the transposition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radio.errors import NotesError
from radio.music.keys import Key, estimate_key, key_scores, parse_mido_key, shift_to_c
from radio.music.midi_io import MidiError, read_midi
from radio.music.notes import HIGHEST, LOWEST, ListOfNotes, pitch_range, transpose

DISAGREEMENT = 0.25  # correlation units; the best-vs-signature gap beyond which notes win


@dataclass
class PreparedPiece:
    notes: ListOfNotes  # transposed to C major / A minor
    original_key: Key
    key_source: str  # 'signature' | 'estimated'
    transpose: int  # semitones applied
    tempo_bpm: float
    beats: int


def choose_key(notes: ListOfNotes, signature: str | None) -> tuple[Key, str]:
    """The piece's key and where it came from, by the rule in this module's docstring."""
    scores = key_scores(notes)
    best = estimate_key(notes)
    if signature is None:
        return best, "estimated"
    try:
        written = parse_mido_key(signature)
    except ValueError:
        return best, "estimated"
    pick = max((written, written.relative), key=lambda k: scores[k])
    if scores[pick] < scores[best] - DISAGREEMENT:
        return best, "estimated"
    return pick, "signature" if pick == written else "estimated"


def transpose_to_c(notes: ListOfNotes, key: Key) -> tuple[ListOfNotes, int]:
    """Shift by the smallest step to C / Am; an octave the other way if that leaves 0..127."""
    shift = shift_to_c(key)
    low, high = pitch_range(notes) or (LOWEST, LOWEST)
    for candidate in (shift, shift - 12 if shift > 0 else shift + 12):
        if LOWEST <= low + candidate and high + candidate <= HIGHEST:
            return transpose(notes, candidate), candidate
    raise NotesError(f"pitches {low}..{high} cannot be shifted by {shift} or an octave the other way within 0..127")


def prepare_piece(source: str | Path | bytes) -> PreparedPiece:
    """Read a MIDI file, find its key and transpose it to C major / A minor; raises MidiError."""
    parsed = read_midi(source)
    key, key_source = choose_key(parsed.notes, parsed.key_signature)
    try:
        notes, shift = transpose_to_c(parsed.notes, key)
    except NotesError as exc:
        raise MidiError(f"cannot transpose {key.name} to C major / A minor: {exc}") from exc
    return PreparedPiece(
        notes=notes,
        original_key=key,
        key_source=key_source,
        transpose=shift,
        tempo_bpm=parsed.tempo_bpm,
        beats=len(notes),
    )

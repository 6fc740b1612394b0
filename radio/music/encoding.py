"""Model-vector encodings of a list_of_notes (numpy only; shared by the trainer and the radio).

Two encodings, one row per 16th-note beat:

``seed`` (the original design, kept as a baseline), 138 inputs:
    128 "sounding" bits (MIDI 0..127) + a 10-way one-hot of how many notes sound (9 = 9 or more).
    Outputs: 128 note logits (sigmoid) + 10 count logits (softmax).

``continuo`` (ours), 202 inputs over the 88 piano pitches 21..108 (after the C/Am
transposition the corpus never leaves that range; pitches outside it are dropped):
    88 sounding bits + 88 struck bits ('b') + a 10-way count one-hot + a 16-way one-hot of the
    beat's position in a 4/4 bar (counted from the piece's first beat).
    Outputs: 88 sounding logits, 88 struck logits and 10 count logits. The struck logit of a
    pitch is P(struck | sounding now and sounding on the beat before); a pitch that was silent
    before can only be struck, so the held/struck split costs nothing there.

Every training sequence starts with one empty beat at position 15 (the beat before the first
downbeat), which is also what a sampler with no primer feeds first.

The third encoding, ``token`` (radio/music/tokens.py), is not a frame per beat but a token per
note. :data:`ENCODINGS` lists all three by name; which model kinds exist, and so which
encodings a model file may name, is the model-kind registry's business (radio/model/kinds/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from radio.music.notes import HELD, STRUCK, NoteEvent
from radio.music.tokens import TOKEN, TokenEncoding

COUNT_CLASSES = 10
POSITIONS = 16  # 16ths in a 4/4 bar


@dataclass(frozen=True)
class Encoding:
    name: str
    version: int
    low: int  # lowest pitch encoded
    pitches: int  # number of consecutive pitches from ``low``
    has_struck: bool
    has_position: bool

    @property
    def high(self) -> int:
        return self.low + self.pitches - 1

    @property
    def input_size(self) -> int:
        return self.pitches * (2 if self.has_struck else 1) + COUNT_CLASSES + (POSITIONS if self.has_position else 0)

    @property
    def output_size(self) -> int:
        return self.pitches * (2 if self.has_struck else 1) + COUNT_CLASSES

    # Column layout, shared by inputs and outputs (outputs stop before the position block).
    @property
    def sound_slice(self) -> slice:
        return slice(0, self.pitches)

    @property
    def struck_slice(self) -> slice:
        if not self.has_struck:
            raise ValueError(f"the {self.name!r} encoding has no struck columns")
        return slice(self.pitches, 2 * self.pitches)

    @property
    def count_slice(self) -> slice:
        start = self.pitches * (2 if self.has_struck else 1)
        return slice(start, start + COUNT_CLASSES)

    @property
    def position_slice(self) -> slice:
        if not self.has_position:
            raise ValueError(f"the {self.name!r} encoding has no position columns")
        start = self.count_slice.stop
        return slice(start, start + POSITIONS)


SEED = Encoding("seed", 1, low=0, pitches=128, has_struck=False, has_position=False)
CONTINUO = Encoding("continuo", 1, low=21, pitches=88, has_struck=True, has_position=True)
ENCODINGS: dict[str, Encoding | TokenEncoding] = {e.name: e for e in (SEED, CONTINUO, TOKEN)}


def get_encoding(name: str) -> Encoding | TokenEncoding:
    try:
        return ENCODINGS[name]
    except KeyError:
        raise ValueError(f"unknown encoding {name!r}; known: {', '.join(ENCODINGS)}") from None


def encode_beat(
    encoding: Encoding, beat: Sequence[NoteEvent], position: int, out: np.ndarray | None = None
) -> np.ndarray:
    """One beat as an input vector (float32). ``position`` is the beat index in the piece."""
    vec = np.zeros(encoding.input_size, np.float32) if out is None else out
    if out is not None:
        vec[:] = 0.0
    count = 0
    for pitch, tie in beat:
        i = pitch - encoding.low
        if 0 <= i < encoding.pitches:
            vec[i] = 1.0
            if encoding.has_struck and tie == STRUCK:
                vec[encoding.pitches + i] = 1.0
            count += 1
    vec[encoding.count_slice.start + min(count, COUNT_CLASSES - 1)] = 1.0
    if encoding.has_position:
        vec[encoding.position_slice.start + position % POSITIONS] = 1.0
    return vec


def encode_notes(encoding: Encoding, notes: Sequence[Sequence[NoteEvent]], first_position: int = 0) -> np.ndarray:
    """A whole list_of_notes as a (beats, input_size) uint8 matrix (compact for datasets)."""
    matrix = np.zeros((len(notes), encoding.input_size), np.uint8)
    row = np.zeros(encoding.input_size, np.float32)
    for t, beat in enumerate(notes):
        matrix[t] = encode_beat(encoding, beat, first_position + t, out=row)
    return matrix


def encode_piece(encoding: Encoding, notes: Sequence[Sequence[NoteEvent]]) -> np.ndarray:
    """A piece as the model sees it in training: one empty lead-in beat, then its beats."""
    return encode_notes(encoding, [[], *notes], first_position=-1)


def decode_beat(encoding: Encoding, vec: np.ndarray, previous: set[int]) -> list[NoteEvent]:
    """An input-layout vector back to a beat (the inverse of :func:`encode_beat` in range).

    The seed encoding has no struck bits: a pitch that sounded on the previous beat is read
    as held, which is exactly the ambiguity the continuo encoding removes.
    """
    beat: list[NoteEvent] = []
    for i in np.flatnonzero(vec[encoding.sound_slice] > 0.5):
        pitch = int(i) + encoding.low
        if encoding.has_struck:
            tie = STRUCK if vec[encoding.pitches + i] > 0.5 or pitch not in previous else HELD
        else:
            tie = HELD if pitch in previous else STRUCK
        beat.append((pitch, tie))
    return beat

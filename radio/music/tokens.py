"""The ``token`` encoding: a list_of_notes as one token sequence, so a model chooses the notes of
a beat one after another, each given the ones before it (BachBot's serialisation, Liang 2016).

Each beat is a position token, then its notes from the highest pitch down, one token each:

    POS(t mod 16)  (p1, b|s)  (p2, b|s) ...  POS(t+1 mod 16)  ...

The next beat's position token closes a beat, so "end of beat" is the choice of that token
over another note. Vocabulary (193): 0 is padding, 1..16 the positions in a 4/4 bar (counted
from the piece's first beat), then two tokens per pitch 21..108: struck, then held.
Pitches outside 21..108 are dropped (after the C/Am transposition the corpus never leaves it).

Not every sequence is music, so the likelihood and the sampler both restrict each step to the
tokens that can follow (:class:`Grammar`): the one correct next position; notes strictly below
the last note of the beat (so each beat has exactly one spelling); held only for a pitch that
sounded on the beat before. The probability of a beat is then the exact product of its
tokens' renormalised probabilities, which is what ``nll_full`` per beat measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from radio.errors import NotesError
from radio.music.notes import HELD, STRUCK, Beat, ListOfNotes, NoteEvent

PAD = 0
POSITIONS = 16
FIRST_POSITION = 1  # token of position 0
FIRST_NOTE = FIRST_POSITION + POSITIONS  # 17: pitch LOW struck
LOW, PITCHES = 21, 88


@dataclass(frozen=True)
class TokenEncoding:
    name: str = "token"
    version: int = 1
    low: int = LOW
    pitches: int = PITCHES

    @property
    def high(self) -> int:
        return self.low + self.pitches - 1

    @property
    def vocab_size(self) -> int:
        return FIRST_NOTE + 2 * self.pitches

    # The frame encodings' names for the same sizes, so code that sizes arrays by
    # input/output works for both kinds.
    @property
    def input_size(self) -> int:
        return self.vocab_size

    @property
    def output_size(self) -> int:
        return self.vocab_size

    def position_token(self, beat_index: int) -> int:
        return FIRST_POSITION + beat_index % POSITIONS

    def note_token(self, pitch: int, tie: str) -> int:
        return FIRST_NOTE + 2 * (pitch - self.low) + (tie == HELD)

    def token_note(self, token: int) -> NoteEvent:
        i = token - FIRST_NOTE
        return (self.low + i // 2, HELD if i % 2 else STRUCK)

    def is_position(self, token: int) -> bool:
        return FIRST_POSITION <= token < FIRST_NOTE

    def describe(self, token: int) -> str:
        if token == PAD:
            return "PAD"
        if self.is_position(token):
            return f"POS{token - FIRST_POSITION}"
        pitch, tie = self.token_note(token)
        return f"{pitch}{tie}"


TOKEN = TokenEncoding()


def beat_tokens(enc: TokenEncoding, beat: Sequence[NoteEvent]) -> list[int]:
    """A beat's note tokens, highest pitch first; out-of-range pitches are dropped."""
    notes = sorted(((p, t) for p, t in beat if enc.low <= p <= enc.high), key=lambda e: -e[0])
    return [enc.note_token(p, t) for p, t in notes]


def encode_tokens(enc: TokenEncoding, notes: Sequence[Sequence[NoteEvent]], first_position: int = 0) -> np.ndarray:
    """A list_of_notes as tokens: every beat opened by its position token, and the last one
    closed by the position token after it (so its end is scored too). int16."""
    out: list[int] = []
    for t, beat in enumerate(notes):
        out.append(enc.position_token(first_position + t))
        out.extend(beat_tokens(enc, beat))
    out.append(enc.position_token(first_position + len(notes)))
    return np.asarray(out, np.int16)


def decode_tokens(enc: TokenEncoding, tokens: Sequence[int]) -> ListOfNotes:
    """The inverse of :func:`encode_tokens` (the closing position token ends the last beat);
    beats come back in the canonical ascending order.

    A sequence that ends inside a beat (notes after the last position token) raises
    :class:`NotesError`: until the next position token is chosen, "how many notes" is not
    decided, so that beat may be missing its lower notes. Neither dropping it nor keeping it
    would be what the tokens say."""
    tokens = [int(t) for t in tokens if int(t) != PAD]
    if not tokens or not enc.is_position(tokens[0]):
        raise NotesError("a token sequence must start with a position token")
    beats: ListOfNotes = []
    current: Beat | None = None
    for tok in tokens:
        if enc.is_position(tok):
            if current is not None:
                beats.append(current)
            current = []
        elif FIRST_NOTE <= tok < enc.vocab_size:
            assert current is not None
            current.append(enc.token_note(tok))
        else:
            raise NotesError(f"token {tok} is outside the vocabulary (0..{enc.vocab_size - 1})")
    if current:
        raise NotesError(
            f"the token sequence ends inside beat {len(beats)} ({len(current)} note(s) after the last position "
            "token): end it with the next position token, or cut it before that beat's position token"
        )
    # The last position token only closes the beat before it.
    return [sorted(beat) for beat in beats]


class Grammar:
    """Which tokens may come next, tracked as tokens are fed: the rules that make every
    allowed sequence a valid list_of_notes with one spelling per beat.

    ``allowed()`` returns a boolean mask over the vocabulary. Optional guard rails (used by
    the sampler, not by the likelihood): ``max_notes`` per beat, ``max_held`` beats a note
    may be held before it must be struck again, and ``force_note`` (no empty beat now).
    """

    def __init__(self, enc: TokenEncoding, position: int = 0) -> None:
        self.enc = enc
        self.position = position  # beat index of the beat being spelled
        self.previous: dict[int, int] = {}  # pitch sounding on the beat before -> beats held so far
        self.current: dict[int, int] = {}
        self.last_pitch = enc.high + 1  # notes must go strictly below this
        self._mask = np.zeros(enc.vocab_size, bool)

    def allowed(self, *, max_notes: int | None = None, max_held: int | None = None, force_note: bool = False) -> np.ndarray:
        enc, mask = self.enc, self._mask
        mask[:] = False
        full = max_notes is not None and len(self.current) >= max_notes
        if not (force_note and not self.current) or full or self.last_pitch <= enc.low:
            mask[enc.position_token(self.position + 1)] = True
        if not full and self.last_pitch > enc.low:
            below = self.last_pitch - enc.low  # pitches low .. last_pitch-1
            mask[FIRST_NOTE : FIRST_NOTE + 2 * below : 2] = True  # struck
            for pitch, held in self.previous.items():
                if pitch < self.last_pitch and (max_held is None or held < max_held):
                    mask[enc.note_token(pitch, HELD)] = True
        return mask

    def feed(self, token: int) -> bool:
        """Advance past ``token``; return True when it closed the beat."""
        enc = self.enc
        if enc.is_position(token):
            self.previous = self.current
            self.current = {}
            self.last_pitch = enc.high + 1
            self.position += 1
            return True
        pitch, tie = enc.token_note(token)
        self.current[pitch] = self.previous.get(pitch, 0) + 1 if tie == HELD else 1
        self.last_pitch = pitch
        return False

    def beat(self) -> Beat:
        """The beat spelled so far, in the canonical (ascending) order."""
        return [(p, HELD if n > 1 else STRUCK) for p, n in sorted(self.current.items())]

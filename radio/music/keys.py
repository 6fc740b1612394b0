"""Keys: parsing mido's key names, estimating a key from the notes, shifting to C / Am.

Estimation is Krumhansl–Schmuckler: correlate the piece's duration-weighted
pitch-class distribution with a major and a minor key profile rotated to each of the
12 tonics, and take the best of the 24. The profiles are Temperley's (Kostka–Payne
corpus, 2007). Ties between a key and its relative are common for short tunes, so the
pitch class of the final bass note adds a small bonus to the keys whose tonic it is:
pieces overwhelmingly end on their tonic. Against the key signatures of the 861 corpus
files this agrees exactly with 74% (84% counting the relative key); the original
Krumhansl–Kessler probe-tone profiles with the same bonus reach 71% (79%).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from radio.music.notes import NoteEvent, pitch_class_histogram

MAJOR, MINOR = "major", "minor"
_PC_BY_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Spellings with the fewest accidentals in each mode's key signature.
_MAJOR_NAMES = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_MINOR_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]
_MIDO_KEY = re.compile(r"^([A-G])([#b]?)(m?)$")
_KEY_NAME = re.compile(r"^([A-G])([#b]?)\s+(major|minor)$", re.IGNORECASE)

_MAJOR_PROFILE = np.array([5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0])
_MINOR_PROFILE = np.array([5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0])
FINAL_NOTE_BONUS = 0.1  # added to a correlation in -1..1


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11, C = 0
    mode: str  # 'major' | 'minor'

    def __post_init__(self) -> None:
        if self.mode not in (MAJOR, MINOR) or not (isinstance(self.tonic, int) and 0 <= self.tonic <= 11):
            raise ValueError(f"Key needs a tonic 0..11 and mode 'major'|'minor', got {self.tonic!r}, {self.mode!r}")

    @property
    def name(self) -> str:
        """'D minor', 'F# major', 'Bb major'."""
        names = _MAJOR_NAMES if self.mode == MAJOR else _MINOR_NAMES
        return f"{names[self.tonic]} {self.mode}"

    @property
    def relative(self) -> Key:
        """The major or minor key with the same key signature (C major ⇄ A minor)."""
        if self.mode == MAJOR:
            return Key((self.tonic + 9) % 12, MINOR)
        return Key((self.tonic + 3) % 12, MAJOR)

    def __str__(self) -> str:
        return self.name


def _tonic(letter: str, accidental: str) -> int:
    return (_PC_BY_LETTER[letter] + {"": 0, "#": 1, "b": -1}[accidental]) % 12


def parse_mido_key(text: str) -> Key:
    """'Am' -> A minor, 'Bb' -> Bb major, 'F#m' -> F# minor, 'Cb' -> B major; ValueError on junk."""
    match = _MIDO_KEY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a mido key name: {text!r} (expected e.g. 'C', 'F#', 'Bb', 'Am', 'Ebm')")
    letter, accidental, minor = match.groups()
    return Key(_tonic(letter, accidental), MINOR if minor else MAJOR)


def parse_key_name(text: str) -> Key:
    """Parse either :attr:`Key.name` ('D minor') or a mido key ('Dm'); ValueError on junk."""
    match = _KEY_NAME.match(text.strip()) if isinstance(text, str) else None
    if match:
        letter, accidental, mode = match.groups()
        return Key(_tonic(letter, accidental), mode.lower())
    return parse_mido_key(text)


def key_scores(notes: Sequence[Sequence[NoteEvent]]) -> dict[Key, float]:
    """Score of each of the 24 keys: profile correlation (+ the final-bass-note bonus)."""
    hist = np.array(pitch_class_histogram(notes, weight_by_duration=True))
    scores: dict[Key, float] = {}
    if np.all(hist == hist[0]):  # silence or all twelve equally: no correlation is defined
        return {Key(t, m): 0.0 for m in (MAJOR, MINOR) for t in range(12)}
    final = _final_bass_pitch_class(notes)
    for mode, profile in ((MAJOR, _MAJOR_PROFILE), (MINOR, _MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            scores[Key(tonic, mode)] = r + (FINAL_NOTE_BONUS if tonic == final else 0.0)
    return scores


def estimate_key(notes: Sequence[Sequence[NoteEvent]]) -> Key:
    """The best-scoring key (C major for a piece without notes); ties go to major, lower tonic."""
    scores = key_scores(notes)
    return max(scores, key=lambda k: (scores[k], k.mode == MAJOR, -k.tonic))


def shift_to_c(key: Key) -> int:
    """Smallest semitone shift (-6..+5) taking ``key`` to C major or A minor."""
    target = 0 if key.mode == MAJOR else 9
    shift = (target - key.tonic) % 12
    return shift - 12 if shift > 5 else shift


def key_after_shift(key: Key, semitones: int) -> Key:
    """The key a piece is in after transposing it by ``semitones``."""
    return Key((key.tonic + semitones) % 12, key.mode)


def _final_bass_pitch_class(notes: Sequence[Sequence[NoteEvent]]) -> int | None:
    """Pitch class of the lowest note struck on the last beat that strikes anything."""
    for beat in reversed(notes):
        struck = [p for p, tie in beat if tie == "b"]
        if struck:
            return min(struck) % 12
    return None

"""Key names, estimation and the shift to C major / A minor."""

from __future__ import annotations

import mido
import pytest
from mido.midifiles.meta import _key_signature_decode

from radio.music.keys import (Key, estimate_key, key_after_shift, parse_key_name, parse_mido_key,
                              shift_to_c)
from radio.music.midi_io import read_midi
from radio.music.notes import Span, from_spans, transpose

ALL_MIDO_KEYS = sorted(_key_signature_decode.items())  # ((sharps, is_minor), name), 30 names
C_MAJOR, A_MINOR = Key(0, "major"), Key(9, "minor")


def test_every_mido_key_string_covers_both_modes():
    assert len(ALL_MIDO_KEYS) == 30
    assert {"Am", "C", "Cb", "C#", "Abm", "A#m", "F#m", "Bb"} <= {name for _, name in ALL_MIDO_KEYS}


@pytest.mark.parametrize("accidentals,name", ALL_MIDO_KEYS, ids=[n for _, n in ALL_MIDO_KEYS])
def test_parse_every_mido_key_string(accidentals, name):
    sharps, minor = accidentals
    major_tonic = (7 * sharps) % 12  # each sharp moves the major tonic up a fifth
    expected = Key((major_tonic + 9) % 12, "minor") if minor else Key(major_tonic, "major")
    assert parse_mido_key(name) == expected


@pytest.mark.parametrize("name", [n for _, n in ALL_MIDO_KEYS])
def test_key_signature_from_a_file_is_read_with_its_mode(kit, name):
    events = [(0, mido.MetaMessage("key_signature", key=name)), (0, kit.on(60)), (480, kit.off(60))]
    assert read_midi(kit.build([events])).key_signature == name


@pytest.mark.parametrize("text,tonic,mode", [
    ("Am", 9, "minor"), ("A", 9, "major"), ("Bb", 10, "major"), ("F#m", 6, "minor"), ("Cb", 11, "major"),
    ("Abm", 8, "minor"), ("A#m", 10, "minor"), ("C#", 1, "major"), ("Ebm", 3, "minor"), ("E#", 5, "major"),
])
def test_parse_examples(text, tonic, mode):
    assert parse_mido_key(text) == Key(tonic, mode)


@pytest.mark.parametrize("junk", ["", "H", "am", "Amm", "C##", "A minor", "Bbb", "m", "C m", None, 3])
def test_parse_rejects_junk_with_value_error(junk):
    with pytest.raises(ValueError):
        parse_mido_key(junk)


def test_names_round_trip_for_all_24_keys():
    keys = [Key(t, m) for t in range(12) for m in ("major", "minor")]
    assert len({k.name for k in keys}) == 24
    for key in keys:
        assert parse_key_name(key.name) == key
    assert Key(2, "minor").name == "D minor" and Key(6, "major").name == "F# major"
    assert Key(10, "major").name == "Bb major" and Key(8, "minor").name == "G# minor"
    assert parse_key_name("Dm") == Key(2, "minor") and parse_key_name("Eb MINOR") == Key(3, "minor")


def test_key_rejects_bad_fields():
    with pytest.raises(ValueError):
        Key(12, "major")
    with pytest.raises(ValueError):
        Key(0, "dorian")


def test_relative_keys():
    assert C_MAJOR.relative == A_MINOR and A_MINOR.relative == C_MAJOR
    assert Key(7, "major").relative == Key(4, "minor")


@pytest.mark.parametrize("tonic", range(12))
@pytest.mark.parametrize("mode", ["major", "minor"])
def test_shift_to_c_is_smallest_and_lands_on_c_or_am(tonic, mode):
    key = Key(tonic, mode)
    shift = shift_to_c(key)
    assert -6 <= shift <= 5
    assert key_after_shift(key, shift) == (C_MAJOR if mode == "major" else A_MINOR)
    assert shift_to_c(key) == shift_to_c(key.relative)  # relative keys share a transposition


def test_shift_examples():
    assert shift_to_c(Key(7, "major")) == 5      # G -> C up a fourth
    assert shift_to_c(Key(5, "major")) == -5     # F -> C down a fourth
    assert shift_to_c(Key(6, "major")) == -6     # F# -> C: the tritone goes down
    assert shift_to_c(Key(2, "minor")) == -5     # Dm -> Am
    assert shift_to_c(Key(4, "minor")) == 5      # Em -> Am


def _tune(degrees: list[int], tonic_pitch: int, lengths: list[int] | None = None) -> list:
    """A melody over a drone-free bass: scale steps as semitones above ``tonic_pitch``."""
    spans, t = [], 0
    for i, d in enumerate(degrees):
        length = lengths[i % len(lengths)] if lengths else 2
        spans.append(Span(tonic_pitch + d, t, length))
        t += length
    return from_spans(spans)


MAJOR_TUNE = [0, 4, 7, 4, 5, 2, 11, 2, 0, 4, 5, 7, 9, 7, 5, 4, 2, 7, 11, 12, 7, 4, 2, 0]
MINOR_TUNE = [0, 3, 7, 3, 5, 2, 11, 2, 0, 3, 5, 7, 8, 7, 5, 3, 2, 7, 11, 12, 7, 3, 2, 0]


def test_estimate_major_and_minor_tunes():
    assert estimate_key(_tune(MAJOR_TUNE, 60)) == C_MAJOR
    assert estimate_key(_tune(MINOR_TUNE, 57)) == A_MINOR


@pytest.mark.parametrize("shift", range(-6, 6))
def test_estimate_is_transposition_invariant(shift):
    for tune, base in ((MAJOR_TUNE, C_MAJOR), (MINOR_TUNE, Key(0, "minor"))):
        notes = _tune(tune, 60, lengths=[2, 1, 1, 4])
        assert estimate_key(transpose(notes, shift)) == key_after_shift(base, shift)


def test_estimate_of_silence_is_c_major():
    assert estimate_key([[], []]) == C_MAJOR

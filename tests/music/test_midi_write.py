"""list_of_notes → MIDI → list_of_notes gives back exactly the same notes."""

from __future__ import annotations

import mido
import io
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radio.music.midi_io import read_midi, write_midi
from radio.music.notes import NotesError, Span, from_spans, normalize


@st.composite
def list_of_notes(draw) -> list:
    spans = draw(st.lists(st.builds(Span, st.integers(0, 127), st.integers(0, 80), st.integers(1, 12)),
                          min_size=1, max_size=60))
    silence = draw(st.integers(0, 5))
    return from_spans(spans, max(s.end for s in spans) + silence)


@settings(max_examples=120, deadline=None)
@given(notes=list_of_notes(), bpm=st.floats(30, 300))
def test_round_trip_is_exact(notes, bpm):
    parsed = read_midi(write_midi(notes, bpm))
    assert parsed.notes == notes
    # tempo is stored as whole µs per quarter and read back to 3 decimals
    assert parsed.tempo_bpm == pytest.approx(bpm, rel=1e-5, abs=1e-3)


def test_round_trip_of_corpus_pieces(parsed_corpus):
    for path, piece in list(parsed_corpus.pieces.items())[::40]:
        assert read_midi(write_midi(piece.notes, piece.tempo_bpm)).notes == piece.notes, path


def test_restrikes_and_trailing_silence_survive():
    notes = normalize([[(60, "b"), (64, "b")], [(60, "b"), (64, "s")], [(60, "s")], [], []])
    assert read_midi(write_midi(notes)).notes == notes


def test_written_file_is_type1_with_program_and_velocity():
    data = write_midi([[(60, "b")], [(60, "s")]], 96.0, program=40, velocity=99)
    midi = mido.MidiFile(file=io.BytesIO(data))
    assert midi.type == 1 and len(midi.tracks) == 2
    msgs = [m for m in midi.tracks[1] if not m.is_meta]
    assert msgs[0].type == "program_change" and msgs[0].program == 40
    assert [(m.type, m.note, m.velocity) for m in msgs[1:]] == [("note_on", 60, 99), ("note_off", 60, 0)]
    tempo = next(m for m in midi.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo.tempo) == pytest.approx(96.0)


def test_write_rejects_invalid_notes_and_settings():
    with pytest.raises(NotesError):
        write_midi([[(60, "s")]])
    with pytest.raises(ValueError):
        write_midi([[(60, "b")]], bpm=0)
    with pytest.raises(ValueError):
        write_midi([[(60, "b")]], velocity=0)

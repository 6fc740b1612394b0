"""The token encoding: list_of_notes ⇄ tokens, and the grammar that keeps sequences music."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radio.errors import NotesError
from radio.music.encoding import get_encoding
from radio.music.notes import Span, from_spans, normalize, validate
from radio.music.tokens import FIRST_NOTE, PAD, TOKEN, Grammar, decode_tokens, encode_tokens


@st.composite
def list_of_notes(draw, low: int = 21, high: int = 108) -> list:
    spans = draw(st.lists(st.builds(Span, st.integers(low, high), st.integers(0, 80), st.integers(1, 12)), max_size=60))
    silence = draw(st.integers(0, 5))
    return from_spans(spans, max((s.end for s in spans), default=0) + silence)


def test_vocabulary_layout():
    assert TOKEN.vocab_size == 1 + 16 + 2 * 88 == 193 and get_encoding("token") is TOKEN
    assert TOKEN.position_token(0) == 1 and TOKEN.position_token(17) == 2
    assert TOKEN.note_token(21, "b") == FIRST_NOTE and TOKEN.note_token(21, "s") == FIRST_NOTE + 1
    assert TOKEN.note_token(108, "s") == TOKEN.vocab_size - 1
    assert TOKEN.token_note(TOKEN.note_token(60, "s")) == (60, "s")


def test_a_beat_is_its_position_then_its_notes_from_the_top_down():
    notes = [[(48, "b"), (60, "b"), (64, "b")], [(48, "s"), (62, "b")], []]
    tokens = [TOKEN.describe(t) for t in encode_tokens(TOKEN, notes)]
    assert tokens == ["POS0", "64b", "60b", "48b", "POS1", "62b", "48s", "POS2", "POS3"]


@settings(max_examples=150, deadline=None)
@given(notes=list_of_notes())
def test_round_trip_is_exact(notes):
    tokens = encode_tokens(TOKEN, notes)
    assert decode_tokens(TOKEN, tokens) == normalize(notes)
    assert tokens.dtype == np.int16 and PAD not in tokens


@settings(max_examples=60, deadline=None)
@given(notes=list_of_notes(low=0, high=127))
def test_out_of_range_pitches_are_dropped_and_the_rest_kept(notes):
    kept = [[(p, t) for p, t in beat if 21 <= p <= 108] for beat in notes]
    # Dropping a note can orphan nothing: a held note's earlier beat has the same pitch.
    assert decode_tokens(TOKEN, encode_tokens(TOKEN, notes)) == normalize(kept)


@settings(max_examples=100, deadline=None)
@given(notes=list_of_notes())
def test_every_token_of_real_music_is_allowed_by_the_grammar(notes):
    tokens = encode_tokens(TOKEN, notes)
    grammar = Grammar(TOKEN, 0)
    closed = 0
    for tok in tokens[1:]:
        assert grammar.allowed()[tok], TOKEN.describe(int(tok))
        closed += grammar.feed(int(tok))
    assert closed == len(notes)


def test_the_grammar_rules():
    g = Grammar(TOKEN, 0)
    mask = g.allowed()
    positions = [t for t in np.flatnonzero(mask) if TOKEN.is_position(t)]
    assert positions == [TOKEN.position_token(1)]  # only the next position closes a beat
    assert not any(mask[TOKEN.note_token(p, "s")] for p in range(21, 109))  # nothing to hold yet
    g.feed(TOKEN.note_token(60, "b"))
    mask = g.allowed()
    assert not mask[TOKEN.note_token(60, "b")] and not mask[TOKEN.note_token(61, "b")] and mask[TOKEN.note_token(59, "b")]
    g.feed(TOKEN.position_token(1))
    mask = g.allowed()
    assert mask[TOKEN.note_token(60, "s")] and not mask[TOKEN.note_token(59, "s")]
    # guard rails: max_held, max_notes, force_note
    assert not g.allowed(max_held=1)[TOKEN.note_token(60, "s")]
    assert not g.allowed(force_note=True)[TOKEN.position_token(2)]
    g.feed(TOKEN.note_token(70, "b"))
    only = np.flatnonzero(g.allowed(max_notes=1))
    assert list(only) == [TOKEN.position_token(2)]
    # After the lowest pitch nothing lower exists, so the beat must close.
    g2 = Grammar(TOKEN, 5)
    g2.feed(TOKEN.note_token(21, "b"))
    assert list(np.flatnonzero(g2.allowed(force_note=True))) == [TOKEN.position_token(6)]


def test_decoding_rejects_what_is_not_a_token_sequence():
    with pytest.raises(NotesError):
        decode_tokens(TOKEN, [TOKEN.note_token(60, "b")])
    with pytest.raises(NotesError):
        decode_tokens(TOKEN, [TOKEN.position_token(0), 999])
    validate(decode_tokens(TOKEN, [TOKEN.position_token(0), TOKEN.note_token(60, "b"), TOKEN.position_token(1)]))

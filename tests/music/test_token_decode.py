"""decode_tokens at the end of a sequence: a beat is closed by the next position token, so a
sequence that stops inside a beat is refused, never shortened by one beat without a word."""

from __future__ import annotations

import pytest

from radio.errors import NotesError
from radio.music.tokens import PAD, TOKEN, decode_tokens, encode_tokens

NOTES = [[(67, "b"), (60, "b")], [(67, "s"), (60, "s")], [(64, "b")]]


def test_a_closed_sequence_decodes_to_every_beat():
    tokens = list(encode_tokens(TOKEN, NOTES))
    assert decode_tokens(TOKEN, tokens) == [sorted(b) for b in NOTES]
    assert decode_tokens(TOKEN, tokens + [PAD, PAD]) == [sorted(b) for b in NOTES]  # padding is not a beat


def test_a_final_beat_without_its_closing_position_token_raises():
    tokens = list(encode_tokens(TOKEN, NOTES))[:-1]  # the last beat's notes, then nothing
    with pytest.raises(NotesError, match="ends inside beat 2"):
        decode_tokens(TOKEN, tokens)
    # Cut before that beat's position token instead, and the beats before it are all there.
    assert decode_tokens(TOKEN, tokens[: tokens.index(TOKEN.position_token(2)) + 1]) == [sorted(b) for b in NOTES[:2]]

"""The seed and continuo encodings, and the trainer's data split and windows (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from radio.music.encoding import CONTINUO, SEED, decode_beat, encode_beat, encode_piece, get_encoding
from trainer.dataset import Piece, TrainingDataError, build_windows, split_by_piece, window_starts


def test_layouts():
    assert SEED.input_size == 138 and SEED.output_size == 138
    assert CONTINUO.input_size == 88 * 2 + 10 + 16 and CONTINUO.output_size == 186
    assert (CONTINUO.low, CONTINUO.high) == (21, 108)
    with pytest.raises(ValueError):
        get_encoding("midi-like")


def test_continuo_keeps_struck_and_held_and_position():
    beat = [(21, "b"), (60, "s"), (108, "b")]
    vec = encode_beat(CONTINUO, beat, position=19)
    assert vec[CONTINUO.sound_slice].sum() == 3 and vec[CONTINUO.struck_slice].sum() == 2
    assert vec[CONTINUO.count_slice][3] == 1 and vec[CONTINUO.position_slice][3] == 1
    assert decode_beat(CONTINUO, vec, previous={60}) == beat
    # out of range pitches are dropped (and not counted)
    vec = encode_beat(CONTINUO, [(20, "b"), (109, "b"), (60, "b")], 0)
    assert decode_beat(CONTINUO, vec, set()) == [(60, "b")] and vec[CONTINUO.count_slice][1] == 1


def test_seed_cannot_tell_a_restrike_from_a_hold():
    vec = encode_beat(SEED, [(0, "b"), (60, "b"), (127, "b")] + [(p, "b") for p in range(70, 80)], 0)
    assert vec[:128].sum() == 13 and vec[128 + 9] == 1  # the count saturates at "9 or more"
    assert decode_beat(SEED, encode_beat(SEED, [(60, "b")], 0), previous={60}) == [(60, "s")]


def test_encode_piece_starts_with_an_empty_beat_before_the_downbeat():
    m = encode_piece(CONTINUO, [[(60, "b")], [(60, "s")]])
    assert m.dtype == np.uint8 and m.shape == (3, CONTINUO.input_size)
    assert m[0, CONTINUO.count_slice][0] == 1 and m[0, CONTINUO.position_slice][15] == 1
    assert m[1, CONTINUO.position_slice][0] == 1 and m[2, CONTINUO.struck_slice].sum() == 0


def pieces(n: int, beats: int = 200) -> list[Piece]:
    return [Piece(f"{i:016x}", "0" * 64, "", "", "", [[(60, "b")]] * beats) for i in range(n)]


def test_split_is_by_piece_deterministic_and_seeded():
    items = pieces(50)
    train, val = split_by_piece(items, 0.1, seed=0)
    assert len(val) == 5 and len(train) == 45 and not {p.id for p in train} & {p.id for p in val}
    again_train, again_val = split_by_piece(list(reversed(items)), 0.1, seed=0)
    assert [p.id for p in again_val] == [p.id for p in val]
    assert [p.id for p in split_by_piece(items, 0.1, seed=1)[1]] != [p.id for p in val]
    assert len(split_by_piece(pieces(2), 0.1, 0)[1]) == 1
    with pytest.raises(TrainingDataError):
        split_by_piece(pieces(1), 0.1, 0)


@pytest.mark.parametrize("length", [129, 130, 200, 257, 1000])
def test_windows_cover_every_target(length):
    starts = window_starts(length, 128, 64)
    covered = set()
    for s in starts:
        assert s + 129 <= length
        covered.update(range(s + 1, s + 129))
    assert covered == set(range(1, length))


def test_short_pieces_are_padded_with_maskable_rows():
    corpus = build_windows(pieces(1, beats=40) + pieces(1, beats=300), CONTINUO, 128, 64)
    assert corpus.starts[0] == 0 and corpus.rows.shape[0] == 129 + 301
    padding = corpus.rows[41:129]
    assert not padding.any()  # no count bit: weighs nothing in the loss

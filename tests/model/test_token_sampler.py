"""The token sampler: valid beats, the guard rails, and that it draws exactly the distribution
the held-out likelihood scores (random token models; no TensorFlow)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from radio.model import load_model
from radio.music.notes import HELD, to_spans, validate
from radio.music.tokens import FIRST_NOTE, TOKEN
from trainer.metrics import token_scores

from .test_sampler import silent_runs


@pytest.mark.parametrize("temperature,top_p", [(0.3, 1.0), (1.0, 1.0), (1.0, 0.8), (2.0, 0.95)])
def test_invariants_hold_across_many_calls(token_model_file, temperature, top_p):
    model = load_model(token_model_file)
    sampler = model.sampler(temperature=temperature, top_p=top_p, seed=7, max_note_beats=12, max_silence_beats=6, max_notes=5)
    beats = []
    for n in [1, 5, 17, 64, 200, 3, 300]:  # 590 beats: several refreshes of the LSTM state
        chunk = sampler.next_beats(n)
        assert len(chunk) == n
        beats += chunk
    validate(beats)  # 's' only continues the previous beat, no pitch twice in a beat
    assert max(s.length for s in to_spans(beats)) <= 12
    assert max(silent_runs(beats), default=0) <= 6
    assert max(len(b) for b in beats) <= 5
    assert all(21 <= p <= 108 for b in beats for p, _ in b)
    assert all(b == sorted(b) for b in beats)  # canonical order


def biased(model, *, positions: float = 0.0, notes: dict[int, float] | None = None, held: float = -30.0):
    """Make a model's next-token choice depend on the head bias alone."""
    bias = model.network.head_bias
    model.network.head_kernel[:] = 0.0
    bias[:] = -60.0
    bias[1:FIRST_NOTE] = positions
    for pitch, value in (notes or {}).items():
        bias[TOKEN.note_token(pitch, "b")] = value
        bias[TOKEN.note_token(pitch, "s")] = held
    return model


def test_silence_is_recovered_even_when_the_model_wants_silence(token_model_file):
    model = biased(load_model(token_model_file), positions=20.0, notes={60: -5.0, 64: -5.0})
    beats = model.sampler(seed=1, max_silence_beats=8).next_beats(400)
    validate(beats)
    assert max(silent_runs(beats)) <= 8
    assert sum(1 for b in beats if b) >= 400 // 9


def test_long_notes_are_cut_at_the_maximum(token_model_file):
    model = biased(load_model(token_model_file), positions=-30.0, notes={60: 0.0}, held=30.0)
    beats = model.sampler(seed=3, max_note_beats=10).next_beats(95)
    validate(beats)
    spans = to_spans(beats)
    assert {s.pitch for s in spans} == {60}
    assert [s.length for s in spans] == [10] * 9 + [5]


def test_the_notes_per_beat_cap_holds_when_the_model_wants_a_cluster(token_model_file):
    model = biased(load_model(token_model_file), positions=-20.0, notes={p: 5.0 for p in range(40, 90)})
    uncapped = model.sampler(seed=2, max_notes=10).next_beats(100)
    assert max(len(b) for b in uncapped) > 4
    beats = model.sampler(seed=2, max_notes=4).next_beats(100)
    validate(beats)
    assert max(len(b) for b in beats) == 4


def test_sampling_is_not_argmax_and_a_seed_reproduces(token_model_file):
    model = load_model(token_model_file)
    a = model.sampler(seed=1).next_beats(64)
    assert a != model.sampler(seed=2).next_beats(64)
    assert model.sampler(seed=1).next_beats(64) == a


def test_primer_warms_the_state_and_first_beat_is_struck(token_model_file):
    model = load_model(token_model_file)
    primer = [[(60, "b"), (64, "b")], [(60, "s"), (64, "s")]] * 40
    beats = model.sampler(seed=5, primer=primer).next_beats(50)
    validate(beats)
    assert all(tie != HELD for _, tie in beats[0])
    assert beats != model.sampler(seed=5).next_beats(50)


def test_bad_settings_are_refused(token_model_file):
    model = load_model(token_model_file)
    for kwargs in ({"temperature": 0}, {"top_p": 0}, {"top_p": 1.5}, {"max_notes": 0}, {"primer": [[(60, "s")]]}):
        with pytest.raises(ValueError):
            model.sampler(**kwargs)


def test_the_sampler_draws_the_distribution_the_likelihood_scores(token_model_file):
    """Empirical frequencies of first beats match exp(-NLL) of the same beats."""
    model = load_model(token_model_file)
    # A peaked model, so a few beats carry most of the mass and a few thousand draws suffice.
    model.network.head_kernel *= 0.2
    bias = model.network.head_bias
    bias[:] = -6.0
    bias[1:FIRST_NOTE] = 1.0
    for pitch in (60, 64, 67):
        bias[TOKEN.note_token(pitch, "b")] = 0.5
    n = 3000
    seen = Counter(tuple(model.sampler(seed=s).next_beats(1)[0]) for s in range(n))
    for beat, count in seen.most_common(4):
        p = np.exp(-token_scores(model, [[list(beat)]])["nll_full"])
        assert abs(count / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3, (beat, count / n, p)


def test_held_out_likelihood_is_exact_and_finite(token_model_file):
    model = load_model(token_model_file)
    pieces = [model.sampler(seed=s).next_beats(150) for s in range(3)]
    scores = token_scores(model, pieces)
    assert scores["grammar_violations"] == 0
    assert np.isfinite(scores["nll_full"]) and scores["nll_full"] > 0
    assert scores["nll_full"] == pytest.approx(scores["nll_per_token"] * scores["tokens_per_beat"])
    # A piece scored alone or beside others scores the same (windows never mix pieces): the
    # pieces scored together total exactly what each scores alone.
    alone = [token_scores(model, [piece]) for piece in pieces]
    assert len({round(a["nll_full"], 6) for a in alone}) == len(pieces)  # three different pieces
    together = sum(a["nll_full"] * len(piece) for a, piece in zip(alone, pieces)) / sum(map(len, pieces))
    assert scores["nll_full"] == pytest.approx(together, rel=1e-9)


def test_a_model_gone_nan_raises_instead_of_playing_garbage(token_model_file):
    model = load_model(token_model_file)
    model.network.head_bias[:] = np.nan
    with pytest.raises(FloatingPointError, match="non-finite"):
        model.sampler(seed=1).next_beats(4)

"""Blends of style models: a weighted product of their next-step distributions."""

from __future__ import annotations

import numpy as np
import pytest

from radio.model import load_model
from radio.model.blend import BlendedModel, blend_models
from radio.music.notes import validate

from .conftest import write_random_model


@pytest.fixture
def two_token_models(tmp_path):
    return (
        load_model(write_random_model(tmp_path / "a.npz", "token", seed=1)),
        load_model(write_random_model(tmp_path / "b.npz", "token", seed=2, hidden=24)),
    )


def test_logits_are_the_weighted_sum_of_the_parents(two_token_models):
    a, b = two_token_models
    blend = blend_models([a, b], [3, 1])
    assert isinstance(blend, BlendedModel) and blend.weights == [0.75, 0.25]
    tokens = np.random.default_rng(0).integers(1, 193, 80)
    expected = 0.75 * a.network.run(tokens) + 0.25 * b.network.run(tokens)
    np.testing.assert_allclose(blend.network.run(tokens), expected, rtol=1e-5, atol=1e-5)
    state = blend.network.initial_state()
    stepped = np.stack([blend.network.step(int(t), state) for t in tokens])
    np.testing.assert_allclose(stepped, expected, rtol=1e-5, atol=1e-5)


def test_a_blend_with_one_weight_is_that_model(two_token_models):
    a, b = two_token_models
    assert blend_models([a, b], [1.0, 0.0]) is a
    solo = blend_models([a, b], [0.0, 0.4])
    assert solo.sampler(seed=4).next_beats(100) == b.sampler(seed=4).next_beats(100)


def test_a_blend_samples_valid_music_with_the_guard_rails(two_token_models):
    blend = blend_models(two_token_models, [0.5, 0.5])
    beats = blend.sampler(seed=3, temperature=0.9, max_notes=6).next_beats(600)
    validate(beats)
    assert max(len(b) for b in beats) <= 6
    assert beats != two_token_models[0].sampler(seed=3, temperature=0.9, max_notes=6).next_beats(600)
    assert "blend(" in blend.version and blend.header["blend"][0]["weight"] == 0.5


def test_bad_blends_are_refused_with_the_reason(two_token_models, continuo_model_file):
    a, b = two_token_models
    with pytest.raises(ValueError, match="share an encoding"):
        blend_models([a, load_model(continuo_model_file)], [0.5, 0.5])
    for weights in ([0.5], [0, 0], [-1, 2], [float("nan"), 1]):
        with pytest.raises(ValueError):
            blend_models([a, b], weights)

"""What a blend plays, with the bundled models: one weight at 1.0 is that style exactly,
and a 50/50 blend sits between its parents on simple style features (notes per beat,
note length, register). Runs once radio/model/blend.py (the lead's) is on the branch."""

from __future__ import annotations

import numpy as np
import pytest

from radio.model import load_model
from radio.music.notes import STRUCK
from radio.styles import discover_styles

blend = pytest.importorskip("radio.model.blend", reason="radio/model/blend.py is not on this branch yet")

PARENTS = ("baroque", "folk")
BEATS = 768
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def parents():
    styles = discover_styles()
    if not all(name in styles for name in PARENTS):
        pytest.skip(f"needs the bundled styles {PARENTS}")
    return {name: (styles[name], load_model(styles[name].model_path)) for name in PARENTS}


def features(beats) -> dict[str, float]:
    sounding = [beat for beat in beats if beat]
    pitches = np.array([p for beat in sounding for p, _ in beat])
    strikes = sum(1 for beat in beats for _, tie in beat if tie == STRUCK)
    return {
        "polyphony": float(np.mean([len(beat) for beat in sounding])),
        "note_beats": sum(len(beat) for beat in beats) / max(1, strikes),  # sounding beats per struck note
        "pitch": float(np.mean(pitches)),
    }


def sample(model, temperature: float) -> list:
    beats = []
    for seed in SEEDS:
        beats += model.sampler(temperature=temperature, seed=seed).next_beats(BEATS)
    return beats


def test_one_weight_at_1_is_that_style_exactly(parents):
    (a_style, a), (_, b) = parents["baroque"], parents["folk"]
    mixed = blend.blend_models([a, b], [1.0, 0.0])
    assert mixed.encoding.name == a.encoding.name
    for seed in SEEDS:
        alone = a.sampler(temperature=a_style.temperature, seed=seed).next_beats(256)
        blended = mixed.sampler(temperature=a_style.temperature, seed=seed).next_beats(256)
        assert blended == alone


def test_a_50_50_blend_sits_between_its_parents(parents):
    (a_style, a), (b_style, b) = parents["baroque"], parents["folk"]
    temperature = (a_style.temperature + b_style.temperature) / 2
    fa, fb = features(sample(a, temperature)), features(sample(b, temperature))
    fm = features(sample(blend.blend_models([a, b], [0.5, 0.5]), temperature))
    between = []
    for name in fa:
        lo, hi = sorted((fa[name], fb[name]))
        margin = 0.15 * (hi - lo)
        between.append(lo - margin <= fm[name] <= hi + margin)
    assert all(between), {"baroque": fa, "blend": fm, "folk": fb}

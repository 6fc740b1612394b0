"""Blends of style models: a weighted product of their next-step distributions, or (for
fine-tunes of one base) one network of their averaged weights."""

from __future__ import annotations

import numpy as np
import pytest

from radio.model import load_model
from radio.model.blend import BlendedModel, auto_rule, blend_models, interpolate_models, shared_base, siblings
from radio.model.model import StyleModel
from radio.model.modelfile import write_model_file
from radio.music.encoding import get_encoding
from radio.music.notes import validate

from tests.support.model_files import random_arrays, write_random_model


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
    assert blend_models([a, b], [0.0, 0.4]) is b  # not a blend of one: b itself, unchanged
    assert blend_models([a, b], [0.0, 0.4], rule="product") is b
    # And it plays as b does, not as a (or a half of each) would.
    assert b.sampler(seed=4).next_beats(100) != a.sampler(seed=4).next_beats(100)


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


# --- the weights rule: one network of the parents' averaged weights, for siblings -------------

def write_token_model(path, *, style, seed, hidden=32, base=None, **header):
    """A small token model file; ``base``: the version it was fine-tuned from."""
    encoding = get_encoding("token")
    header = {"encoding": encoding.name, "encoding_version": encoding.version, "style": style, **header}
    if base is not None:
        header["fine_tuned_from"] = {"version": base, "style": "base", "path": "styles/base/model.npz"}
    write_model_file(path, random_arrays(encoding, hidden=hidden, seed=seed), header)
    return load_model(path)


@pytest.fixture
def family(tmp_path):
    """A base, two fine-tunes of it, and models that are not their siblings."""
    base = write_token_model(tmp_path / "base.npz", style="base", seed=10)
    other_base = write_token_model(tmp_path / "base2.npz", style="base", seed=11)
    return {
        "base": base,
        "baroque": write_token_model(tmp_path / "baroque.npz", style="baroque", seed=12, base=base.version),
        "folk": write_token_model(tmp_path / "folk.npz", style="folk", seed=13, base=base.version),
        "cousin": write_token_model(tmp_path / "cousin.npz", style="cousin", seed=14, base=other_base.version),
        "scratch": write_token_model(tmp_path / "scratch.npz", style="scratch", seed=15),
        "narrow": write_token_model(tmp_path / "narrow.npz", style="narrow", seed=16, hidden=24, base=base.version),
    }


TOKENS = np.random.default_rng(7).integers(1, 193, 60)


@pytest.mark.parametrize("weights", [[1.0, 0.0], [0.3, 0.7], [5, 1], [0.5, 0.5]])
def test_a_model_interpolated_with_itself_is_that_model(family, weights):
    a = family["baroque"]
    same = interpolate_models([a, a], weights)
    assert isinstance(same, StyleModel) and same.header["blend_rule"] == "weights"
    for name, array in a.arrays.items():
        np.testing.assert_array_equal(same.arrays[name], array)
    np.testing.assert_array_equal(same.network.run(TOKENS), a.network.run(TOKENS))
    assert same.sampler(seed=2, temperature=0.9).next_beats(200) == a.sampler(seed=2, temperature=0.9).next_beats(200)


def test_interpolated_arrays_are_exactly_the_weighted_average(family):
    a, b = family["baroque"], family["folk"]
    mixed = interpolate_models([a, b], [3, 1])
    assert set(mixed.arrays) == set(a.arrays) and mixed.arrays["lstm0_kernel"].dtype == np.float32
    for name in a.arrays:
        a64, b64 = a.arrays[name].astype(np.float64), b.arrays[name].astype(np.float64)
        expected = (0.75 * a64 + 0.25 * b64).astype(np.float32)
        np.testing.assert_array_equal(mixed.arrays[name], expected)
        assert not np.array_equal(mixed.arrays[name], a.arrays[name])
    # One network of averaged weights, not the parents' averaged logits (the product rule).
    product = blend_models([a, b], [3, 1], rule="product")
    assert not np.allclose(mixed.network.run(TOKENS), product.network.run(TOKENS), atol=1e-3)
    assert mixed.style == "baroque+folk" and mixed.version.startswith("blend(") and mixed.version.endswith(";weights)")
    assert mixed.header["blend"] == [
        {"style": "baroque", "version": a.version, "weight": 0.75},
        {"style": "folk", "version": b.version, "weight": 0.25},
    ]
    assert mixed.header["blend_base"] == family["base"].version
    validate(mixed.sampler(seed=1, temperature=0.9, max_notes=6).next_beats(300))


def test_interpolation_reads_the_weights_from_the_file_when_the_model_keeps_none(family, tmp_path):
    a, b = family["baroque"], family["folk"]
    kept = interpolate_models([a, b], [0.4, 0.6])
    del a.arrays
    del b.arrays
    reread = interpolate_models([a, b], [0.4, 0.6])
    for name, array in kept.arrays.items():
        np.testing.assert_array_equal(reread.arrays[name], array)
    write_token_model(a.path, style="baroque", seed=99, base=family["base"].version)  # replaced since it was loaded
    with pytest.raises(ValueError, match="now holds model"):
        interpolate_models([a, b], [0.4, 0.6])


def test_interpolation_refuses_models_of_other_shapes_or_encodings(family, continuo_model_file):
    with pytest.raises(ValueError, match="differ in shape"):
        interpolate_models([family["baroque"], family["narrow"]], [0.5, 0.5])
    with pytest.raises(ValueError, match="different things"):
        interpolate_models([family["baroque"], load_model(continuo_model_file)], [0.5, 0.5])
    with pytest.raises(ValueError):
        interpolate_models([family["baroque"], family["folk"]], [0, 0])


def test_siblings_are_token_models_of_one_shape_and_one_base(family, tmp_path):
    f = family
    assert siblings([f["baroque"], f["folk"]])
    assert siblings([f["folk"], f["baroque"], f["base"]])  # the base itself belongs to the family
    assert siblings([f["base"], f["baroque"]])
    assert shared_base([f["baroque"], f["folk"]]) == f["base"].version
    assert not siblings([f["baroque"], f["cousin"]])  # fine-tuned from another base
    assert not siblings([f["base"], f["cousin"]])
    assert not siblings([f["baroque"], f["scratch"]])  # trained from scratch
    assert not siblings([f["scratch"], f["scratch"]])
    assert not siblings([f["baroque"], f["narrow"]])  # one base named, but other shapes
    assert not siblings([f["base"], write_token_model(tmp_path / "b3.npz", style="base", seed=10, created="x")])
    seed_kind = get_encoding("seed")
    write_model_file(tmp_path / "seed.npz", random_arrays(seed_kind, seed=3),
                     {"encoding": seed_kind.name, "encoding_version": seed_kind.version, "style": "folk",
                      "fine_tuned_from": {"version": f["base"].version, "style": "base"}})
    assert not siblings([f["baroque"], load_model(tmp_path / "seed.npz")])  # not a token model
    assert not siblings([f["baroque"], blend_models([f["baroque"], f["folk"]], [1, 1], rule="product")])


def test_the_weights_rule_refuses_non_siblings_unless_forced(family):
    a, scratch = family["baroque"], family["scratch"]
    with pytest.raises(ValueError, match="not siblings"):
        blend_models([a, scratch], [0.5, 0.5], rule="weights")
    forced = blend_models([a, scratch], [0.5, 0.5], rule="weights", force=True)
    assert isinstance(forced, StyleModel) and forced.header["blend_rule"] == "weights"
    assert forced.header["blend_base"] is None
    with pytest.raises(ValueError, match="differ in shape"):  # forcing cannot average what does not line up
        blend_models([a, family["narrow"]], [0.5, 0.5], rule="weights", force=True)
    siblings_blend = blend_models([a, family["folk"]], [1, 1], rule="weights")
    assert isinstance(siblings_blend, StyleModel) and siblings_blend.header["blend"][1]["weight"] == 0.5
    assert blend_models([a, scratch], [0, 1], rule="weights") is scratch  # one weight left: that model
    with pytest.raises(ValueError, match="unknown blend rule"):
        blend_models([a, family["folk"]], [1, 1], rule="average")


def test_the_product_rule_names_itself(family):
    blend = blend_models([family["baroque"], family["folk"]], [1, 1], rule="product")
    assert isinstance(blend, BlendedModel) and blend.header["blend_rule"] == "product"


def test_auto_picks_what_the_policy_says(family, monkeypatch):
    import radio.model.blend as blend_module

    a, b, scratch = family["baroque"], family["folk"], family["scratch"]

    def rule_of(models):
        blend = blend_models(models, [0.5] * len(models))
        assert blend.header["blend_rule"] == auto_rule(models)
        return blend.header["blend_rule"]

    # The shipped policy, as measured: unlike textures (a line and a polyphonic style) by weights.
    assert rule_of([a, b]) == "weights" and rule_of([a, scratch]) == "product"
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_STYLES", {})
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_SIBLINGS", "product")
    assert rule_of([a, b]) == "product" and rule_of([a, scratch]) == "product"
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_SIBLINGS", "weights")
    assert rule_of([a, b]) == "weights" and rule_of([a, b, family["base"]]) == "weights"
    assert rule_of([a, scratch]) == "product" and rule_of([a, family["cousin"]]) == "product"  # never for non-siblings
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_STYLES", {frozenset({"baroque", "folk"}): "product"})
    assert rule_of([b, a]) == "product" and rule_of([a, family["base"]]) == "weights"
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_SIBLINGS", "product")
    monkeypatch.setattr(blend_module, "AUTO_RULE_FOR_STYLES", {frozenset({"baroque", "folk"}): "weights"})
    assert rule_of([a, b]) == "weights" and rule_of([a, family["base"]]) == "product"


def test_the_mixer_describes_the_rule_its_blend_uses(family):
    from radio.station.blends import BlendSpec, blend_rule, blend_style
    from radio.styles import discover_styles

    styles = discover_styles()
    spec = BlendSpec((("baroque", 5), ("folk", 5)))
    weights_blend = blend_models([family["baroque"], family["folk"]], [1, 1], rule="weights")
    product_blend = blend_models([family["baroque"], family["folk"]], [1, 1], rule="product")
    assert blend_rule(weights_blend) == "weights" and blend_rule(product_blend) == "product"
    assert blend_rule(object()) == "product"  # a stand-in model without a header
    assert "averaged" in blend_style(spec, styles, blend_rule(weights_blend)).description
    assert "models together" in blend_style(spec, styles, blend_rule(product_blend)).description

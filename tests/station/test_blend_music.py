"""What a blend plays, with the bundled models.

- One weight at 1.0 is that style exactly: the mixer plays the style's own channel, and even
  a blended network carrying the other parent at weight 0 composes note for note what the
  style's model does.
- A 50/50 blend sits between its parents on the style features ``continuo evaluate`` measures
  (trainer/realism.py: pitch class, top-voice interval, note length, onset interval,
  polyphony, chord size, voice leading). The distance between two bodies of music is the sum
  over those features of (1 − overlapped area) of their histograms, so 0 is identical and 8
  is disjoint on everything. The blend must be nearer each parent than the parents are to
  each other, and measurably not a copy of either: farther from each parent than that
  parent's own music is from itself with other seeds.

The parents are baroque and classical, two four-voice styles, when their models share a kind
(otherwise the first two bundled styles that do): nothing here depends on which kind that is.
A product of experts sits between parents of a like texture (with the token models: baroque
and classical, baroque and renaissance, medieval and renaissance, classical and folk all do),
but not between baroque's four voices and folk's one: that blend is a restless single line of
short notes, busier than either parent and farther from baroque than folk is
(docs/design-notes.md), so this test does not claim it.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from radio.station.blends import BlendSpec, blend_style, parse_blend
from radio.model import load_model
from radio.model.blend import BlendedModel, blend_models
from radio.station.station import Station
from radio.styles import Style, discover_styles
from trainer.realism import FEATURES, overlap, pooled_counts

pytestmark = pytest.mark.slow

PREFERRED = ("baroque", "classical")
BEATS = 768  # 48 bars per seed
SEEDS = (1, 2, 3)
OTHER_SEEDS = (101, 102, 103)  # the same parent again, for how far a style is from itself


@pytest.fixture(scope="module")
def parents() -> list[tuple[Style, object]]:
    """Baroque and classical; if their models are of different kinds (as while the bundled
    models were retrained one kind at a time), the first two bundled styles that share one."""
    styles = discover_styles()
    models = {name: load_model(style.model_path) for name, style in styles.items()}
    names = list(styles)
    pairs = [PREFERRED] + [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    for a, b in pairs:
        if a in models and b in models and models[a].encoding == models[b].encoding:
            return [(styles[a], models[a]), (styles[b], models[b])]
    pytest.fail(f"no two bundled styles share a model kind: {[(n, m.encoding.name) for n, m in models.items()]}")


def sample(model, style: Style, seeds=SEEDS) -> dict[str, np.ndarray]:
    """The feature histograms of ``len(seeds)`` independent streams of ``BEATS`` beats."""
    return pooled_counts(
        [model.sampler(temperature=style.temperature, top_p=style.top_p, seed=seed).next_beats(BEATS) for seed in seeds]
    )


def distances(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> dict[str, float]:
    return {f.name: 1.0 - overlap(x[f.name], y[f.name]) for f in FEATURES}


def test_one_weight_at_1_is_that_style_exactly(parents):
    (a_style, a), (b_style, b) = parents
    # Asked for by URL, 100/0 (or anything that rounds to it) is the style's own channel.
    assert parse_blend({a_style.name: "1", b_style.name: "0"}, [a_style.name, b_style.name]) == a_style.name
    assert blend_models([a, b], [1.0, 0.0]) is a
    # And the blend's arithmetic itself: the other parent at weight 0 adds nothing to the
    # logits, so the distribution every step samples from is the style's and so is every note.
    carried = BlendedModel([a, b], [1.0, 0.0])
    for seed in SEEDS:
        alone = a.sampler(temperature=a_style.temperature, top_p=a_style.top_p, seed=seed).next_beats(256)
        blended = carried.sampler(temperature=a_style.temperature, top_p=a_style.top_p, seed=seed).next_beats(256)
        assert blended == alone


def test_a_50_50_blend_sits_between_its_parents(parents):
    (a_style, a), (b_style, b) = parents
    # All three sampled with the blend channel's settings, so only the models differ.
    spec = BlendSpec(((a_style.name, 5), (b_style.name, 5)))
    mixed = blend_style(spec, {a_style.name: a_style, b_style.name: b_style})
    fa, fb = sample(a, mixed), sample(b, mixed)
    fm = sample(blend_models([a, b], [0.5, 0.5]), mixed)
    apart = distances(fa, fb)
    to_a, to_b = distances(fm, fa), distances(fm, fb)
    self_a = distances(fa, sample(a, mixed, OTHER_SEEDS))
    self_b = distances(fb, sample(b, mixed, OTHER_SEEDS))
    table = {
        name: {"parents": round(apart[name], 3), f"blend-{a_style.name}": round(to_a[name], 3),
               f"blend-{b_style.name}": round(to_b[name], 3)}
        for name in apart
    }
    total = {k: sum(d.values()) for k, d in
             {"parents": apart, "to_a": to_a, "to_b": to_b, "self_a": self_a, "self_b": self_b}.items()}
    # Nearer each parent than the parents are to each other ...
    assert total["to_a"] < total["parents"] and total["to_b"] < total["parents"], (total, table)
    # ... and not merely one of them with other seeds.
    assert total["to_a"] > total["self_a"] and total["to_b"] > total["self_b"], (total, table)


async def test_the_mixer_composes_with_the_parents_live_models(parents, continuo_home, helpers):
    (a_style, a), (b_style, b) = parents
    station = Station(helpers.fast_settings(), max_blends=1)
    for style, model in parents:
        await station.add_style(style, model)
    query = {b_style.name: "0.3", a_style.name: "0.7"}
    channel = await station.mixer.channel_for(parse_blend(query, list(station.channels)))
    try:
        model = channel.composer.model
        assert isinstance(model, BlendedModel)
        assert model.models == [a, b] and model.weights == pytest.approx([0.7, 0.3])
        assert model.version.startswith("blend(") and channel.model_kind == a.encoding.name
        assert channel.style.display_name == f"{a_style.display_name} 70% · {b_style.display_name} 30%"
        for _ in range(100):  # it composes: the first piece reaches the channel
            if channel.recent_pieces():
                break
            await asyncio.sleep(0.05)
        assert channel.recent_pieces() and channel.failed is None
    finally:
        await station.stop()

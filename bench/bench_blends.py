"""Blend rules side by side: does a 50/50 blend sit between its parents, by product or by weights?

For each pair of bundled styles (baroque/folk: unlike textures, four voices against one line;
baroque/classical: alike; classical/folk), one seeded sample of ``MINUTES`` minutes from each
parent at its own tempo, temperature and top-p, and from the 50/50 blend by each rule
(``radio.model.blend``) at the blend's mixed settings (``radio.station.blends.blend_style``):

- ``product``: the parents' logits summed each step (a product of experts), what the mixer plays;
- ``weights``: one network whose arrays are the parents' averaged arrays. Meaningful only for
  siblings (fine-tunes of one base model); ``CONTINUO_BLEND_FORCE_WEIGHTS=1`` forces it on
  models that are not, as a dry run (unrelated networks averaged give noise, not a blend).

Seven scalar texture features per sample; a blend's feature is "in between" when it lies within
its parents' [min, max], widened by 5% of their difference on each side. "k/7" counts those;
a blend's position on each feature (parent a = 0, parent b = 1) shows whether it is a mixture
or a copy of one parent, which "in between" alone does not.
Then each sample's mean overlap (trainer/realism.py's eight feature histograms, 1 = identical)
with each parent's sample, beside the parents' overlap with each other. The last lines say what
the figures suggest for ``AUTO_RULE_FOR_SIBLINGS`` / ``AUTO_RULE_FOR_STYLES`` in radio/model/blend.py.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.run_all import machine

PAIRS = (("baroque", "folk"), ("baroque", "classical"), ("classical", "folk"))
MINUTES = float(os.environ.get("CONTINUO_BLEND_MINUTES", "3"))
SEED = 0
TOLERANCE = 0.05  # of the parents' difference, either side
FEATURES = (
    ("polyphony", "mean notes sounding, sounding beats"),
    ("silent", "fraction of silent beats"),
    ("note_len", "mean note length, 16ths"),
    ("chord", "mean notes struck per onset"),
    ("top_step", "mean |top-voice interval|, semitones"),
    ("pitch", "mean pitch (MIDI), struck notes"),
    ("range", "pitch range, 5th-95th percentile"),
)


def texture(beats) -> dict[str, float]:
    """The seven scalar texture features of a stream of beats (NaN where there is nothing to measure)."""
    from radio.music.notes import STRUCK, to_spans
    from trainer.realism import struck_tops

    sounding = [len(b) for b in beats if b]
    struck = [sum(tie == STRUCK for _, tie in b) for b in beats]
    onsets = [c for c in struck if c]
    spans = to_spans(beats)
    tops = struck_tops(beats)
    pitches = np.array([s.pitch for s in spans], np.float64)
    nan = float("nan")
    return {
        "polyphony": float(np.mean(sounding)) if sounding else nan,
        "silent": 1.0 - len(sounding) / len(beats) if beats else nan,
        "note_len": float(np.mean([s.length for s in spans])) if spans else nan,
        "chord": float(np.mean(onsets)) if onsets else nan,
        "top_step": float(np.mean(np.abs(np.diff(tops)))) if len(tops) > 1 else nan,
        "pitch": float(pitches.mean()) if pitches.size else nan,
        "range": float(np.percentile(pitches, 95) - np.percentile(pitches, 5)) if pitches.size else nan,
    }


def in_between(x: float, a: float, b: float, tolerance: float = TOLERANCE) -> bool:
    lo, hi = min(a, b), max(a, b)
    slack = tolerance * (hi - lo)
    return bool(lo - slack <= x <= hi + slack)


def position(x: float, a: float, b: float) -> float:
    """Where ``x`` lies on the line from parent ``a`` (0) to parent ``b`` (1); NaN if they agree.
    "In between" alone cannot tell a blend from a copy of one parent (0 or 1 everywhere)."""
    return (x - a) / (b - a) if b != a else float("nan")


def mean_overlap(x: dict, y: dict) -> float:
    from trainer.realism import FEATURE_NAMES, overlap

    return float(np.mean([overlap(x[f], y[f]) for f in FEATURE_NAMES]))


def sample(model, style, minutes: float = MINUTES):
    beats = round(minutes * style.tempo_bpm * 4)  # a beat is a 16th
    t0 = time.perf_counter()
    notes = model.sampler(temperature=style.temperature, top_p=style.top_p, seed=SEED).next_beats(beats)
    return notes, time.perf_counter() - t0


def main() -> None:
    from radio.config import REPO_ROOT
    from radio.model import load_model
    from radio.model.blend import auto_rule, blend_models, shared_base, siblings
    from radio.station.blends import BlendSpec, blend_style
    from radio.styles import discover_styles
    from trainer.realism import pooled_counts

    force = os.environ.get("CONTINUO_BLEND_FORCE_WEIGHTS", "") not in ("", "0")
    mode = "weights forced on non-siblings" if force else "weights for siblings only"
    print(f"machine: {machine(f'{MINUTES:g} min per sample, seed {SEED}', mode)}")
    styles = discover_styles(REPO_ROOT / "styles")
    models: dict[str, object] = {}
    parent_samples: dict[str, tuple] = {}
    verdicts: list[tuple[str, bool, dict[str, int]]] = []
    for a, b in PAIRS:
        if a not in styles or b not in styles:
            print(f"\n{a}/{b}: not both bundled, skipped")
            continue
        for name in (a, b):
            if name not in models:
                models[name] = load_model(styles[name].model_path)
                notes, took = sample(models[name], styles[name])
                parent_samples[name] = (notes, texture(notes), pooled_counts([notes]), took)
        ma, mb = models[a], models[b]
        related = siblings([ma, mb])
        base = shared_base([ma, mb])
        print(f"\n{a} ({ma.version}) / {b} ({mb.version}): "
              + (f"siblings, base {base}" if related else "NOT siblings (no shared base)")
              + f"; auto picks {auto_rule([ma, mb])}")
        spec = BlendSpec(((a, 5), (b, 5)))
        mixed_style = blend_style(spec, styles)
        rows = [(a, *parent_samples[a]), (b, *parent_samples[b])]
        for rule in ("product", "weights"):
            if rule == "weights" and not (related or force):
                print("  weights: skipped, not siblings (CONTINUO_BLEND_FORCE_WEIGHTS=1 forces a dry run)")
                continue
            blend = blend_models([ma, mb], [0.5, 0.5], rule=rule, force=force)
            notes, took = sample(blend, mixed_style)
            rows.append((f"50/50 {rule}", notes, texture(notes), pooled_counts([notes]), took))
        fa, fb = parent_samples[a][1], parent_samples[b][1]
        ca, cb = parent_samples[a][2], parent_samples[b][2]
        head = f"  {'sample':<16}{'beats':>6}" + "".join(f"{n:>10}" for n, _ in FEATURES) + f"{'between':>9}"
        head += f"{'ov ' + a[:4]:>9}{'ov ' + b[:4]:>9}{'s':>6}"
        print(head)
        counts: dict[str, int] = {}
        for label, notes, feats, hist, took in rows:
            is_blend = label.startswith("50/50")
            cells = ""
            k = 0
            for name, _ in FEATURES:
                mark = ""
                if is_blend:
                    ok = in_between(feats[name], fa[name], fb[name])
                    k += ok
                    mark = "*" if ok else " "
                cells += f"{feats[name]:>9.3f}{mark}" if is_blend else f"{feats[name]:>10.3f}"
            between = f"{k}/{len(FEATURES)}" if is_blend else ""
            if is_blend:
                counts[label.split()[-1]] = k
            print(f"  {label:<16}{len(notes):>6}{cells}{between:>9}"
                  f"{mean_overlap(hist, ca):>9.3f}{mean_overlap(hist, cb):>9.3f}{took:>6.1f}")
        for label, notes, feats, hist, took in rows[2:]:
            where = " ".join(f"{name} {position(feats[name], fa[name], fb[name]):+.2f}" for name, _ in FEATURES)
            print(f"  {label:<16}position {a}=0 → {b}=1: {where}")
        print(f"  (* in between its parents, ±{TOLERANCE:.0%} of their difference; ov: mean overlap of the "
              f"feature histograms with each parent's sample; parents with each other: {mean_overlap(ca, cb):.3f})")
        verdicts.append((f"{a}/{b}", related, counts))
    print("\nfeatures: " + "; ".join(f"{n}: {d}" for n, d in FEATURES))
    print("in between, k of 7 (product vs weights), and what that suggests for radio/model/blend.py's auto policy:")
    for pair, related, counts in verdicts:
        p, w = counts.get("product"), counts.get("weights")
        if w is None:
            hint = "no weights blend measured"
        elif not related:
            hint = "not siblings: a forced dry run, no evidence either way (auto stays product)"
        elif w > p:
            hint = "weights sits between more often: weights"
        else:
            hint = "weights is no better: product"
        print(f"  {pair:<20} product {p}/7, weights {'-' if w is None else f'{w}/7'}: {hint}")


if __name__ == "__main__":
    main()

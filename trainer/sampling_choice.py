"""How a style's model is sampled, learnt from its pieces: the temperature and ``top_p`` whose
music (as the channel plays it: pieces to the style's form plan) comes closest to the style's
*training* pieces on the realism features (trainer/realism.py), and the averaged realism of
several seeded samples that every decision here and in the bundle's gate rests on.

``make train`` chooses the settings for each new candidate (trainer/bundle.py);
``make train --sampling-only`` chooses them again for the bundled model as it is, and keeps
the new setting only when its music is closer to the held-out pieces than the old one's.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

import numpy as np

from radio.music.form import FormPlan
from radio.styles import Style

# Up to 1.3: renaissance's choice still rose at 1.2, the top of the first grid.
TEMPERATURES = (0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3)
# Nucleus settings tried beside the best temperatures: a narrower nucleus drops the unlikely
# notes a hot temperature brings (scattered short notes), so it pairs with a hotter one.
TOP_PS = (0.95, 0.9)
TUNING_PIECES = 40
TUNING_SEEDS = (1, 2, 3, 4)
# One sample's realism wavers by a few hundredths (classical's models read 0.84 to 0.88 across
# seeds at one temperature, a standard deviation of 0.012), as much as the differences the gate
# decides on. The grid's four samples a setting only shortlist: its best FINALISTS are scored
# again on FINAL_SEEDS, and the gate compares models on COMPARE_SEEDS. With four, classical's
# bundled model read 0.865 (its first four seeds) where twelve read 0.858, and a candidate that
# is better over twelve lost on four.
FINALISTS = 3
FINAL_SEEDS = tuple(range(1, 13))
COMPARE_SEEDS = tuple(range(12))


@dataclass(frozen=True)
class Sampling:
    """How a style's model is sampled: what ``style.toml`` says as ``temperature`` and ``top_p``."""

    temperature: float
    top_p: float = 1.0

    def __str__(self) -> str:
        return f"{self.temperature:g}" if self.top_p == 1.0 else f"{self.temperature:g} with top_p {self.top_p:g}"


def choose_sampling(model, train: list, bpm: float, plan: FormPlan | None = None
                    ) -> tuple[Sampling, dict[Sampling, float], dict[Sampling, float]]:
    """The sampling settings whose music comes closest to the style's *training* pieces on
    the realism features (up to 40 of them, seeded): sampler settings learnt from the pieces.
    The music is the channel's: pieces to the style's form ``plan`` (trainer.evaluate.realism_for).
    Every temperature is tried with the whole distribution, then each narrower nucleus in
    ``TOP_PS`` at the best temperature and the two above it, each on ``TUNING_SEEDS``; the best
    ``FINALISTS`` are then scored on ``FINAL_SEEDS`` and the best of those wins. Returns the
    choice, the grid's scores and the finalists' scores. The held-out pieces stay out of
    the choice, so the before/after table on them is honest. A fine-tune's calibration
    differs from its base's: classical's swung from frozen held chords at 0.9 to clouds of
    short notes, and its best lay at 1.1."""
    from trainer.evaluate import realism_for

    pieces = [p.notes for p in train]
    random.Random(0).shuffle(pieces)
    pieces = pieces[:TUNING_PIECES]

    overlaps: dict[tuple[Sampling, int], float] = {}  # a finalist's grid samples are not drawn twice

    def score(setting: Sampling, seeds: tuple[int, ...] = TUNING_SEEDS) -> float:
        for s in seeds:
            if (setting, s) not in overlaps:
                overlaps[setting, s] = realism_for(model, pieces, bpm=bpm, temperature=setting.temperature,
                                                   top_p=setting.top_p, seed=s, plan=plan)[0]["mean_overlap"]
        return round(float(np.mean([overlaps[setting, s] for s in seeds])), 4)

    tried = {Sampling(t): score(Sampling(t)) for t in TEMPERATURES}
    best = max(tried, key=tried.get).temperature
    hotter = [t for t in TEMPERATURES if t >= best][:3]
    for top_p in TOP_PS:
        for t in hotter:
            tried[Sampling(t, top_p)] = score(Sampling(t, top_p))
    final = {setting: score(setting, FINAL_SEEDS) for setting in sorted(tried, key=tried.get, reverse=True)[:FINALISTS]}
    return max(final, key=final.get), tried, final


def choice_text(tried: dict[Sampling, float], final: dict[Sampling, float]) -> str:
    """The figures behind a choice, as TRAINING.md and the log give them."""
    text = f"{len(TUNING_SEEDS)} samples a setting: " + ", ".join(f"{s}: {r:.3f}" for s, r in tried.items())
    if final:  # a TRAINING.md written before the finalists were scored again has none
        text += f"; the best {len(final)} again over {len(FINAL_SEEDS)} samples: " + ", ".join(
            f"{s}: {r:.3f}" for s, r in final.items())
    return text


def mean_realism(reports: list[dict]) -> dict:
    """Realism reports of several seeded samples as one: every feature's overlap and KL, and the
    mean overlap, averaged; ``seeds`` keeps each sample's mean."""
    out = copy.deepcopy(reports[0])
    for name, fig in out["features"].items():
        for key in ("overlap", "kl"):
            fig[key] = float(np.mean([r["features"][name][key] for r in reports]))
    out["mean_overlap"] = float(np.mean([r["mean_overlap"] for r in reports]))
    out["seeds"] = [{"seed": r["sample"]["seed"], "mean_overlap": round(r["mean_overlap"], 4)} for r in reports]
    return out


def held_out_realism(model, pieces: list, info: Style, sampling: Sampling) -> dict:
    """The realism of ``model``'s music at ``sampling``, as style ``info``'s channel plays it,
    against the held-out ``pieces``: the mean report of ``COMPARE_SEEDS`` seeded samples."""
    from trainer.evaluate import realism_for

    return mean_realism([realism_for(model, pieces, bpm=info.tempo_bpm, temperature=sampling.temperature,
                                     top_p=sampling.top_p, seed=seed, plan=info.form)[0] for seed in COMPARE_SEEDS])

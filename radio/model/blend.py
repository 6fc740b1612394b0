"""Blends of style models: one stream composed by several models together (the mixer).

Each step every parent model reads the same input (the beat or token just chosen) with its own
LSTM state, and the blend's logits are the weighted sum of the parents' logits. Under a softmax
(a token model, or a frame model's count head) and under a sigmoid (a frame model's per-pitch
heads) that is the normalised weighted product of the parents' distributions, a product of
experts: what both parents find likely stays likely, what either rules out stays out. The
samplers, their temperature, grammar and guard rails are the single model's, unchanged.

Models blend only when they share an encoding (the same inputs and outputs mean the same
notes); the bundled styles all use the ``token`` encoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from radio.model.lstm import LSTMState
from radio.model.model import StyleModel


@dataclass
class BlendState:
    parts: list[LSTMState]

    def copy(self) -> "BlendState":
        return BlendState([p.copy() for p in self.parts])


class BlendNetwork:
    """Quacks like :class:`radio.model.lstm.LSTMStack` for the samplers and the metrics."""

    def __init__(self, networks: Sequence[Any], weights: Sequence[float]) -> None:
        self.networks = list(networks)
        self.weights = [float(w) for w in weights]
        first = self.networks[0]
        self.input_size = first.input_size
        self.output_size = first.output_size
        self.takes_tokens = getattr(first, "takes_tokens", False)

    def initial_state(self, batch: int | None = None) -> BlendState:
        return BlendState([n.initial_state(batch) for n in self.networks])

    def step(self, x: Any, state: BlendState) -> np.ndarray:
        out = None
        for net, w, part in zip(self.networks, self.weights, state.parts):
            logits = net.step(x, part)
            out = w * logits if out is None else out + w * logits
        return out

    def run(self, inputs: np.ndarray, state: BlendState | None = None) -> np.ndarray:
        parts = state.parts if state is not None else [None] * len(self.networks)
        return sum(w * net.run(inputs, part) for net, w, part in zip(self.networks, self.weights, parts))


class BlendedModel:
    """A weighted blend of style models, usable wherever a :class:`StyleModel` is played."""

    sampler = StyleModel.sampler  # the same samplers, over the blended network

    def __init__(self, models: Sequence[StyleModel], weights: Sequence[float]) -> None:
        self.models = list(models)
        self.weights = [float(w) for w in weights]
        self.encoding = self.models[0].encoding
        self.network = BlendNetwork([m.network for m in self.models], self.weights)
        self.path = None
        parts = [f"{m.style or '?'}:{m.version}x{w:g}" for m, w in zip(self.models, self.weights)]
        self.version = "blend(" + ",".join(parts) + ")"
        self.header = {
            "encoding": self.encoding.name,
            "style": "+".join(m.style for m in self.models),
            "blend": [{"style": m.style, "version": m.version, "weight": w} for m, w in zip(self.models, self.weights)],
        }

    @property
    def style(self) -> str:
        return str(self.header["style"])

    def __repr__(self) -> str:
        return f"BlendedModel({self.version})"


def blend_models(models: Sequence[StyleModel], weights: Sequence[float]) -> StyleModel | BlendedModel:
    """Blend ``models`` with ``weights`` (normalised to sum to 1; zero weights are dropped).

    A blend of one model is that model itself. Raises ValueError for mismatched lengths,
    negative or non-finite weights, no positive weight, or models of different encodings.
    """
    models, weights = list(models), list(weights)
    if not models or len(models) != len(weights):
        raise ValueError(f"a blend needs one weight per model: {len(models)} model(s), {len(weights)} weight(s)")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"blend weights must be finite numbers ≥ 0, got {w!r}")
    kept = [(m, float(w)) for m, w in zip(models, weights) if w > 0]
    if not kept:
        raise ValueError("a blend needs at least one weight > 0")
    first = kept[0][0]
    for m, _ in kept[1:]:
        if m.encoding != first.encoding or m.network.output_size != first.network.output_size:
            raise ValueError(
                f"cannot blend a {m.encoding.name!r} model ({m.style or '?'}) with a {first.encoding.name!r} model "
                f"({first.style or '?'}): blended models must share an encoding; retrain them with the same model kind"
            )
    total = sum(w for _, w in kept)
    if len(kept) == 1:
        return kept[0][0]
    return BlendedModel([m for m, _ in kept], [w / total for _, w in kept])

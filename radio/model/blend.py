"""Blends of style models: one stream composed by several models together (the mixer).

Each step every parent model reads the same input (the beat or token just chosen) with its own
LSTM state, and the blend's logits are the weighted sum of the parents' logits. Under a softmax
(a token model, or a frame model's count head) and under a sigmoid (a frame model's per-pitch
heads) that is the normalised weighted product of the parents' distributions, a product of
experts: what both parents find likely stays likely, what either rules out stays out. The
samplers, their temperature, grammar and guard rails are the single model's, unchanged.

Models blend only when they share an encoding (the same inputs and outputs mean the same
notes); the bundled styles all use the ``token`` encoding.

A second rule, ``"weights"``, is for *siblings*: models of a kind that fine-tunes from the base
(``fine_tunes_from_base`` in radio/model/kinds/: the token kind), of one shape, fine-tuned from one
base model (``fine_tuned_from.version`` in their headers), whose weights therefore share their
coordinates. Their blend is one network whose every array is the weighted average of the
parents' arrays (:func:`interpolate_models`), a point on the line between them in weight space,
rather than two networks voting each step. Unrelated networks share no coordinates, and
averaging them gives noise, so the rule refuses non-siblings unless forced.

``blend_models(..., rule="auto")`` picks one of the two by :func:`auto_rule`, which follows what
``bench/bench_blends.py`` measured (see ``AUTO_RULE_FOR_SIBLINGS`` below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from radio.errors import ModelFileError
from radio.model.kinds import KINDS, kind_of
from radio.model.lstm import LSTMState
from radio.model.model import StyleModel
from radio.model.modelfile import read_model_file

PRODUCT, WEIGHTS, AUTO = "product", "weights", "auto"
RULES = (AUTO, PRODUCT, WEIGHTS)

# --- which rule ``rule="auto"`` picks ------------------------------------------------------
# Set these from bench/bench_blends.py's figures ("k of 7 features in between" per blend), run
# on the fine-tuned siblings: pick "weights" for a kind of pair only where the weights blend
# sits between its parents (and the product blend does not, or less so).
#
# Measured on the fine-tunes of styles/base/ (3-minute seeded samples, 50/50 blends; folk's
# fine-tune 2bdb16dc5e82 stood in for folk, whose bundled model is not a fine-tune):
# - like textures, baroque/classical: product 5 of 7 features in between, weights 2 of 7
#   (weights' silence and register fall outside both parents): product.
# - unlike textures, baroque/folk: weights 7 of 7, product 5 of 7; weights sits nearer the
#   middle on note length (position 0.57 against 1.07), range (0.83 against 1.26), pitch and
#   melodic step, and overlaps baroque more (0.547 against 0.486). Both stay one line: a
#   second voice is what folk's half gives up last. Weights.
# - classical/folk: product 5 of 7, weights 4 of 7, but product's notes are longer than either
#   parent's (3.5 sixteenths against 2.4 and 2.3), weights' in between: weights.
AUTO_RULE_FOR_SIBLINGS = PRODUCT
# Pairs of unlike texture (a single line with a polyphonic style) blend by weights.
AUTO_RULE_FOR_STYLES: dict[frozenset[str], str] = {
    frozenset({"baroque", "folk"}): WEIGHTS,
    frozenset({"classical", "folk"}): WEIGHTS,
}


def auto_rule(models: Sequence[StyleModel]) -> str:
    """The rule ``blend_models(rule="auto")`` uses for ``models``: ``"product"`` unless they are
    siblings (:func:`siblings`); for siblings, their entry in ``AUTO_RULE_FOR_STYLES``, else
    ``AUTO_RULE_FOR_SIBLINGS``."""
    if not siblings(models):
        return PRODUCT
    return AUTO_RULE_FOR_STYLES.get(frozenset(m.style for m in models), AUTO_RULE_FOR_SIBLINGS)


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
        self.kind = kind_of(self.encoding)
        self.network = BlendNetwork([m.network for m in self.models], self.weights)
        self.path = None
        parts = [f"{m.style or '?'}:{m.version}x{w:g}" for m, w in zip(self.models, self.weights)]
        self.version = "blend(" + ",".join(parts) + ")"
        self.header = {
            "encoding": self.encoding.name,
            "style": "+".join(m.style for m in self.models),
            "blend": [{"style": m.style, "version": m.version, "weight": w} for m, w in zip(self.models, self.weights)],
            "blend_rule": PRODUCT,
        }

    @property
    def style(self) -> str:
        return str(self.header["style"])

    def __repr__(self) -> str:
        return f"BlendedModel({self.version})"


# --- the weights rule -------------------------------------------------------------------------
def model_arrays(model: Any) -> dict[str, np.ndarray]:
    """The float32 arrays of a loaded model: those it keeps, else re-read from its file (refused
    if the file now holds another version than the one loaded)."""
    arrays = getattr(model, "arrays", None)
    if arrays is not None:
        return arrays
    path = getattr(model, "path", None)
    if path is None:
        raise ValueError(f"{model!r} keeps no weight arrays and has no model file to read them from")
    _header, arrays, version = read_model_file(path)
    if version != model.version:
        raise ValueError(f"{path} now holds model {version}, not the {model.version} that was loaded")
    return arrays


def shared_base(models: Sequence[Any]) -> str | None:
    """The version of the base model every one of ``models`` was fine-tuned from, or is (a base
    is a model whose header's ``style`` is ``"base"``); None if they share none."""
    common: set[str] | None = None
    for m in models:
        header = getattr(m, "header", None)
        if not isinstance(header, dict):
            return None
        own: set[str] = set()
        tuned = header.get("fine_tuned_from")
        if isinstance(tuned, dict) and isinstance(tuned.get("version"), str) and tuned["version"]:
            own.add(tuned["version"])
        if header.get("style") == "base" and getattr(m, "version", None):
            own.add(str(m.version))
        common = own if common is None else common & own
        if not common:
            return None
    return min(common) if common else None


def _shapes(model: Any) -> dict[str, tuple[int, ...]] | None:
    try:
        return {name: a.shape for name, a in model_arrays(model).items()}
    except (ValueError, ModelFileError):
        return None


def siblings(models: Sequence[Any]) -> bool:
    """True when ``models`` can blend by weights: models of a kind that fine-tunes from the base
    (token models), with arrays of identical names and shapes, that share a base
    (:func:`shared_base`): fine-tunes of one base, or that base."""
    models = list(models)
    if not models or not all(_of_a_base_kind(m) for m in models):
        return False
    if shared_base(models) is None:
        return False
    first = _shapes(models[0])
    return first is not None and all(_shapes(m) == first for m in models[1:])


def _of_a_base_kind(model: Any) -> bool:
    encoding = getattr(model, "encoding", None)
    return getattr(encoding, "name", None) in KINDS and kind_of(encoding).fine_tunes_from_base


def _check_weights(models: list, weights: list) -> None:
    if not models or len(models) != len(weights):
        raise ValueError(f"a blend needs one weight per model: {len(models)} model(s), {len(weights)} weight(s)")
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ValueError(f"blend weights must be finite numbers ≥ 0, got {w!r}")


def interpolate_models(models: Sequence[StyleModel], weights: Sequence[float]) -> StyleModel:
    """One model whose every array is Σ wᵢ·arraysᵢ (weights normalised to sum to 1; summed in
    float64, stored as float32): the parents' weighted average in weight space.

    Only meaningful for :func:`siblings`; this function checks only what it needs to compute
    (one encoding, arrays of the same names and shapes) and raises ValueError otherwise.
    """
    models, weights = list(models), list(weights)
    _check_weights(models, weights)
    total = float(sum(weights))
    if total <= 0:
        raise ValueError("a blend needs at least one weight > 0")
    weights = [float(w) / total for w in weights]
    first = models[0]
    names = [m.style or "?" for m in models]
    for m in models[1:]:
        if m.encoding != first.encoding:
            raise ValueError(
                f"cannot interpolate a {m.encoding.name!r} model ({m.style or '?'}) with a "
                f"{first.encoding.name!r} model ({first.style or '?'}): their weights mean different things"
            )
    parents = [model_arrays(m) for m in models]
    shapes = {name: a.shape for name, a in parents[0].items()}
    for m, arrays in zip(models[1:], parents[1:]):
        theirs = {name: a.shape for name, a in arrays.items()}
        if theirs != shapes:
            differ = sorted(n for n in set(shapes) | set(theirs) if shapes.get(n) != theirs.get(n))
            raise ValueError(
                f"cannot interpolate {m.style or '?'} with {first.style or '?'}: their arrays differ in shape "
                f"({', '.join(f'{n}: {theirs.get(n)} vs {shapes.get(n)}' for n in differ[:4])})"
            )
    arrays: dict[str, np.ndarray] = {}
    for name in shapes:
        acc = np.zeros(shapes[name], np.float64)
        for w, parent in zip(weights, parents):
            acc += w * parent[name].astype(np.float64)
        arrays[name] = acc.astype(np.float32)
    parts = [f"{m.style or '?'}:{m.version}x{w:g}" for m, w in zip(models, weights)]
    header = {
        "encoding": first.encoding.name,
        "encoding_version": first.header.get("encoding_version", getattr(first.encoding, "version", None)),
        "style": "+".join(names),
        "blend": [{"style": m.style, "version": m.version, "weight": w} for m, w in zip(models, weights)],
        "blend_rule": WEIGHTS,
        "blend_base": shared_base(models),
    }
    if "hyperparameters" in first.header:
        header["hyperparameters"] = first.header["hyperparameters"]
    return StyleModel(header, arrays, "blend(" + ",".join(parts) + ";weights)")


def blend_models(
    models: Sequence[StyleModel], weights: Sequence[float], rule: str = AUTO, *, force: bool = False
) -> StyleModel | BlendedModel:
    """Blend ``models`` with ``weights`` (normalised to sum to 1; zero weights are dropped).

    ``rule``: ``"product"`` (a :class:`BlendedModel`, the parents' logits summed each step),
    ``"weights"`` (:func:`interpolate_models`, for :func:`siblings` only unless ``force``), or
    ``"auto"`` (:func:`auto_rule`). The blend's header names its rule (``blend_rule``).

    A blend of one model is that model itself. Raises ValueError for mismatched lengths,
    negative or non-finite weights, no positive weight, models of different encodings, an
    unknown rule, or the weights rule over models that are not siblings (unless ``force``).
    """
    models, weights = list(models), list(weights)
    if rule not in RULES:
        raise ValueError(f"unknown blend rule {rule!r}; one of {', '.join(RULES)}")
    _check_weights(models, weights)
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
    parents, shares = [m for m, _ in kept], [w / total for _, w in kept]
    if rule == AUTO:
        rule = auto_rule(parents)
    if rule == WEIGHTS:
        if not force and not siblings(parents):
            raise ValueError(
                f"cannot blend {' and '.join(m.style or '?' for m in parents)} by weights: they are not siblings "
                "(token models of one shape fine-tuned from one base model, fine_tuned_from.version in their headers), "
                "so their weights share no coordinates and their average is noise; blend them with rule='product'"
            )
        return interpolate_models(parents, shares)
    return BlendedModel(parents, shares)

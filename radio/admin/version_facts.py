"""A model version's record and what its figures mean: the metrics the admin page shows
(:data:`METRICS`), the summary of a run's metrics, and the facts of a model file's header
(its held-out set, how training ended). Plain data, no storage: :mod:`radio.admin.versions`
keeps the versions, :mod:`radio.admin.comparison` decides between them.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Metric:
    """How to read one figure of a version's summary: the page labels its columns from these."""

    key: str
    label: str
    better: str | None  # "lower" | "higher" | None (a reference figure, not a score)
    unit: str
    help: str
    digits: int = 3


METRICS: tuple[Metric, ...] = (
    Metric("heldout_nll", "Held-out NLL", "lower", "nats per beat",
           "How surprised the model is by held-out music it never trained on: the next beat's notes, each struck "
           "or held. Versions are compared by this figure; a new version goes on air by itself only when the active "
           "model, scored on the new version's own held-out pieces, does no better."),
    Metric("frame_accuracy", "Frame accuracy", "higher", "",
           "Share of the next beat's sounding notes the model predicts (right / (right + wrong + missed))."),
    Metric("baseline_nll", "No-context baseline", None, "nats per beat",
           "The same NLL for a model that ignores context, on the same held-out set: a trained model should score below it."),
)
@dataclass
class ModelVersion:
    style: str
    version: str
    path: str
    source: str  # "bundled" | "trained"
    created_at: str = ""
    job_id: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    active: bool = False
    # From the model file's header: the held-out set and how training went (see header_facts).
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def heldout_nll(self) -> float | None:
        return heldout_nll(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["path"]  # a server path: the API names versions, never files
        data["heldout_nll"] = self.heldout_nll
        data["summary"] = metrics_summary(self.metrics)
        data["figures"] = figures(self.metrics)  # what the page shows, per METRICS
        data["heldout"] = heldout_set(self)
        data["training"] = {k: self.facts.get(k) for k in ("pieces", "epochs_run", "best_epoch", "stopped_by")}
        return data


def figures(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The figures of METRICS, each measured the same way as its neighbours: the baseline is the
    unigram's NLL on the same measure as the model's held-out NLL (full, or sounding notes only for
    a model without struck/held), and ``measure`` says which one it is."""
    m = metrics or {}
    summary = metrics_summary(m)
    full = summary["full_nll"] is not None and summary["heldout_nll"] == summary["full_nll"]
    baseline = (figure_at(m, "nll_full_per_beat.unigram", "unigram.nll_full") if full else None)
    return {
        "heldout_nll": summary["heldout_nll"],
        "frame_accuracy": summary["frame_accuracy"],
        "baseline_nll": baseline if baseline is not None else (None if full else summary["unigram_nll"]),
        "measure": None if summary["heldout_nll"] is None else ("full" if full else "sounding"),
    }


def figure_at(data: dict[str, Any], *paths: str) -> float | None:
    for path in paths:
        value: Any = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def heldout_set(version: ModelVersion) -> dict[str, Any]:
    """The held-out set a version was measured on: its size and, when the header lists its
    pieces, a fingerprint that is equal only for the very same pieces."""
    held = version.metrics.get("held_out") if isinstance(version.metrics.get("held_out"), dict) else {}
    facts = version.facts

    def count(key: str) -> int | None:
        value = held.get(key, facts.get(f"heldout_{key}"))
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return {"pieces": count("pieces"), "beats": count("beats"), "fingerprint": facts.get("heldout_fingerprint")}


def header_facts(header: dict[str, Any]) -> dict[str, Any]:
    """What a model file's header says about its training, read defensively: any part may be missing."""
    training = header.get("training") if isinstance(header.get("training"), dict) else {}
    metrics = header.get("metrics") if isinstance(header.get("metrics"), dict) else {}
    held = metrics.get("held_out") if isinstance(metrics.get("held_out"), dict) else {}
    validation = training.get("validation") if isinstance(training.get("validation"), list) else None
    facts: dict[str, Any] = {
        "pieces": len(training["pieces"]) if isinstance(training.get("pieces"), list) else None,
        "heldout_pieces": held.get("pieces", len(validation) if validation is not None else None),
        "heldout_beats": held.get("beats"),
        "heldout_fingerprint": None,
        "epochs_run": metrics.get("epochs_run"),
        "best_epoch": metrics.get("best_epoch"),
        "stopped_by": metrics.get("stopped_by"),
    }
    if validation:
        keys = sorted(str(p.get("sha256") or p.get("id")) for p in validation if isinstance(p, dict))
        facts["heldout_fingerprint"] = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
    return facts


def read_header(path: Path) -> dict[str, Any]:
    """A model file's JSON header alone (the weights stay on disk); {} if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode("utf-8"))
    except Exception:  # noqa: BLE001 - a version whose file is gone or odd still lists, without facts
        return {}
    return header if isinstance(header, dict) else {}


def metrics_summary(metrics: dict[str, Any] | None) -> dict[str, float | None]:
    """The figures worth comparing between versions, whichever shape the metrics came in
    (a done event's summary or a model header's full metrics)."""
    m = metrics or {}

    def pick(*paths: str) -> float | None:
        for path in paths:
            value: Any = m
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        return None

    return {
        "heldout_nll": heldout_nll(m),
        "unigram_nll": pick("nll_per_beat.unigram", "unigram.nll_sounding"),
        "full_nll": pick("nll_full_per_beat.model", "model.nll_full"),
        "frame_accuracy": pick("frame_accuracy.model", "model.frame_accuracy"),
        "heldout_pieces": pick("held_out.pieces"),
        "epochs_run": pick("epochs_run"),
        "train_seconds": pick("train_seconds"),
    }


def heldout_nll(metrics: dict[str, Any] | None) -> float | None:
    """The model's held-out negative log-likelihood per beat, if the metrics carry one.

    The full NLL (the beat's notes with struck/held) comes first: it is the one measure that
    token and continuo models both have, so versions of either kind compare on it. A seed
    model has only the NLL of the sounding notes, which is used when nothing else is there.
    The trainer's done event reports ``{"nll_full_per_beat": {"model": x}, "nll_per_beat": ...}``;
    a model file's header holds ``{"model": {"nll_full": x, "nll_sounding": y}, ...}``.
    """
    m = metrics or {}
    full, nll, header = m.get("nll_full_per_beat"), m.get("nll_per_beat"), m.get("model")
    header = header if isinstance(header, dict) else {}
    candidates = [full.get("model") if isinstance(full, dict) else None, header.get("nll_full"),
                  header.get("nll_sounding"), nll.get("model") if isinstance(nll, dict) else None]
    for value in candidates:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None

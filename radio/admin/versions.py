"""Model versions per style: the files, their metrics and which one is active.

A trained version is stored as ``<home>/models/<style>/<version>.npz`` (version = the
model's own id: the first 12 hex digits of the file's sha256) and registered in the
``model_versions`` table of the catalog's SQLite file. The style's bundled model is listed
as a version too (``source: "bundled"``), so a rollback to it is an ordinary activation.
No pointer row means the bundled model is active.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radio.admin.jobs import DB_FILE
from radio.library.base import utc_now
from radio.errors import ModelFileError
from radio.styles import Style

MODELS_DIR = "models"
SMOKE_BEATS = 32  # beats generated to check that a loaded model really produces valid notes

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    style TEXT NOT NULL,
    version TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (style, version)
);
CREATE TABLE IF NOT EXISTS model_active (
    style TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    activated_at TEXT NOT NULL
);
"""


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

    @property
    def heldout_nll(self) -> float | None:
        return heldout_nll(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["heldout_nll"] = self.heldout_nll
        data["summary"] = metrics_summary(self.metrics)
        return data


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
    a model file's header holds ``{"model": {"nll_full": x, "nll_sounding": y}, ...}``. A bare
    number is accepted as well, as is a top-level ``heldout_nll``.
    """
    if not metrics:
        return None
    candidates: list[Any] = [metrics.get("heldout_nll")]
    full = metrics.get("nll_full_per_beat")
    if isinstance(full, dict):
        candidates.append(full.get("model"))
    if isinstance(metrics.get("model"), dict):  # a model file's header: the full metrics
        candidates += [metrics["model"].get("nll_full"), metrics["model"].get("nll_sounding")]
    nll = metrics.get("nll_per_beat")
    if isinstance(nll, dict):
        candidates += [nll.get(k) for k in ("model", "heldout", "test", "val")]
    else:
        candidates.append(nll)
    for value in candidates:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def check_model(path: Path):
    """Load a model file and generate a few beats from it; raise ModelFileError if either fails."""
    from radio.model import load_model
    from radio.music.notes import validate

    model = load_model(path)
    try:
        beats = model.sampler(temperature=1.0, seed=0).next_beats(SMOKE_BEATS)
        validate(beats)
    except ModelFileError:
        raise
    except Exception as exc:  # a model that loads but cannot generate must not reach a channel
        raise ModelFileError(f"{path}: the model loads but does not generate valid notes: {exc}") from exc
    if len(beats) != SMOKE_BEATS:
        raise ModelFileError(f"{path}: the model produced {len(beats)} beats when asked for {SMOKE_BEATS}")
    return model


class VersionRegistry:
    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.root = self.home / MODELS_DIR
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.home / DB_FILE, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._bundled: dict[tuple[str, float], ModelVersion] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def register(self, style: str, model_file: Path, metrics: dict[str, Any], job_id: str | None):
        """Validate ``model_file``, copy it into the store and record it. Returns (version, model)."""
        model = check_model(model_file)
        folder = self.root / style
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{model.version}.npz"
        if not target.exists():
            partial = folder / f".{model.version}.npz.partial"
            shutil.copyfile(model_file, partial)
            os.replace(partial, target)  # readers see the whole file or none
        record = ModelVersion(style, model.version, str(target), "trained", utc_now(), job_id, dict(metrics or {}))
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO model_versions (style, version, path, source, job_id, created_at, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (style, record.version, record.path, record.source, job_id, record.created_at, json.dumps(record.metrics)),
            )
        return record, model

    def bundled(self, style: Style) -> ModelVersion | None:
        """The style's bundled model as a version (header metrics), or None if it has none."""
        path = style.model_path
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        key = (str(path), mtime)
        if key not in self._bundled:
            from radio.model import load_model

            try:
                model = load_model(path)
            except ModelFileError:
                return None
            header = model.header or {}
            self._bundled[key] = ModelVersion(
                style.name, model.version, str(path), "bundled",
                str(header.get("created_at", "")), None, dict(header.get("metrics") or {}),
            )
        return self._bundled[key]

    def trained(self, style: str) -> list[ModelVersion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM model_versions WHERE style = ? ORDER BY created_at, rowid", (style,)
            ).fetchall()
        return [
            ModelVersion(r["style"], r["version"], r["path"], r["source"], r["created_at"], r["job_id"], json.loads(r["metrics"]))
            for r in rows
        ]

    def active_version(self, style: str) -> str | None:
        """The activated version, or None when the bundled model is the active one."""
        with self._lock:
            row = self._db.execute("SELECT version FROM model_active WHERE style = ?", (style,)).fetchone()
        return row[0] if row else None

    def styles_with_active(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT style, version FROM model_active").fetchall()
        return {r[0]: r[1] for r in rows}

    def versions(self, style: Style | str, bundled: ModelVersion | None = None) -> list[ModelVersion]:
        """Every version of a style, bundled first, with ``active`` set on the active one."""
        name = style if isinstance(style, str) else style.name
        if bundled is None and not isinstance(style, str):
            bundled = self.bundled(style)
        found = ([bundled] if bundled else []) + [v for v in self.trained(name) if not bundled or v.version != bundled.version]
        active = self.active_version(name) or (bundled.version if bundled else None)
        for v in found:
            v.active = v.version == active
        return found

    def find(self, style: Style | str, version: str) -> ModelVersion | None:
        return next((v for v in self.versions(style) if v.version == version), None)

    def active(self, style: Style | str) -> ModelVersion | None:
        return next((v for v in self.versions(style) if v.active), None)

    def set_active(self, style: str, version: ModelVersion) -> None:
        with self._lock:
            if version.source == "bundled":
                self._db.execute("DELETE FROM model_active WHERE style = ?", (style,))
            else:
                self._db.execute(
                    "INSERT INTO model_active (style, version, activated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(style) DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at",
                    (style, version.version, utc_now()),
                )


def should_activate(new: ModelVersion, active: ModelVersion | None, *, force: bool) -> tuple[bool, str]:
    """Whether a freshly trained version replaces the active one, and why (or why not)."""
    if force:
        return True, "force=true"
    new_nll = new.heldout_nll
    if active is None:
        return True, "no active version yet"
    old_nll = active.heldout_nll
    if old_nll is None:
        return True, f"the active version {active.version} has no held-out NLL to compare with"
    if new_nll is None:
        return False, "the new version has no held-out NLL; activate it by hand if wanted"
    if new_nll <= old_nll:
        return True, f"held-out NLL {new_nll:.4f} <= {old_nll:.4f} of {active.version}"
    return False, f"held-out NLL {new_nll:.4f} > {old_nll:.4f} of the active {active.version}"

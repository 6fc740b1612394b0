"""Model versions per style: the files, their metrics and which one is active.

A trained version is stored as ``<home>/models/<style>/<version>.npz`` (version = the
model's own id: the first 12 hex digits of the file's sha256) and registered in the
``model_versions`` table of the catalog's SQLite file, or in MongoDB. With a shared store (S3)
the file is uploaded there too, as ``models/<style>/<version>.npz``, and every node fetches it
from there into its own ``<home>/models/``. The style's bundled model is listed
as a version too (``source: "bundled"``), so a rollback to it is an ordinary activation.
No pointer row means the bundled model is active.

Each row also keeps the version's ``facts`` (:func:`header_facts`: its held-out set and how its
training ended), read from the model file's header when it is registered, so that every node
can show them without having fetched the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import shutil
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radio.admin.jobs import Job
from radio.errors import ContinuoError, ModelFileError
from radio.library import CATALOG_FILE
from radio.library.sqlite_catalog import connect
from radio.timestamps import utc_now
from radio.styles import Style

MODELS_DIR = "models"
SMOKE_BEATS = 32  # beats generated to check that a loaded model really produces valid notes


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
SAME_SCORE = 1e-4  # nats per beat: closer than this is a tie

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    style TEXT NOT NULL,
    version TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    facts TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (style, version)
);
CREATE TABLE IF NOT EXISTS model_active (
    style TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    activated_at TEXT NOT NULL
);
"""
# Added for the admin page (header_facts); a table made before it gains the column on open.
FACTS_COLUMN = "ALTER TABLE model_versions ADD COLUMN facts TEXT NOT NULL DEFAULT '{}'"


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
    baseline = (_number(m, "nll_full_per_beat.unigram", "unigram.nll_full") if full else None)
    return {
        "heldout_nll": summary["heldout_nll"],
        "frame_accuracy": summary["frame_accuracy"],
        "baseline_nll": baseline if baseline is not None else (None if full else summary["unigram_nll"]),
        "measure": None if summary["heldout_nll"] is None else ("full" if full else "sounding"),
    }


def _number(data: dict[str, Any], *paths: str) -> float | None:
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
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode("utf-8"))
    except Exception:  # noqa: BLE001 - a version whose file is gone or odd still lists, without facts
        return {}
    return header if isinstance(header, dict) else {}


def compare(new: ModelVersion, base: ModelVersion | None) -> dict[str, Any] | None:
    """How ``new`` scores against ``base`` (the active version): on which figure, by how much,
    and whether the two were measured on the same held-out pieces.

    When ``new``'s training scored ``base`` on ``new``'s own held-out pieces (the done metrics'
    ``compared``), that is the comparison (``basis: "same pieces"``): both figures on the same
    pieces with the same measure. Otherwise each version's own figure is used
    (``basis: "own held-out sets"``), which may have been measured on other pieces; ``why_not``
    says why the fair comparison is missing."""
    if base is None or base.version == new.version:
        return None
    fair = same_pieces_comparison(new, base, this="this version")
    if fair["fair"]:
        value, base_value = fair["value"], fair["base_value"]
        delta = value - base_value
        verdict = "same" if abs(delta) < SAME_SCORE else ("better" if delta < 0 else "worse")
        return {"against": base.version, "metric": "heldout_nll", "value": value, "base_value": base_value,
                "delta": delta, "verdict": verdict, "same_heldout": True, "same_measure": True,
                "basis": "same pieces", "pieces": fair["pieces"], "set": fair["set"], "measure": "full",
                "note": fair["words"], "why_not": None}
    a, b = figures(new.metrics), figures(base.metrics)
    metric = "heldout_nll" if a["heldout_nll"] is not None and b["heldout_nll"] is not None else None
    result: dict[str, Any] = {"against": base.version, "metric": metric, "value": None, "base_value": None,
                              "delta": None, "verdict": "unknown", "same_heldout": None,
                              "same_measure": None if metric is None else a["measure"] == b["measure"],
                              "basis": "own held-out sets", "pieces": None, "set": None, "measure": None,
                              "note": None, "why_not": fair["why"]}
    if metric is not None:
        value, base_value = float(a[metric]), float(b[metric])  # NLLs: lower is better
        delta = value - base_value
        verdict = "same" if abs(delta) < SAME_SCORE else ("better" if delta < 0 else "worse")
        result.update(value=value, base_value=base_value, delta=delta, verdict=verdict,
                      measure=a["measure"] if a["measure"] == b["measure"] else None)
    mine, theirs = heldout_set(new), heldout_set(base)
    if mine["fingerprint"] and theirs["fingerprint"]:
        result["same_heldout"] = mine["fingerprint"] == theirs["fingerprint"]
    elif (mine["pieces"], mine["beats"]) != (theirs["pieces"], theirs["beats"]) and None not in (mine["pieces"], theirs["pieces"]):
        result["same_heldout"] = False
    return result


FULL_MEASURE = "held-out NLL per beat (notes with struck/held)"
BY_HAND = "activate it by hand if wanted"


def _plural(n: Any, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def same_pieces_comparison(new: ModelVersion, active: ModelVersion, *, this: str = "the new version") -> dict[str, Any]:
    """Whether ``new``'s training scored ``active`` on ``new``'s own held-out pieces with the same
    measure (the done metrics' ``compared`` block, from ``continuo train --compare-with``).

    Returns ``{"fair": True, "value", "base_value", "pieces", "set", "words"}`` (``words``: the
    figures in a sentence that names the pieces and the measure) or ``{"fair": False, "why"}``,
    ``why`` in plain words, about ``active`` ("it")."""
    m = new.metrics or {}
    c = m.get("compared") if isinstance(m.get("compared"), dict) else None
    held = m.get("held_out") if isinstance(m.get("held_out"), dict) else {}
    c_held = (c or {}).get("held_out") if isinstance((c or {}).get("held_out"), dict) else {}
    pieces = held.get("pieces", c_held.get("pieces"))
    key = held.get("key") or c_held.get("key")
    new_full = _number(m, "nll_full_per_beat.model", "model.nll_full")
    trained = (c or {}).get("trained_on_held_out")
    why: str | None = None
    if c is None:
        why = (f"it was not scored on {this}'s held-out pieces, and each version's own figure was measured on "
               "other pieces")
    elif c.get("version") != active.version:
        why = f"the run scored version {c.get('version')} on its held-out pieces, not this one"
    elif held.get("key") and c_held.get("key") and held["key"] != c_held["key"]:
        why = f"it was scored on other pieces than {this}'s held-out set"
    elif not isinstance(trained, int) or isinstance(trained, bool):
        why = f"the run did not say whether it trained on {this}'s held-out pieces"
    elif trained > 0:
        why = (f"it trained on {trained} of {this}'s {_plural(pieces if pieces is not None else '?', 'held-out piece')}, "
               "so its figure on them would flatter it")
    elif new_full is None:
        why = (f"{this} has only the sounding-notes NLL, a different measure from the NLL with struck/held"
               if _number(m, "nll_per_beat.model", "model.nll_sounding") is not None else f"{this} has no held-out NLL")
    elif _number(c, "nll_full") is None:
        sounding = _number(c, "nll_sounding")
        figure = f" ({sounding:.4f})" if sounding is not None else ""
        why = (f"it has only the sounding-notes NLL{figure}, a different measure from {this}'s NLL with struck/held "
               f"(it is a {c.get('encoding') or 'different'} model)")
    if why is not None:
        return {"fair": False, "why": why}
    base_full = _number(c, "nll_full")
    on = f"{this}'s {_plural(pieces, 'held-out piece')}" if pieces is not None else f"{this}'s held-out pieces"
    words = (f"{FULL_MEASURE} on {on}{f' (set {str(key)[:8]}…)' if key else ''}: "
             f"{new_full:.4f} vs {base_full:.4f} of the active {active.version}")
    return {"fair": True, "value": new_full, "base_value": base_full, "pieces": pieces, "set": key, "words": words}


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


class SqliteVersionTable:
    """The version rows and active pointers in the catalog's SQLite file."""

    def __init__(self, home: Path) -> None:
        self._lock = threading.Lock()
        self._db = connect(Path(home) / CATALOG_FILE)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(model_versions)")}
        if "facts" not in columns:  # a table made before the facts column gains it on open
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                self._db.execute(FACTS_COLUMN)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, v: ModelVersion) -> None:
        """Record a version; a version already recorded is left as it is."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO model_versions (style, version, path, source, job_id, created_at, metrics, facts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (v.style, v.version, v.path, v.source, v.job_id, v.created_at, json.dumps(v.metrics), json.dumps(v.facts)),
            )

    def trained(self, style: str) -> list[ModelVersion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM model_versions WHERE style = ? ORDER BY created_at, rowid", (style,)
            ).fetchall()
        return [
            ModelVersion(r["style"], r["version"], r["path"], r["source"], r["created_at"], r["job_id"],
                         json.loads(r["metrics"]), facts=json.loads(r["facts"] or "{}"))
            for r in rows
        ]

    def active_version(self, style: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT version FROM model_active WHERE style = ?", (style,)).fetchone()
        return row[0] if row else None

    def styles_with_active(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT style, version FROM model_active").fetchall()
        return {r[0]: r[1] for r in rows}

    def set_active(self, style: str, version: str | None) -> None:
        """Point ``style`` at ``version``; None points it back at the bundled model."""
        with self._lock:
            if version is None:
                self._db.execute("DELETE FROM model_active WHERE style = ?", (style,))
            else:
                self._db.execute(
                    "INSERT INTO model_active (style, version, activated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(style) DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at",
                    (style, version, utc_now()),
                )


def open_version_table(home: Path) -> Any:
    """MongoDB when CONTINUO_MONGODB_URI is set, else the catalog's SQLite file."""
    from radio.library.backends import StorageConfig

    config = StorageConfig.from_env()
    if config.mongodb_uri:
        from radio.admin.mongo_stores import MongoVersionTable

        return MongoVersionTable(config.mongodb_uri, timeout_ms=config.mongodb_timeout_ms)
    return SqliteVersionTable(home)


def file_version(path: Path) -> str:
    """A model file's version id: the first 12 hex digits of its sha256."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def model_key(style: str, version: str, suffix: str = ".npz") -> str:
    """Where a trained version's file lives in the shared store (and, below models/, on disk)."""
    return f"{MODELS_DIR}/{style}/{version}{suffix}"


class VersionRegistry:
    """Model versions: the rows in a version table, the files on this machine's disk and, when
    the deployment has one, in the shared store (S3) that every node reads.

    ``<home>/models/<style>/<version>.npz`` is the file a channel loads. With a shared store it
    is a cache: :meth:`fetch` downloads a version another machine registered (its sha256 is
    checked on the way, and the model's own id must match the version)."""

    def __init__(self, home: Path, *, table: Any = None, shared: Any = None) -> None:
        from radio.library.backends import StorageConfig, shared_store

        self.home = Path(home)
        self.root = self.home / MODELS_DIR
        self.table = table if table is not None else open_version_table(self.home)
        try:
            self.shared = shared if shared is not None else shared_store(StorageConfig.from_env())
        except BaseException:
            self.table.close()
            raise
        self._bundled: dict[tuple[str, float], ModelVersion] = {}
        self._facts: dict[tuple[str, float], dict[str, Any]] = {}  # (file, mtime) -> header_facts

    def close(self) -> None:
        self.table.close()

    def local_path(self, style: str, version: str) -> Path:
        return self.root / style / f"{version}.npz"

    def register(self, style: str, model_file: Path, metrics: dict[str, Any], job_id: str | None,
                 *, plot: Path | None = None):
        """Validate ``model_file``, copy it into the store and record it. Returns (version, model).

        With a shared store the file (and its loss plot) is uploaded before the row is written,
        so no node ever sees a version whose file it cannot fetch."""
        model = check_model(model_file)
        folder = self.root / style
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{model.version}.npz"
        if not target.exists():
            partial = folder / f".{model.version}.npz.partial"
            shutil.copyfile(model_file, partial)
            os.replace(partial, target)  # readers see the whole file or none
        if self.shared is not None:
            self.shared.put_file(model_key(style, model.version), target)
            if plot is not None and plot.is_file():
                self.shared.put_file(model_key(style, model.version, ".loss.png"), plot)
        # The header's facts go into the row too: a node that has not fetched the file yet
        # (a version a worker trained) still shows the held-out set and how training ended.
        record = ModelVersion(style, model.version, str(target), "trained", utc_now(), job_id, dict(metrics or {}),
                              facts=header_facts(model.header or {}))
        self.table.insert(record)
        return record, model

    def fetch(self, version: ModelVersion) -> Path:
        """The version's file on this machine, downloaded from the shared store if need be.
        Raises ModelFileError when it is nowhere to be had (LibraryError: the store failed)."""
        path = Path(version.path)
        if path.is_file() or version.source == "bundled":
            return path
        if self.shared is None:
            raise ModelFileError(f"the file of {version.style} version {version.version} is missing: {path}")
        # Fetched beside the live path and checked there: only a file whose hash is the version
        # is renamed into place, so a channel never loads another model from the live path.
        # A ".partial" name, so that a crash's leftover is swept at the next start.
        fetching = path.with_name(f".{path.name}.fetch-{os.getpid()}-{threading.get_ident()}.partial")
        try:
            try:
                self.shared.get_to(model_key(version.style, version.version), fetching)
            except KeyError:
                raise ModelFileError(
                    f"{version.style} version {version.version} is registered, but its file is not in the shared store"
                ) from None
            if file_version(fetching) != version.version:  # a version is its file's hash: anything else is not it
                raise ModelFileError(
                    f"the shared store's file for {version.style} version {version.version} is another model; "
                    "register the version again"
                )
            os.replace(fetching, path)
        finally:
            fetching.unlink(missing_ok=True)
        with contextlib.suppress(KeyError, ContinuoError):  # the loss plot is a nicety
            self.shared.get_to(model_key(version.style, version.version, ".loss.png"), path.with_suffix(".loss.png"))
        return path

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
                facts=header_facts(header),
            )
        return self._bundled[key]

    def facts(self, path: str) -> dict[str, Any]:
        """header_facts of a stored version's file, read once per file."""
        try:
            key = (path, os.stat(path).st_mtime)
        except OSError:
            return {}
        if key not in self._facts:
            self._facts[key] = header_facts(read_header(Path(path)))
        return self._facts[key]

    def trained(self, style: str) -> list[ModelVersion]:
        # The path is this machine's: another node may have registered the version. A row
        # written before versions carried their facts gets them from the file, if it is here.
        return [
            dataclasses.replace(v, path=str(path), facts=v.facts or self.facts(str(path)))
            for v in self.table.trained(style)
            for path in (self.local_path(v.style, v.version),)
        ]

    def active_version(self, style: str) -> str | None:
        """The activated version, or None when the bundled model is the active one."""
        return self.table.active_version(style)

    def styles_with_active(self) -> dict[str, str]:
        return self.table.styles_with_active()

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
        self.table.set_active(style, None if version.source == "bundled" else version.version)


def should_activate(new: ModelVersion, active: ModelVersion | None, *, force: bool) -> tuple[bool, str]:
    """Whether a freshly trained version replaces the active one, and why (or why not).

    Only a fair comparison puts a version on air by itself: the active model scored on the new
    version's own held-out pieces (the run's ``compared`` block), having trained on none of them,
    with the same measure (the NLL with struck/held), and the new version no worse. Each
    version's own header figure is no basis: it was measured on other pieces (an upload changes
    the split; a bundled model was measured on pieces not in the library), and a seed model only
    has the sounding-notes figure. Without a fair comparison the version stays off air, and the
    reason says why: an admin can still activate it by hand (or retrain with ``force``)."""
    if force:
        return True, "force=true"
    if active is None:
        return True, "no active version yet"
    fair = same_pieces_comparison(new, active)
    if not fair["fair"]:
        return False, f"no fair comparison with the active {active.version}: {fair['why']}; {BY_HAND}"
    if fair["value"] <= fair["base_value"]:
        return True, f"{fair['words']} (lower is better)"
    return False, f"{fair['words']}: the new version is worse (lower is better); {BY_HAND}"


async def register_trained(registry: VersionRegistry, style: Style, job: Job, done: dict[str, Any]) -> ModelVersion | None:
    """Register the model a training job wrote and decide whether it replaces the active one.

    The job learns its version, how training ended and the activation reason. Returns the
    version to make active, or ``None`` when it stays as it is (already active, or not better).
    One rule for the in-process runner and for ``continuo worker``, so a style's active model
    moves on the same evidence wherever it was trained.
    """
    model_path = Path(done["model_path"])
    plot = model_path.with_suffix(".loss.png")  # the trainer's loss curve, if it drew one
    version, _ = await asyncio.to_thread(
        registry.register, job.style, model_path, done.get("metrics") or {}, job.id, plot=plot
    )
    job.model_version = version.version
    job.note_training(version.facts, done.get("metrics"))  # how training ended, for the admin page
    from radio.audio.calibrate import record_model_gain_quietly  # its loudness, for a swap at -16 LUFS

    await asyncio.to_thread(record_model_gain_quietly, style, Path(version.path))
    if plot.is_file():
        os.replace(plot, Path(version.path).with_suffix(".loss.png"))
    current = await asyncio.to_thread(registry.active, style)
    if current is not None and current.version == version.version:
        job.activated, job.activation_reason = True, "identical to the active version"
        return None
    ok, reason = should_activate(version, current, force=bool(job.options.get("force")))
    job.activation_reason = reason
    return version if ok else None

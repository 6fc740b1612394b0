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
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from radio.admin.comparison import should_activate
from radio.admin.jobs import Job
from radio.admin.stores import open_version_table
from radio.admin.version_facts import ModelVersion, header_facts, read_header
from radio.errors import ContinuoError, ModelFileError
from radio.files import atomic_path
from radio.library.backends import shared_store
from radio.library.storage_config import StorageConfig
from radio.library.base import BlobStore
from radio.timestamps import utc_now
from radio.styles import Style

MODELS_DIR = "models"
SMOKE_BEATS = 32  # beats generated to check that a loaded model really produces valid notes


class VersionTable(Protocol):
    """Where version rows and active pointers persist: the catalog's SQLite file
    (:class:`radio.admin.stores.sqlite.SqliteVersionTable`) or MongoDB
    (:class:`radio.admin.stores.mongo.MongoVersionTable`)."""

    def insert(self, v: ModelVersion) -> None: ...
    def trained(self, style: str) -> list[ModelVersion]: ...
    def active_version(self, style: str) -> str | None: ...
    def styles_with_active(self) -> dict[str, str]: ...
    def set_active(self, style: str, version: str | None) -> None: ...
    def close(self) -> None: ...


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

    def __init__(self, home: Path, *, table: VersionTable | None = None, shared: BlobStore | None = None) -> None:
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
            with atomic_path(target) as partial:  # readers see the whole file or none
                shutil.copyfile(model_file, partial)
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
        # A radio.files temp name, so that a crash's leftover is swept at the next start.
        with atomic_path(path) as fetching:
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
    from radio.station.calibration import record_model_gain_quietly  # its loudness, for a swap at -16 LUFS

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

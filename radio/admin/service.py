"""What the admin endpoints do, independent of HTTP: styles, pieces, jobs, versions, swaps.

One :class:`AdminService` per server. It owns the job store, the job runner and the
version registry, and talks to the running :class:`radio.station.station.Station` only through
its public surface: ``channels``, ``Channel.swap_model`` and ``Station.add_style``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import tomli_w

from radio.admin.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable, quoted
from radio.admin.follow import ActiveFollower
from radio.admin.jobs import FINAL_STATES, HERE, TRAIN_ON, WORKERS, Job, hide_paths
from radio.admin.stores import open_job_store
from radio.admin.queue import WorkerQueue
from radio.admin.runner import SCRATCH_DIR, JobRunner, kill_leftover_trainer
from radio.admin.starts import TrainPlan, base_model_path, library_pieces, plan_training
from radio.admin.uploads import Upload, UploadLimits, ingest_files, piece_json
from radio.admin.versions import VersionRegistry, check_model, register_trained
from radio.admin.version_facts import METRICS, ModelVersion
from radio.admin.comparison import compare
from radio.config import env_float
from radio.errors import LibraryError, ModelFileError, StyleError
from radio.library.backends import storage_env
from radio.model.lineage import BASE_STYLE
from radio.styles import Style, check_style_name, discover_styles, load_style, parse_style
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")

HOME_STYLES_DIR = "styles"
# What the trainer needs before it can start (trainer/dataset.py): two pieces, one to learn
# from and one to hold out, and more beats than one 128-beat training window. A retrain
# below this is refused up front instead of failing seconds later inside TensorFlow.
MIN_TRAIN_PIECES = 2
MIN_TRAIN_BEATS = 129
FEED_QUEUE = 256  # events a slow admin page may fall behind before its feed is ended
STYLE_FIELDS = ("name", "display_name", "description", "composer", "from_styles", "like",
                "tempo_bpm", "temperature", "piece_minutes")


class AdminService:
    def __init__(
        self,
        station: Any,
        home: Path,
        *,
        bundled_styles_root: Path | None = None,
        swap_seconds: float | None = None,
        max_jobs: int = 1,
        limits: UploadLimits | None = None,
        train_on: str = HERE,
        poll_seconds: float | None = None,
    ) -> None:
        from radio.library import open_library

        if train_on not in TRAIN_ON:
            raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}, not {train_on!r}")

        self.station = station
        self.home = Path(home)
        self.bundled_root = bundled_styles_root
        self.home_styles = self.home / HOME_STYLES_DIR
        self.swap_seconds = swap_seconds
        self.limits = limits or UploadLimits()
        self.library = open_library(self.home)
        self.store = open_job_store(self.home)
        self.registry = VersionRegistry(self.home)
        self.train_on = train_on
        if train_on == WORKERS:  # `continuo worker`s claim the jobs from the shared store
            self.runner: JobRunner | WorkerQueue = WorkerQueue(self.store, style_spec=self._style_spec)
        else:
            self.runner = JobRunner(
                self.store, self.home, on_done=self._job_done, max_concurrent=max_jobs, env_for_style=self._trainer_env,
                plan=self._plan_job,
            )
        poll = poll_seconds if poll_seconds is not None else env_float("CONTINUO_ACTIVE_POLL_SECONDS")
        self.follower = ActiveFollower(self, poll or ActiveFollower.POLL_SECONDS)
        self._lock = asyncio.Lock()  # serialises activations and style creation
        self._feeds: set[asyncio.Queue] = set()  # open /admin/events feeds
        self._forwarders: set[asyncio.Task] = set()  # one per job being followed for the feeds

    # --- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Record jobs a previous server left behind; put each style's active version on air."""
        for job in await in_store_thread(self.store.fail_interrupted, "the server stopped while the job was running"):
            killed = kill_leftover_trainer(job, self.home)
            log.warning("admin: job %s (%s) marked failed: %s%s", job.id, job.style, job.error,
                        "; its trainer was still running and was killed" if killed else "")
        scratch = self.home / SCRATCH_DIR
        # A worker sharing this data dir may be training right now: its files stay.
        busy = {job.id for job in await in_store_thread(self.store.active)}
        for leftover in scratch.glob("*") if scratch.is_dir() else ():
            # partial models of jobs that will never finish
            if leftover.name.lstrip(".").split(".")[0] in busy:
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        if not busy:  # a worker writing into this data dir may own a partial file right now
            removed = await in_store_thread(remove_partial_files, self.home)
            if removed:
                log.warning("admin: removed %d partial file(s) a crash or a full disk left behind", removed)
        pointers = await in_store_thread(self.registry.styles_with_active)
        for name, version in pointers.items():
            # Channels the server was asked to play get their active version; a style created
            # here comes on air by itself. Other bundled styles stay off, as the server chose.
            if name not in self.station.channels and not self.is_home_style(name):
                continue
            try:
                await self.activate(name, version, within_seconds=0.0, reason="restoring the active version at start")
            except Exception as exc:  # one broken style must not stop the station
                log.error("admin: cannot restore %s version %s: %s", name, version, exc)
        await self.runner.start()
        self.follower.start(pointers)  # activations made elsewhere (other nodes, workers) come on air here too

    async def close(self) -> None:
        for feed in list(self._feeds):
            self._end_feed(feed)
        await self.follower.close()
        await self.runner.close()
        for task in list(self._forwarders):
            task.cancel()
        for task in list(self._forwarders):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.store.close()
        self.registry.close()
        self.library.close()

    # --- styles --------------------------------------------------------------------
    def all_styles(self) -> dict[str, Style]:
        """Bundled styles, then styles created here (in the data dir), then live channels."""
        found = dict(discover_styles(self.bundled_root))
        for name, style in discover_styles(self.home_styles).items():
            found.setdefault(name, style)
        for name, channel in getattr(self.station, "channels", {}).items():
            found.setdefault(name, channel.style)
        return found

    def style(self, name: str) -> Style:
        try:
            check_style_name(name)
        except StyleError as exc:
            raise BadRequest(str(exc)) from exc
        style = self.all_styles().get(name)
        if style is None:
            raise NotFound(f"unknown style {name!r}")
        return style

    def is_home_style(self, name: str) -> bool:
        return (self.home_styles / name / "style.toml").is_file() and name not in discover_styles(self.bundled_root)

    async def list_styles(self) -> list[dict[str, Any]]:
        styles = self.all_styles()
        counts = await in_store_thread(self._piece_counts)
        out = []
        for name, style in styles.items():
            channel = self.station.channels.get(name)
            active = await in_store_thread(self.registry.active, style)
            job = self.runner.active_job(name)
            out.append({
                "style": name,
                "name": style.display_name,
                "description": style.description,
                "corpus_styles": list(style.corpus_styles),
                "pieces": sum(counts.get(s, (0, 0))[0] for s in style.corpus_styles),
                "beats": sum(counts.get(s, (0, 0))[1] for s in style.corpus_styles),
                "pieces_needed": MIN_TRAIN_PIECES,
                "beats_needed": MIN_TRAIN_BEATS,
                "on_air": channel is not None,
                "playing_version": getattr(channel, "model_version", None),
                "active_version": active.version if active else None,
                "active_source": active.source if active else None,
                # How many pieces the active model learnt from: a bundled model learnt from a
                # corpus that need not be in this library, which is why "pieces" can be 0.
                "active_trained_on": (active.facts.get("pieces") if active else None),
                "active_heldout_pieces": (active.facts.get("heldout_pieces") if active else None),
                "created_here": self.is_home_style(name),
                "job": job.to_dict() if job else None,
                "swap": self.swap_state(name),
            })
        return out

    def _piece_counts(self) -> dict[str, tuple[int, int]]:
        """Library style -> (pieces, beats)."""
        counts: dict[str, tuple[int, int]] = {}
        for piece in self.library.catalog.list_pieces():
            n, beats = counts.get(piece.style, (0, 0))
            counts[piece.style] = (n + 1, beats + piece.beats)
        return counts

    async def library_styles(self) -> dict[str, Any]:
        """The library's own styles (where pieces are filed) with their sizes: what a new
        style can be built from (``from_styles``)."""
        counts = await in_store_thread(self._piece_counts)
        return {"styles": [{"style": name, "pieces": n, "beats": beats} for name, (n, beats) in sorted(counts.items())],
                "pieces_needed": MIN_TRAIN_PIECES}

    # --- the live feed of /admin/events --------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        """A queue of ``(event, data)``: ``("job", job)`` after every change of a job this server
        runs, ``("styles", None)`` when a style, its pieces or its versions changed, and ``None``
        when the feed ends."""
        feed: asyncio.Queue = asyncio.Queue(FEED_QUEUE)
        self._feeds.add(feed)
        return feed

    def unsubscribe(self, feed: asyncio.Queue) -> None:
        self._feeds.discard(feed)

    def _publish(self, event: str, data: Any = None) -> None:
        for feed in list(self._feeds):
            try:
                feed.put_nowait((event, data))
            except asyncio.QueueFull:  # a page that stopped reading: end its feed, it reconnects
                self._end_feed(feed)

    def _end_feed(self, feed: asyncio.Queue) -> None:
        self._feeds.discard(feed)
        while True:
            try:
                feed.put_nowait(None)
                return
            except asyncio.QueueFull:
                feed.get_nowait()

    def _follow(self, job: Job) -> None:
        """Forward every change of ``job`` to the feeds until it ends."""
        queue = self.runner.watch(job.id)
        self._publish("job", job.to_dict())

        async def forward() -> None:
            try:
                while True:
                    snapshot = await queue.get()
                    self._publish("job", snapshot)
                    if snapshot["state"] in FINAL_STATES:
                        self._publish("styles")
                        return
            finally:
                self.runner.unwatch(job.id, queue)

        task = asyncio.get_running_loop().create_task(forward())
        self._forwarders.add(task)
        task.add_done_callback(self._forwarders.discard)

    def on_air_signature(self) -> tuple:
        """What changes on air without an admin action (a swap being heard): a feed compares
        this every second and sends the styles again when it differs."""
        return tuple(sorted(
            (name, c.model_version, c.upcoming_model_version) for name, c in self.station.channels.items()
        ))

    def swap_state(self, name: str) -> dict[str, Any] | None:
        """Whether a newly activated version is still on its way to listeners' ears, and about when
        it will be heard. None for a style that is not on air."""
        channel = self.station.channels.get(name)
        if channel is None:
            return None
        if not channel.swap_pending:
            return {"pending": False, "version": None, "eta_seconds": None, "expected_at": None, "deadline": None}
        eta = channel.swap_eta()
        expected = None if eta is None else (datetime.now(timezone.utc) + timedelta(seconds=eta)).isoformat(timespec="seconds")
        return {"pending": True, "version": channel.upcoming_model_version,
                "eta_seconds": None if eta is None else round(eta, 1), "expected_at": expected,
                "deadline": "piece boundary" if channel.swap_deadline is None else "within_seconds"}

    async def create_style(self, fields: dict[str, Any], upload: Upload | None = None) -> dict[str, Any]:
        unknown = set(fields) - set(STYLE_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field(s) {sorted(unknown)}; allowed: {list(STYLE_FIELDS)}")
        name = str(fields.get("name") or "")
        try:
            check_style_name(name)
        except StyleError as exc:
            raise BadRequest(str(exc)) from exc
        if name == BASE_STYLE:  # `continuo train --style base` trains on every library style
            raise BadRequest(f"style name {name!r} is reserved for the shared base model every style fine-tunes; choose another")
        from_styles = fields.get("from_styles") or []
        if isinstance(from_styles, str):
            from_styles = [s.strip() for s in from_styles.split(",") if s.strip()]
        if not isinstance(from_styles, list):
            raise BadRequest("from_styles must be a list of library style names")
        for s in from_styles:
            try:
                check_style_name(str(s))
            except StyleError as exc:
                raise BadRequest(f"from_styles: {exc}") from exc
        if from_styles:
            counts = await in_store_thread(self._piece_counts)
            empty = [s for s in from_styles if s not in counts]
            if empty:
                known = ", ".join(sorted(counts)) or "none yet: upload MIDI files instead"
                raise BadRequest(f"from_styles: the library has no pieces filed under {', '.join(map(repr, empty))} "
                                 f"(library styles: {known})")
        composer = str(fields.get("composer") or "").strip()
        base = self.style(str(fields["like"])) if fields.get("like") else next(iter(self.all_styles().values()), None)
        settings = {
            "tempo_bpm": number(fields, "tempo_bpm", base.tempo_bpm if base else 96.0, 20, 300),
            "temperature": number(fields, "temperature", base.temperature if base else 1.0, 0.05, 5),
            "piece_minutes": number(fields, "piece_minutes", base.piece_minutes if base else 4.0, 0.1, 60),
        }
        async with self._lock:
            if name in self.all_styles():
                raise Conflict(f"style {name!r} already exists")
            matches = []
            if composer:
                matches = await in_store_thread(self.library.catalog.list_pieces, None, composer)
                if not matches:
                    raise BadRequest(f"no pieces in the catalog by composer {composer!r}")
            # The trainer selects pieces by library style; the composer filter is recorded in
            # [corpus] composers, and the styles holding that composer's pieces are included.
            source_styles = sorted({p.style for p in matches} | set(from_styles))
            accepted, duplicates, rejected = [], [], list(upload.rejected if upload else [])
            if upload and upload.files:
                accepted, duplicates, bad = await ingest_files(self.library, name, upload.files, composer=composer)
                rejected += bad
            folder = self.home_styles / name
            write_style_toml(
                folder, name=name, display_name=str(fields.get("display_name") or name.replace("-", " ").title()),
                description=str(fields.get("description") or ""), settings=settings,
                corpus_styles=[name, *[s for s in source_styles if s != name]],
                composers=[composer] if composer else [], timbre=base.timbre if base else None,
            )
        corpus_styles = [name, *[s for s in source_styles if s != name]]
        log.info("admin: created style %s in %s (%d uploaded, %d by composer %r)", name, folder, len(accepted), len(matches), composer)
        self._publish("styles")
        counts = await in_store_thread(self._piece_counts)
        pieces = sum(counts.get(s, (0, 0))[0] for s in corpus_styles)
        return {"style": name, "accepted": accepted, "duplicates": self._mark_duplicates(duplicates, corpus_styles),
                "rejected": rejected, "composer_matches": len(matches), "corpus_styles": corpus_styles,
                "pieces": pieces, "pieces_needed": MIN_TRAIN_PIECES, "on_air": False,
                "next": (f"retrain it (POST /admin/styles/{name}/retrain); it goes on air once a model is activated"
                         if pieces >= MIN_TRAIN_PIECES else
                         f"add at least {MIN_TRAIN_PIECES - pieces} more piece(s) (POST /admin/styles/{name}/pieces), then retrain")}

    @staticmethod
    def _mark_duplicates(duplicates: list[dict[str, Any]], corpus_styles: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
        """Say of each duplicate whether the style trains on it anyway (it is filed under one of
        the library styles the style learns from) or not."""
        for d in duplicates:
            d["counts_here"] = d["piece"]["style"] in corpus_styles
        return duplicates

    # --- pieces --------------------------------------------------------------------
    async def list_pieces(self, name: str) -> list[dict[str, Any]]:
        style = self.style(name)
        pieces = []
        for corpus_style in style.corpus_styles:
            pieces += await in_store_thread(self.library.catalog.list_pieces, corpus_style)
        return [piece_json(p) for p in pieces]

    async def add_pieces(self, name: str, upload: Upload) -> dict[str, Any]:
        style = self.style(name)
        # Pieces go where the trainer looks for this style: its own library style if it
        # trains on it, else the first library style it trains on.
        target = name if name in style.corpus_styles or not style.corpus_styles else style.corpus_styles[0]
        composer = upload.fields.get("composer", "")
        accepted, duplicates, rejected = await ingest_files(self.library, target, upload.files, composer=composer)
        log.info("admin: upload to %s: %d accepted, %d duplicates, %d rejected",
                 name, len(accepted), len(duplicates), len(upload.rejected) + len(rejected))
        if accepted:
            self._publish("styles")
        return {"style": name, "accepted": accepted, "duplicates": self._mark_duplicates(duplicates, style.corpus_styles),
                "rejected": upload.rejected + rejected}

    async def delete_piece(self, piece_id: str) -> dict[str, Any]:
        piece = await in_store_thread(self.library.catalog.get_piece, piece_id)
        if piece is None:
            raise NotFound(f"no piece {piece_id!r}")
        await in_store_thread(self.library.catalog.delete_piece, piece_id)
        # Blobs are content-addressed and a sha256 belongs to one piece, so the file goes too.
        await in_store_thread(self.library.blobs.delete, piece.blob_key)
        log.info("admin: deleted piece %s (%s) of %s", piece.id, quoted(piece.title), piece.style)
        self._publish("styles")
        return {"deleted": piece_json(piece)}

    # --- jobs ----------------------------------------------------------------------
    async def retrain(self, name: str, options: dict[str, Any]) -> Job:
        style = self.style(name)
        await self.check_trainable(name, style)
        # Where it starts (409 now for a start that cannot be); chosen again when the job runs.
        try:
            plan = await in_store_thread(self._plan, style, options)
        except LibraryError as exc:  # the catalog, or the shared store that holds the active version's file
            raise ServiceUnavailable(f"the retrain cannot be planned now, try again shortly: {hide_paths(str(exc))}") from exc
        job = await self.runner.submit(name, options, start=plan.to_dict())
        log.info("admin: retrain %s queued as job %s with %s (%s)", name, job.id, options, plan.start.label)
        self._follow(job)
        return job

    def base_model_path(self) -> Path:
        """The bundled base model every style's model is fine-tuned from (it may be absent)."""
        return base_model_path(self.bundled_root)

    def _plan(self, style: Style, options: dict[str, Any]) -> TrainPlan:
        pieces = library_pieces(self.library, style.corpus_styles)
        return plan_training(self.registry, style, options, base_path=self.base_model_path(), pieces=pieces)

    async def _plan_job(self, job: Job) -> TrainPlan:
        return await in_store_thread(self._plan, self.style(job.style), job.options)

    async def check_trainable(self, name: str, style: Style) -> None:
        """Refuse (422) a retrain the trainer would refuse: too few pieces or beats in the library."""
        counts = await in_store_thread(self._piece_counts)
        pieces = sum(counts.get(s, (0, 0))[0] for s in style.corpus_styles)
        beats = sum(counts.get(s, (0, 0))[1] for s in style.corpus_styles)
        if pieces >= MIN_TRAIN_PIECES and beats >= MIN_TRAIN_BEATS:
            return
        where = (f"add MIDI files to it with Upload in the style's pieces on /admin "
                 f"(POST /admin/styles/{name}/pieces), then retrain")
        if pieces < MIN_TRAIN_PIECES:
            raise Unprocessable(
                f"style {name!r} has {pieces} piece{'' if pieces == 1 else 's'} in the library and training needs at least "
                f"{MIN_TRAIN_PIECES} (one to learn from, one to test on): {where}")
        raise Unprocessable(
            f"style {name!r} has {pieces} pieces but only {beats} beats of music in the library, and training needs "
            f"at least {MIN_TRAIN_BEATS}: {where}")

    def _style_spec(self, style: str) -> str | None:
        """A style created here travels with its job: a worker elsewhere has no copy of it."""
        if not self.is_home_style(style):
            return None
        return (self.home_styles / style / "style.toml").read_text(encoding="utf-8")

    def _trainer_env(self, style: str) -> dict[str, str]:
        # The trainer reads the library where this server does (MongoDB/S3 settings, if any).
        env = storage_env()
        # A style created here lives in the data dir, where the trainer must look for it.
        if self.is_home_style(style):
            env["CONTINUO_STYLES"] = str(self.home_styles)
        return env

    async def _job_done(self, job: Job, done: dict[str, Any]) -> None:
        version = await register_trained(self.registry, self.style(job.style), job, done)
        if version is not None:
            await self.activate(job.style, version.version, reason=f"job {job.id}: {job.activation_reason}")
            job.activated = True

    # --- versions ------------------------------------------------------------------
    async def list_versions(self, name: str) -> dict[str, Any]:
        style = self.style(name)
        versions = await in_store_thread(self.registry.versions, style)
        channel = self.station.channels.get(name)
        active = next((v for v in versions if v.active), None)
        out = []
        for v in versions:
            data = v.to_dict()
            data["comparison"] = compare(v, active)  # against the active version: same held-out set? better?
            out.append(data)
        return {
            "style": name,
            "playing_version": getattr(channel, "model_version", None),
            "active_version": active.version if active else None,
            "swap": self.swap_state(name),
            "metrics": [dataclasses.asdict(m) for m in METRICS],
            "versions": out,
        }

    async def activate(self, name: str, version: str, *, within_seconds: float | None = None,
                       reason: str = "activated by an admin", record: bool = True) -> dict[str, Any]:
        """Put a version on air here and (``record``) make it the style's active version everywhere."""
        style = self.style(name)
        async with self._lock:
            try:
                found: ModelVersion | None = await in_store_thread(self.registry.find, style, version)
                if found is None:
                    raise NotFound(f"style {name!r} has no model version {version!r}")
                model = await in_store_thread(lambda: check_model(self.registry.fetch(found)))
            except ModelFileError as exc:
                log.warning("admin: %s version %s refused: %s", name, version, exc)
                raise Unprocessable(f"version {version} was rejected, the current model keeps playing: {hide_paths(str(exc))}") from exc
            except LibraryError as exc:  # the shared catalog or store is unreachable
                log.warning("admin: %s version %s cannot be fetched: %s", name, version, exc)
                raise ServiceUnavailable(
                    f"version {version} cannot be had now, the current model keeps playing: {hide_paths(str(exc))}"
                ) from exc
            within = self.swap_seconds if within_seconds is None else within_seconds
            channel = self.station.channels.get(name)
            if channel is None:
                try:
                    channel = await self.station.add_style(dataclasses.replace(style, model_file=found.path), model)
                except StyleError as exc:  # its style.toml asks for something a channel cannot play
                    raise Unprocessable(f"style {name!r} cannot go on air: {hide_paths(str(exc))}") from exc
                how = "a new channel"
            elif channel.model_version == found.version == channel.upcoming_model_version:
                how = "already playing"
            else:
                channel.swap_model(model, within_seconds=within)
                how = "next piece boundary" if within is None else f"within {within:g} s"
            if record:
                await in_store_thread(self.registry.set_active, name, found)
        log.info("admin: %s version %s activated (%s; %s)", name, version, how, reason)
        self._publish("styles")
        return {"style": name, "version": found.version, "swap": how, "reason": reason,
                "swap_state": self.swap_state(name)}


# Where an interrupted write can leave a half-written file, and the names such files have:
# blobs (tempfile's ".tmp-*"), model versions (".<version>.npz.partial"), style.toml files.
PARTIAL_FILES = (("blobs", ".tmp-*"), ("models", ".*.partial"), (HOME_STYLES_DIR, ".*.partial"))


def remove_partial_files(home: Path) -> int:
    """Delete every partial file under the data dir; readers never see them, so they are
    only ever garbage. Returns how many were removed."""
    removed = 0
    for folder, pattern in PARTIAL_FILES:
        root = home / folder
        for path in root.rglob(pattern) if root.is_dir() else ():
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def number(fields: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    raw = fields.get(key)
    if raw in (None, ""):
        return float(default)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{key} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{key} must be between {low:g} and {high:g}, not {value:g}")
    return value


def write_style_toml(folder: Path, *, name: str, display_name: str, description: str, settings: dict[str, float],
                     corpus_styles: list[str], composers: list[str], timbre: Any) -> None:
    """Write ``<folder>/style.toml`` with tomli-w, after checking that the text reads back as
    this style; the file is replaced atomically, so a bad value never reaches the disk."""
    doc: dict[str, Any] = {
        "name": display_name[:80],
        "description": description[:500],
        **settings,
        "model": "model.npz",
        "corpus": {"styles": list(corpus_styles), **({"composers": list(composers)} if composers else {})},
    }
    if timbre is not None:
        doc["timbre"] = {f.name: (list(v) if isinstance(v := getattr(timbre, f.name), tuple) else v)
                         for f in dataclasses.fields(timbre)}
    text = "# Created from the admin API.\n" + tomli_w.dumps(doc)
    parse_style(folder, tomllib.loads(text), folder / "style.toml")  # raises StyleError: nothing written
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / ".style.toml.partial"
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, folder / "style.toml")
    finally:
        partial.unlink(missing_ok=True)
    load_style(folder)

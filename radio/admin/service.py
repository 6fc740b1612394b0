"""The admin, independent of HTTP: one small service per thing it manages, put together here.

- :class:`~radio.admin.style_service.StyleService`: bundled and created styles, ``style.toml``
  (shared with every node through a :class:`~radio.style_file.StyleStore`);
- :class:`~radio.admin.piece_service.PieceService`: a style's pieces in the library;
- :class:`~radio.admin.job_service.JobService`: retrain jobs and their runner;
- :class:`~radio.admin.activation.Activations`: versions, activation and hot swaps;
- :class:`~radio.admin.feed.AdminFeed`: the ``/admin/events`` feed;
- :class:`~radio.admin.style_follow.StyleFollower` and :class:`~radio.admin.follow.ActiveFollower`:
  styles and activations made elsewhere, followed here (one :class:`~radio.admin.follow.FollowLoop`).

One :class:`AdminService` per server owns them, the job store and the version registry, starts
and stops them, and answers the one question that spans them all (:meth:`list_styles`). It
talks to the running station only through :class:`radio.admin.activation.OnAir`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

from radio.admin.activation import Activations, OnAir
from radio.admin.feed import AdminFeed
from radio.admin.follow import ActiveFollower, FollowLoop
from radio.admin.job_service import JobService
from radio.admin.jobs import HERE, TRAIN_ON
from radio.admin.piece_service import PieceService
from radio.admin.train_command import SCRATCH_DIR, kill_leftover_trainer
from radio.admin.stores import open_job_store, open_style_store
from radio.admin.style_follow import StyleFollower
from radio.admin.style_service import HOME_STYLES_DIR, MIN_TRAIN_BEATS, MIN_TRAIN_PIECES, StyleService
from radio.admin.uploads import UploadLimits
from radio.admin.versions import VersionRegistry
from radio.config import env_float
from radio.files import PARTIAL_PATTERNS
from radio.library import open_library
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")


class AdminService:
    def __init__(
        self,
        station: OnAir,
        home: Path,
        *,
        bundled_styles_root: Path | None = None,
        swap_seconds: float | None = None,
        max_jobs: int = 1,
        limits: UploadLimits | None = None,
        train_on: str = HERE,
        poll_seconds: float | None = None,
    ) -> None:
        if train_on not in TRAIN_ON:
            raise ValueError(f"train_on must be one of {', '.join(TRAIN_ON)}, not {train_on!r}")

        self.station = station
        self.home = Path(home)
        self.limits = limits or UploadLimits()
        self.library = open_library(self.home)
        self.store = open_job_store(self.home)
        self.style_store = open_style_store(self.home)
        self.registry = VersionRegistry(self.home)
        self.train_on = train_on
        self.feed = AdminFeed()
        lock = asyncio.Lock()  # serialises activations and style creation
        self.styles = StyleService(
            self.home, bundled_styles_root, self.library, self.feed,
            live_styles=lambda: {name: c.style for name, c in getattr(station, "channels", {}).items()}, lock=lock,
            store=self.style_store,
        )
        self.pieces = PieceService(self.styles, self.library, self.feed)
        self.activations = Activations(station, self.styles, self.registry, self.feed, swap_seconds=swap_seconds, lock=lock)
        self.jobs = JobService(self.home, self.store, styles=self.styles, library=self.library, registry=self.registry,
                               activations=self.activations, feed=self.feed, train_on=train_on, max_jobs=max_jobs)
        self.runner = self.jobs.runner
        poll = poll_seconds if poll_seconds is not None else env_float("CONTINUO_ACTIVE_POLL_SECONDS")
        self.follower = ActiveFollower(self.activations, poll or ActiveFollower.POLL_SECONDS)
        self.style_follower = StyleFollower(self.style_store, self.styles, self.activations)
        self.following = FollowLoop([self.style_follower, self.follower], poll or ActiveFollower.POLL_SECONDS)

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
        await self.style_follower.poll()  # styles created on other nodes, before their versions go on air
        pointers = await in_store_thread(self.registry.styles_with_active)
        for name, version in pointers.items():
            # Channels the server was asked to play get their active version; a style created
            # here comes on air by itself. Other bundled styles stay off, as the server chose.
            if name not in self.station.channels and not self.styles.is_home_style(name):
                continue
            try:
                await self.activations.activate(name, version, within_seconds=0.0, reason="restoring the active version at start")
            except Exception as exc:  # one broken style must not stop the station
                log.error("admin: cannot restore %s version %s: %s", name, version, exc)
        await self.runner.start()
        # Styles and activations made elsewhere (other nodes, workers) come on air here too.
        known = self.styles.all_styles()  # a pointer to a style still on its way is followed when it arrives
        self.follower.follow_from({name: version for name, version in pointers.items() if name in known})
        self.following.start()

    async def edit_style(self, name: str, fields: Any) -> dict[str, Any]:
        """Edit a style created from the admin (every node follows) and play it here as edited."""
        style = await self.styles.edit(name, fields)
        return self.activations.restyle(style, reason="edited by an admin")

    async def close(self) -> None:
        self.feed.end_feeds()
        await self.following.close()
        await self.runner.close()
        await self.feed.stop_following()
        self.store.close()
        self.style_store.close()
        self.registry.close()
        self.library.close()

    # --- what spans the services: the admin page's list of styles ---------------------
    async def list_styles(self) -> list[dict[str, Any]]:
        styles = self.styles.all_styles()
        counts = await in_store_thread(self.styles.piece_counts)
        out = []
        for name, style in styles.items():
            channel = self.activations.channel(name)
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
                "created_here": self.styles.is_home_style(name),
                "job": job.to_dict() if job else None,
                "swap": self.activations.swap_state(name),
            })
        return out


# Where an interrupted write can leave a half-written file (blobs, model versions, style.toml
# files); radio.files names such files, and PARTIAL_PATTERNS matches them.
PARTIAL_FOLDERS = ("blobs", "models", HOME_STYLES_DIR)


def remove_partial_files(home: Path) -> int:
    """Delete every partial file under the data dir; readers never see them, so they are
    only ever garbage. Returns how many were removed."""
    removed = 0
    for folder in PARTIAL_FOLDERS:
        root = home / folder
        for pattern in PARTIAL_PATTERNS if root.is_dir() else ():
            for path in root.rglob(pattern):
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
    return removed

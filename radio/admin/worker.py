"""``continuo worker``: train the queued retrain jobs of the shared catalog, on any machine.

A worker loops: requeue jobs whose worker died (lost lease), claim the oldest queued job
(atomically, with a lease), train it with the very runner the admin uses in-process (the same
``continuo train --progress-jsonl`` subprocess, so every model kind the trainer knows works
here), and publish the result: the model file goes to the shared store and the version is
registered; if it beats the active version (or the job says ``force``), the style's active
pointer moves to it, and every radio node, polling that pointer, hot-swaps it in.

While it trains, the worker renews its lease every ``lease / 3`` seconds and writes the job's
progress only while it still holds the lease. If the lease is gone (an admin cancelled the
job, or this worker stalled long enough that the job was requeued) it kills its trainer and
lets go. SIGINT/SIGTERM give the job back to the queue before the worker exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radio.admin.jobs import Job, JobStore
from radio.admin.runner import JobLost, JobRunner
from radio.admin.starts import TrainPlan, base_model_path, library_pieces, plan_training
from radio.admin.versions import VersionRegistry, register_trained
from radio.errors import StyleError
from radio.library.storage_config import storage_env
from radio.style_file import write_style_text
from radio.styles import Style, get_style, load_style
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.worker")

WORKER_STYLES_DIR = Path("models") / ".worker-styles"  # style.toml files that came with jobs
LOST_CHECK_SECONDS = 0.5


def thread_env(threads: int | None) -> dict[str, str]:
    """The trainer's thread caps: ``threads`` each, or every core (a dedicated worker machine;
    the admin's in-process runner keeps the trainer to one thread beside the channels)."""
    n = str(threads or os.cpu_count() or 1)
    return {name: n for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerSettings:
    home: Path
    worker_id: str
    lease_seconds: float = 60.0
    poll_seconds: float = 5.0
    styles: tuple[str, ...] = ()  # claim only these styles (empty: any)
    once: bool = False  # exit after one job (or at once when none is queued)
    threads: int | None = None  # the trainer's CPU threads (None: all)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lease_seconds) and self.lease_seconds >= 1):
            raise ValueError(f"the lease must be at least 1 second, not {self.lease_seconds:g}")
        if not (math.isfinite(self.poll_seconds) and self.poll_seconds > 0):
            raise ValueError(f"the poll interval must be above 0 seconds, not {self.poll_seconds:g}")


class LeasedJobs:
    """What the runner sees as its job store: writes go through only while the lease is held."""

    def __init__(self, store: JobStore, worker_id: str, lease_seconds: float) -> None:
        self.store, self.worker_id, self.lease_seconds = store, worker_id, lease_seconds
        self.lost = threading.Event()  # set from the runner's threads, read by the lease keeper

    def save(self, job: Job) -> None:
        if self.lost.is_set():
            return
        if not self.store.save_if_owned(job, self.worker_id, self.lease_seconds):
            self.lost.set()

    def get(self, job_id: str) -> Job | None:
        return self.store.get(job_id)

    def list(self, style: str | None = None) -> list[Job]:
        return self.store.list(style)


class Worker:
    def __init__(self, settings: WorkerSettings, store: JobStore, registry: VersionRegistry) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.stopping = asyncio.Event()
        self.current: tuple[Job, JobRunner] | None = None
        self.jobs_done = 0

    async def run(self) -> int:
        """Claim and train jobs until stopped (or, with ``once``, after one job)."""
        s = self.settings
        log.info("worker %s: waiting for retrain jobs%s (lease %g s, polling every %g s)", s.worker_id,
                 f" of {', '.join(s.styles)}" if s.styles else "", s.lease_seconds, s.poll_seconds)
        while not self.stopping.is_set():
            try:
                job = await self.run_one()
            except Exception as exc:  # the store is unreachable: wait and try again
                log.error("worker %s: %s; retrying in %g s", s.worker_id, exc, s.poll_seconds)
                job = None
            if s.once:
                break
            if job is None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), s.poll_seconds)
        return 0

    async def run_one(self) -> Job | None:
        """Claim one queued job and train it to its end; None if there was none."""
        s = self.settings
        for job in await in_store_thread(self.store.expire_leases):
            log.warning("worker %s: job %s (%s) %s: %s", s.worker_id, job.id, job.style, job.state, job.error)
        job = await in_store_thread(self.store.claim, s.worker_id, s.lease_seconds, s.styles)
        if job is None:
            return None
        log.info("worker %s: claimed job %s (%s), attempt %d of %d", s.worker_id, job.id, job.style,
                 job.attempts, job.max_attempts)
        leased = LeasedJobs(self.store, s.worker_id, s.lease_seconds)
        styles_dir = self._style_folder(job)
        env = {**storage_env(), **thread_env(s.threads)}  # the trainer reads the library where we do
        if styles_dir:
            env["CONTINUO_STYLES"] = str(styles_dir)
        runner = JobRunner(leased, s.home, on_done=lambda j, done: self._publish(j, done, styles_dir),
                           env_for_style=lambda style: env, threads=s.threads,
                           plan=lambda j: in_store_thread(self._plan, j, styles_dir))
        self.current = (job, runner)
        keeper = asyncio.get_running_loop().create_task(self._keep_lease(job, runner, leased))
        try:
            await runner.run_claimed(job)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            self.current = None
            if styles_dir:
                shutil.rmtree(styles_dir, ignore_errors=True)  # this job's folder only: workers may share a home
        if leased.lost.is_set():
            log.warning("worker %s: job %s is no longer ours (cancelled or requeued); its trainer was stopped",
                        s.worker_id, job.id)
        else:
            log.info("worker %s: job %s (%s) %s%s", s.worker_id, job.id, job.style, job.state,
                     f": {job.error}" if job.error else f", version {job.model_version}")
        self.jobs_done += 1
        return job

    async def stop(self) -> None:
        """Give the running job back to the queue, stop its trainer and leave the loop."""
        self.stopping.set()
        if self.current is None:
            return
        job, runner = self.current
        given_back = await in_store_thread(self.store.release, job.id, self.settings.worker_id,
                                             f"worker {self.settings.worker_id} was stopped")
        if given_back:
            log.info("worker %s: job %s given back to the queue", self.settings.worker_id, job.id)
        await runner.close()

    async def _keep_lease(self, job: Job, runner: JobRunner, leased: LeasedJobs) -> None:
        """Renew the lease every third of it; once it is gone, stop the trainer."""
        s = self.settings
        renew_every = s.lease_seconds / 3
        since_renewal = 0.0
        while not leased.lost.is_set():
            await asyncio.sleep(LOST_CHECK_SECONDS)  # a progress write may find the lease gone first
            since_renewal += LOST_CHECK_SECONDS
            if since_renewal < renew_every:
                continue
            since_renewal = 0.0
            try:
                if not await in_store_thread(self.store.renew, job.id, s.worker_id, s.lease_seconds):
                    leased.lost.set()
            except Exception as exc:  # the store is unreachable: try again before the lease runs out
                log.warning("worker %s: cannot renew the lease of job %s: %s", s.worker_id, job.id, exc)
        if not job.finished:
            await runner.cancel(job.id)  # kills the trainer; nothing more is written

    async def _still_ours(self, job: Job) -> None:
        """Raise JobLost unless this worker still holds the job's lease (renewing it if so)."""
        s = self.settings
        if not await in_store_thread(self.store.renew, job.id, s.worker_id, s.lease_seconds):
            raise JobLost(f"job {job.id} is no longer worker {s.worker_id}'s (an admin cancelled it, or it was "
                          "requeued); its model was not published")

    def _style_folder(self, job: Job) -> Path | None:
        """A style that exists only on the radio node came with the job: write it for the trainer."""
        if not job.style_spec:
            return None
        folder = self.settings.home / WORKER_STYLES_DIR / job.id / job.style
        write_style_text(folder, job.style_spec)
        return folder.parent

    def _style(self, name: str, styles_dir: Path | None) -> Style | str:
        """The style the version is compared in: its bundled model is a candidate for 'active'."""
        try:
            return load_style(styles_dir / name) if styles_dir else get_style(name)
        except StyleError:
            return name  # unknown here: compare with trained versions only

    def _plan(self, job: Job, styles_dir: Path | None) -> TrainPlan:
        """Where the job starts, chosen here by the rule the admin uses: the active version's
        file comes from the shared store like any version's."""
        style = self._style(job.style, styles_dir)
        corpus = style.corpus_styles if isinstance(style, Style) else (job.style,)
        return plan_training(self.registry, style, job.options, base_path=base_model_path(),
                             pieces=self._pieces(corpus))

    def _pieces(self, corpus_styles: tuple[str, ...]) -> set[str] | None:
        """The sha256 of the style's library pieces (None if the library cannot be read here:
        the trainer then says so itself)."""
        from radio.library import open_library

        try:
            library = open_library(self.settings.home)
            try:
                return library_pieces(library, corpus_styles)
            finally:
                library.close()
        except Exception as exc:  # noqa: BLE001 - only a refinement of the choice of start
            log.warning("worker %s: cannot read the library to choose a start: %s", self.settings.worker_id, exc)
            return None

    async def _publish(self, job: Job, done: dict[str, Any], styles_dir: Path | None) -> None:
        """Upload the model and register the version; move the active pointer if it is better.

        An admin's cancel reaches the worker only at its next lease renewal, so the lease is
        checked (compare-and-set: renewed only while this worker holds the running job) before
        anything is stored, and again just before the active pointer moves: a cancelled job's
        model never goes on air. The pointer is a separate record, so a cancel in the instant
        between that check and the move can still lose; the check shrinks that window from
        a lease's third (up to 20 s) to one round trip."""
        await self._still_ours(job)
        version = await register_trained(self.registry, self._style(job.style, styles_dir), job, done)
        if version is not None:
            await self._still_ours(job)
            await in_store_thread(self.registry.set_active, job.style, version)
            job.activated = True
            log.info("worker %s: %s version %s is now active (%s); radio nodes swap it in",
                     self.settings.worker_id, job.style, version.version, job.activation_reason)

"""The admin's job runner when training happens on trainer workers (``--train-on workers``).

It has the same surface as :class:`radio.admin.runner.JobRunner` (submit, cancel, get, list,
watch), but trains nothing: a retrain request becomes a queued job in the shared store, and a
``continuo worker`` on any machine claims it (:mod:`radio.admin.worker`). A poller keeps the
picture current: it requeues (or fails) jobs whose worker lost its lease, so a dead worker's
job moves on even when no other worker is looking, and it sends every change of a watched job
to the job's event feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Callable

from radio.admin.errors import Conflict, NotFound
from radio.admin.jobs import DEFAULT_MAX_ATTEMPTS, WORKERS, Job, JobStore, JobWatchers
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")

POLL_SECONDS = 1.0


class WorkerQueue(JobWatchers):
    def __init__(
        self,
        store: JobStore,
        *,
        style_spec: Callable[[str], str | None] = lambda style: None,
        poll_seconds: float = POLL_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        super().__init__()
        self.store = store
        self.style_spec = style_spec
        self.poll_seconds = poll_seconds
        self.max_attempts = max(1, max_attempts)
        self._active: dict[str, Job] = {}  # style -> its queued or running job, as of the last poll
        self._task: asyncio.Task | None = None
        self._failing = False

    # --- queries -------------------------------------------------------------------
    def active_job(self, style: str) -> Job | None:
        return self._active.get(style)

    async def get(self, job_id: str) -> Job:
        job = await in_store_thread(self.store.get, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    async def list(self, style: str | None = None) -> list[Job]:
        return await in_store_thread(self.store.list, style)

    # --- commands ------------------------------------------------------------------
    async def submit(self, style: str, options: dict[str, Any], *, start: dict[str, Any] | None = None) -> Job:
        """Queue a job for the workers; ``start`` is the planned start (the worker chooses again)."""
        job = Job.new(style, options)
        job.model_kind = options.get("model")
        job.start = start
        job.train_on, job.max_attempts = WORKERS, self.max_attempts
        job.style_spec = self.style_spec(style)
        job.add_log("queued for a trainer worker (continuo worker)")
        busy = await in_store_thread(self.store.add_if_idle, job)
        if busy is not None:
            self._active[style] = busy
            raise Conflict(f"style {style!r} already has job {busy.id} ({busy.state}); cancel it or wait")
        self._active[style] = job
        return job

    async def cancel(self, job_id: str) -> Job:
        job = await in_store_thread(self.store.cancel, job_id, "cancelled by an admin")
        if job is None:
            current = await self.get(job_id)
            raise Conflict(f"job {job_id} already {current.state}")
        if self._active.get(job.style, job).id == job.id:
            self._active.pop(job.style, None)
        self.tell_watchers(job)
        log.info("admin: job %s (%s) cancelled%s", job.id, job.style,
                 f"; worker {job.worker} stops it at its next lease renewal" if job.worker else "")
        return job

    async def start(self) -> None:
        await self.poll()
        self._task = asyncio.get_running_loop().create_task(self._poll_forever())

    async def close(self) -> None:
        """Stop polling. Queued and running jobs stay in the store: they belong to the workers."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- the poller ----------------------------------------------------------------
    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self.poll()

    async def poll(self) -> None:
        """Requeue jobs of dead workers, refresh the active jobs, feed the watchers."""
        try:
            for job in await in_store_thread(self.store.expire_leases):
                log.warning("admin: job %s (%s) %s: %s", job.id, job.style, job.state, job.error)
            active = await in_store_thread(self.store.active)
            self._active = {job.style: job for job in reversed(active)}  # the oldest wins
            watched = [await in_store_thread(self.store.get, job_id) for job_id in self.watched()]
        except Exception as exc:  # the store is down: keep the last picture, say so once
            if not self._failing:
                log.error("admin: cannot read the job queue (%s); retrying every %g s", exc, self.poll_seconds)
            self._failing = True
            return
        if self._failing:
            log.info("admin: the job queue can be read again")
        self._failing = False
        for job in watched:
            if job is not None:
                self.tell_watchers(job)

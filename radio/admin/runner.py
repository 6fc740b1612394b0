"""Runs training jobs as separate, niced processes and follows their progress.

Each job is ``nice -n 10 <python> -m radio.cli train --style S --progress-jsonl --out F
--home H ...`` in its own process group, so a cancel kills the trainer and anything it
spawned. The trainer writes its model to a scratch file under ``<home>/models/.jobs``;
only a finished, validated file is copied into the version store, so a cancelled or
failed job never leaves a half-written model where a channel could load it.

At most ``max_concurrent`` jobs run at once (default 1: two cores, and the streams come
first); the rest wait in a queue. One style has at most one queued or running job.

The job store may be briefly out of reach (a MongoDB blip, a locked SQLite file). A progress
write that fails is logged and training goes on: the next write carries the same state. Only
the job's final record must persist, and it is retried with backoff. Likewise a finished
model that cannot be *stored* yet (the shared store or the catalog failing) is retried with
backoff while its scratch file is kept; only a model that fails its checks is "rejected".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import sys
from collections import deque
from pathlib import Path
from typing import Any, Awaitable, Callable

from radio.admin.errors import Conflict, NotFound
from radio.admin.jobs import ACTIVE_STATES, CANCELLED, FAILED, RUNNING, SUCCEEDED, Job, JobStore, JobWatchers, hide_paths
from radio.admin.starts import TrainPlan
from radio.admin.train_command import SCRATCH_DIR, TRAINER_THREADS, kill_group, train_arguments, trainer_env
from radio.errors import ContinuoError, LibraryError
from radio.timestamps import utc_now
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")

NICE = 10
# Waits between attempts at the job's final write (about a minute in all), and at storing a
# finished model (about ten minutes: an S3 or MongoDB outage of a few minutes loses nothing).
FINAL_SAVE_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
STORE_RETRY_DELAYS = (2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0)
UNSTORED_DIR = Path("models") / ".unstored"  # models that were fine but could not be stored
# What a store that is down raises: the model may be fine, so storing it is tried again.
STORAGE_ERRORS = (LibraryError, OSError, sqlite3.Error)
STREAM_LIMIT = 4 * 1024 * 1024  # the done event carries all the metrics on one line
class JobLost(ContinuoError):
    """The job is no longer this runner's to finish (an admin cancelled it, or its worker's lease
    moved on): nothing of it may be published. Raised by a finish hook."""


# Called with the finished job and the trainer's "done" event; registers the model. It raises
# JobLost, one of STORAGE_ERRORS (tried again later) or anything else (the model is rejected).
FinishHook = Callable[[Job, dict[str, Any]], Awaitable[None]]
# Called as a job starts: where it starts from and what it compares with (radio.admin.starts).
PlanHook = Callable[[Job], Awaitable[TrainPlan | None]]


class JobRunner(JobWatchers):
    def __init__(
        self,
        store: JobStore,
        home: Path,
        *,
        on_done: FinishHook,
        max_concurrent: int = 1,
        python: str = sys.executable,
        env_for_style: Callable[[str], dict[str, str]] | None = None,
        threads: int | None = TRAINER_THREADS,
        plan: PlanHook | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.home = Path(home)
        self.on_done = on_done
        self.max_concurrent = max(1, max_concurrent)
        self.python = python
        self.env_for_style = env_for_style or (lambda style: {})
        self.threads = threads  # None: TensorFlow picks (every core: a dedicated worker machine)
        self.plan = plan  # None: train exactly what the options say (no start model, no comparison)
        self._jobs: dict[str, Job] = {}  # queued and running, by id
        self._pending: deque[str] = deque()
        self._tasks: dict[str, asyncio.Task] = {}
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._cancelled: set[str] = set()
        self._stopping = False
        self._unsaved: set[str] = set()  # jobs whose last progress write failed (logged once)
        self.final_save_delays = FINAL_SAVE_DELAYS
        self.store_retry_delays = STORE_RETRY_DELAYS

    # --- queries -------------------------------------------------------------------
    def active_job(self, style: str) -> Job | None:
        return next((j for j in self._jobs.values() if j.style == style and j.state in ACTIVE_STATES), None)

    async def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id) or await in_store_thread(self.store.get, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        return job

    async def list(self, style: str | None = None) -> list[Job]:
        return await in_store_thread(self.store.list, style)

    # --- commands ------------------------------------------------------------------
    async def start(self) -> None:
        """Nothing to start: jobs run as they are submitted (the worker queue has a poller)."""

    async def run_claimed(self, job: Job) -> Job:
        """Run a job a trainer worker claimed from the shared queue, to its end (`continuo worker`)."""
        self._jobs[job.id] = job
        task = asyncio.get_running_loop().create_task(self._run(job))
        self._tasks[job.id] = task
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        return job

    async def submit(self, style: str, options: dict[str, Any], *, start: dict[str, Any] | None = None) -> Job:
        """Queue a job; ``start`` is the start it is planned to use (chosen again when it runs)."""
        running = self.active_job(style)
        if running:
            raise Conflict(f"style {style!r} already has job {running.id} ({running.state}); cancel it or wait")
        job = Job.new(style, options)
        job.model_kind = options.get("model")
        job.start = start
        # Saved before it is queued: a catalog that is locked or full refuses the job here,
        # and nothing is left queued in memory that the database never heard of.
        await in_store_thread(self.store.save, job)
        self._jobs[job.id] = job
        self._pending.append(job.id)
        self._pump()
        return job

    async def cancel(self, job_id: str) -> Job:
        job = await self.get(job_id)
        if job.finished:
            raise Conflict(f"job {job_id} already {job.state}")
        self._cancelled.add(job_id)
        if job_id in self._pending:
            self._pending.remove(job_id)
            self._jobs.pop(job_id, None)
            self._cancelled.discard(job_id)
            self._finish(job, CANCELLED, "cancelled before it started")
            await self._changed(job)
            return job
        proc = self._procs.get(job_id)
        if proc is not None:
            await kill_group(proc)
        task = self._tasks.get(job_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        return job

    async def close(self) -> None:
        """Stop: kill running trainers and record why (the server is going away)."""
        for job_id in list(self._pending):
            job = self._jobs[job_id]
            self._finish(job, FAILED, "the server stopped before the job started")
            await in_store_thread(self.store.save, job)
        self._pending.clear()
        self._stopping = True
        self._cancelled.update(self._tasks)  # a trainer still being spawned is killed once it exists
        for proc in list(self._procs.values()):
            await kill_group(proc)
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- internals -----------------------------------------------------------------
    def _pump(self) -> None:
        while self._pending and len(self._tasks) < self.max_concurrent:
            job_id = self._pending.popleft()
            self._tasks[job_id] = asyncio.get_running_loop().create_task(self._run(self._jobs[job_id]))

    async def _changed(self, job: Job) -> None:
        try:
            await in_store_thread(self.store.save, job)
        finally:  # watchers hear of the change even when it could not be saved
            self.tell_watchers(job)

    async def _progress(self, job: Job) -> None:
        """Save a running job's progress, if the store lets us: a failed write is logged (once
        per outage) and training goes on; the next write, or the final one, carries it."""
        try:
            await in_store_thread(self.store.save, job)
        except Exception as exc:  # noqa: BLE001 - any store failure: progress is not worth a run
            if job.id not in self._unsaved:
                log.warning("admin: job %s (%s): progress not saved (%s); training goes on, the next write "
                            "tries again", job.id, job.style, exc)
            self._unsaved.add(job.id)
        else:
            if job.id in self._unsaved:
                log.info("admin: job %s (%s): progress is saved again", job.id, job.style)
            self._unsaved.discard(job.id)
        finally:
            self.tell_watchers(job)

    async def _save_final(self, job: Job) -> None:
        """The job's final record: tried again with backoff, for it is the one that must persist."""
        delays = iter(self.final_save_delays)
        try:
            while True:
                try:
                    await in_store_thread(self.store.save, job)
                    self._unsaved.discard(job.id)
                    return
                except (LibraryError, sqlite3.OperationalError) as exc:  # unreachable or locked: it may pass
                    delay = next(delays, None)
                    if delay is None:
                        raise
                    log.warning("admin: job %s (%s): its final state (%s) is not saved yet (%s); trying again in "
                                "%g s", job.id, job.style, job.state, exc, delay)
                    await asyncio.sleep(delay)
        finally:
            self.tell_watchers(job)

    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.state = state
        job.error = error
        job.finished_at = utc_now()
        if state == SUCCEEDED:
            job.progress = 1.0

    async def _run(self, job: Job) -> None:
        scratch = self.home / SCRATCH_DIR / f"{job.id}.npz"
        try:
            scratch.parent.mkdir(parents=True, exist_ok=True)
            state, error = await self._train(job, scratch)
        except Exception as exc:  # the runner must record every failure on the job
            log.exception("admin: job %s crashed", job.id)
            state, error = FAILED, f"the job runner failed: {exc}"
        finally:
            for leftover in scratch.parent.glob(f"{job.id}.*"):  # the model, its loss plot, partial files
                leftover.unlink(missing_ok=True)
        self._finish(job, state, error)
        log.info("admin: job %s (%s) %s%s", job.id, job.style, state, f": {error}" if error else "")
        try:
            await self._save_final(job)
        except Exception:  # noqa: BLE001 - a failed save (disk full) must not keep the slot
            log.exception("admin: job %s (%s): its final state could not be saved", job.id, job.style)
        finally:
            # Whatever the save did, the slot is free and the next queued job starts.
            self._procs.pop(job.id, None)
            self._tasks.pop(job.id, None)
            self._jobs.pop(job.id, None)
            self._cancelled.discard(job.id)
            self._unsaved.discard(job.id)
            self._pump()

    async def _train(self, job: Job, scratch: Path) -> tuple[str, str | None]:
        threads = ["--threads", str(self.threads)] if self.threads else []
        plan = None
        if self.plan is not None:
            # Chosen again now: the model on air may have changed while the job waited.
            try:
                plan = await self.plan(job)
            except ContinuoError as exc:  # the start asked for is gone, or the shared store is down
                return FAILED, f"the job could not start: {hide_paths(str(exc))}"
            if plan is not None:
                job.start = plan.to_dict()
        cmd = ["nice", "-n", str(NICE), self.python, "-m", "radio.cli", "train", "--style", job.style,
               "--progress-jsonl", "--out", str(scratch), "--home", str(self.home), *threads,
               *train_arguments(job.options, plan)]
        env = trainer_env(os.environ, self.env_for_style(job.style))
        job.state, job.started_at = RUNNING, utc_now()
        # The command goes to the server's log, not the job's: the page shows training's own lines.
        log.info("admin: job %s (%s): %s", job.id, job.style, " ".join(cmd))
        await self._progress(job)
        if job.id in self._cancelled:
            return CANCELLED, "cancelled by an admin"
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True, limit=STREAM_LIMIT,
        )
        self._procs[job.id] = proc
        if job.id in self._cancelled:  # cancelled while the process was being spawned
            await kill_group(proc)
        job.pid = proc.pid
        await self._progress(job)
        log.info("admin: job %s (%s) started, pid %d", job.id, job.style, proc.pid)
        events: dict[str, dict[str, Any]] = {}
        try:
            await asyncio.gather(self._read_events(job, proc.stdout, events), self._read_log(job, proc.stderr))
            code = await proc.wait()
        except BaseException:
            await asyncio.shield(kill_group(proc))  # never leave a trainer nobody listens to
            raise
        if job.id in self._cancelled:
            if self._stopping:
                return FAILED, "the server stopped while the job was running"
            return CANCELLED, "cancelled by an admin"
        if "error" in events:
            return FAILED, str(events["error"].get("message") or "the trainer reported an error")
        if code != 0 or "done" not in events:
            last = next((line for line in reversed(job.log_tail) if line.strip()), "no output")
            return FAILED, f"the trainer exited with code {code}: {last}"
        done = dict(events["done"])
        done.setdefault("model_path", str(scratch))
        job.metrics = done.get("metrics") or {}
        return await self._publish(job, done)

    async def _publish(self, job: Job, done: dict[str, Any]) -> tuple[str, str | None]:
        """Hand the finished model to ``on_done``. A store that fails is tried again with backoff
        while the scratch model is kept; a model that fails its checks is rejected."""
        model = Path(done["model_path"])
        delays = iter(self.store_retry_delays)
        while True:
            try:
                await self.on_done(job, done)
                return SUCCEEDED, None
            except JobLost as exc:
                return CANCELLED, f"not published: {exc}"
            except STORAGE_ERRORS as exc:
                if isinstance(exc, OSError) and not model.is_file():
                    return FAILED, f"the trained model was rejected: {exc}"  # no model to store at all
                delay = next(delays, None)
                if delay is None:
                    kept = self._keep_unstored(job, model)
                    return FAILED, (f"the trained model could not be stored ({hide_paths(str(exc))}); it was not "
                                    f"rejected, and its file is kept as {kept}")
                job.add_log(f"could not store the model yet ({hide_paths(str(exc))}); trying again in {delay:g} s")
                log.warning("admin: job %s (%s): could not store the model yet (%s); trying again in %g s",
                            job.id, job.style, exc, delay)
                await self._progress(job)
                if not await self._wait_unless_cancelled(job, delay):
                    return CANCELLED, "cancelled by an admin before its model could be stored"
            except Exception as exc:  # a bad model file is the job's failure, not the server's
                return FAILED, f"the trained model was rejected: {exc}"

    async def _wait_unless_cancelled(self, job: Job, seconds: float) -> bool:
        """Sleep ``seconds``; False (at once) if the job is cancelled meanwhile."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            if job.id in self._cancelled:
                return False
            await asyncio.sleep(min(0.25, end - loop.time()))
        return job.id not in self._cancelled

    def _keep_unstored(self, job: Job, model: Path) -> str:
        """Move a model that could not be stored out of the scratch folder (which is swept), so
        that nothing trained is lost; returns where it is, relative to the data dir."""
        target = self.home / UNSTORED_DIR / f"{job.style}-{job.id}.npz"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(model, target)
        except OSError as exc:
            log.error("admin: job %s (%s): cannot keep the unstored model %s: %s", job.id, job.style, model, exc)
            return str(model.name)
        log.error("admin: job %s (%s): the model could not be stored; it is kept at %s", job.id, job.style, target)
        return str(UNSTORED_DIR / target.name)

    async def _read_events(self, job: Job, stream: asyncio.StreamReader, events: dict[str, dict]) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                job.add_log(line)
                continue
            if not isinstance(event, dict) or "event" not in event:
                job.add_log(line)
                continue
            kind = event["event"]
            events[kind] = event
            if kind == "start":
                job.epochs = event.get("epochs", job.epochs)
                job.model_kind = event.get("model", job.model_kind)
            elif kind == "epoch":
                job.epoch = int(event.get("epoch") or job.epoch)
                job.epochs = event.get("epochs", job.epochs)
                job.loss, job.val_loss = event.get("loss"), event.get("val_loss")
                job.progress = min(1.0, max(job.progress, float(event.get("progress") or 0.0)))
                job.history.append({k: event.get(k) for k in ("epoch", "loss", "val_loss", "elapsed_s")})
            elif kind == "error":
                job.add_log("error: " + str(event.get("message", "")))
            await self._progress(job)

    async def _read_log(self, job: Job, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            # A progress bar redraws itself with carriage returns: keep its last state only.
            line = raw.decode("utf-8", "replace").rstrip().rsplit("\r", 1)[-1].strip()
            if line:
                job.add_log(line)

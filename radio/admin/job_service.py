"""Retrain jobs: refused up front when the trainer would refuse them, planned (where
training starts), handed to the runner (in-process, or queued for ``continuo worker``s), and,
once done, registered and perhaps activated (:func:`radio.admin.versions.register_trained`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from radio.admin.activation import Activations
from radio.admin.errors import ServiceUnavailable, Unprocessable
from radio.admin.feed import AdminFeed
from radio.admin.jobs import HERE, WORKERS, Job, JobStore, hide_paths
from radio.admin.queue import WorkerQueue
from radio.admin.runner import JobRunner
from radio.admin.starts import TrainPlan, base_model_path, library_pieces, plan_training
from radio.admin.style_service import MIN_TRAIN_BEATS, MIN_TRAIN_PIECES, StyleService
from radio.admin.versions import VersionRegistry, register_trained
from radio.errors import LibraryError
from radio.library import Library
from radio.library.store_threads import in_store_thread
from radio.styles import Style

log = logging.getLogger("radio.admin")


class JobService:
    def __init__(self, home: Path, store: JobStore, *, styles: StyleService, library: Library,
                 registry: VersionRegistry, activations: Activations, feed: AdminFeed,
                 train_on: str = HERE, max_jobs: int = 1) -> None:
        self.styles = styles
        self.library = library
        self.registry = registry
        self.activations = activations
        self.feed = feed
        if train_on == WORKERS:  # `continuo worker`s claim the jobs from the shared store
            self.runner: JobRunner | WorkerQueue = WorkerQueue(store, style_spec=styles.spec)
        else:
            self.runner = JobRunner(
                store, home, on_done=self.job_done, max_concurrent=max_jobs, env_for_style=styles.trainer_env,
                plan=self._plan_job,
            )

    async def retrain(self, name: str, options: dict[str, Any]) -> Job:
        style = self.styles.style(name)
        await self.check_trainable(name, style)
        # Where it starts (409 now for a start that cannot be); chosen again when the job runs.
        try:
            plan = await in_store_thread(self._plan, style, options)
        except LibraryError as exc:  # the catalog, or the shared store that holds the active version's file
            raise ServiceUnavailable(f"the retrain cannot be planned now, try again shortly: {hide_paths(str(exc))}") from exc
        job = await self.runner.submit(name, options, start=plan.to_dict())
        log.info("admin: retrain %s queued as job %s with %s (%s)", name, job.id, options, plan.start.label)
        self.feed.follow(job, self.runner)
        return job

    def base_model_path(self) -> Path:
        """The bundled base model every style's model is fine-tuned from (it may be absent)."""
        return base_model_path(self.styles.bundled_root)

    def _plan(self, style: Style, options: dict[str, Any]) -> TrainPlan:
        pieces = library_pieces(self.library, style.corpus_styles)
        return plan_training(self.registry, style, options, base_path=self.base_model_path(), pieces=pieces)

    async def _plan_job(self, job: Job) -> TrainPlan:
        return await in_store_thread(self._plan, self.styles.style(job.style), job.options)

    async def check_trainable(self, name: str, style: Style) -> None:
        """Refuse (422) a retrain the trainer would refuse: too few pieces or beats in the library."""
        counts = await in_store_thread(self.styles.piece_counts)
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

    async def job_done(self, job: Job, done: dict[str, Any]) -> None:
        version = await register_trained(self.registry, self.styles.style(job.style), job, done)
        if version is not None:
            await self.activations.activate(job.style, version.version, reason=f"job {job.id}: {job.activation_reason}")
            job.activated = True

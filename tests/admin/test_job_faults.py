"""A training job meets a failing store: progress writes that fail do not end the run, the
final record is retried, a model that cannot be stored yet is retried and kept (not
"rejected"), and a worker publishes nothing for a job that is no longer its own."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from radio.admin.jobs import CANCELLED, FAILED, RUNNING, SUCCEEDED, WORKERS, Job

from radio.admin.stores.sqlite import SqliteJobStore
from radio.admin.runner import UNSTORED_DIR, JobLost, JobRunner
from radio.errors import LibraryError, ModelFileError

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "styles" / "folk" / "model.npz"

TRAINER = '''#!{python}
"""Stands in for `python -m radio.cli train`: a few epochs of progress, then a real model file."""
import json, shutil, sys, time
args = sys.argv[1:]
out = args[args.index("--out") + 1]
print(json.dumps({{"event": "start", "epochs": 5, "model": "token"}}), flush=True)
for epoch in range(1, 6):
    print(json.dumps({{"event": "epoch", "epoch": epoch, "epochs": 5, "loss": 2.0 / epoch, "val_loss": 2.5 / epoch,
                      "progress": epoch / 5, "elapsed_s": epoch}}), flush=True)
    time.sleep(0.02)
shutil.copyfile({model!r}, out)
print(json.dumps({{"event": "done", "model_path": out, "metrics": {{"nll_full_per_beat": {{"model": 2.0}}}}}}), flush=True)
'''


@pytest.fixture
def trainer(tmp_path) -> str:
    fake = tmp_path / "fake-python"
    fake.write_text(TRAINER.format(python=sys.executable, model=str(MODEL)))
    fake.chmod(0o755)
    return str(fake)


class BlinkingStore(SqliteJobStore):
    """Progress writes fail for a while (a locked SQLite, a MongoDB blip); so do the first
    attempts at the final one."""

    def __init__(self, home: Path, *, progress_failures: int, final_failures: int = 0) -> None:
        super().__init__(home)
        self.progress_failures, self.final_failures = progress_failures, final_failures
        self.failed = 0

    def save(self, job: Job) -> None:
        if job.state == RUNNING and self.progress_failures > 0:
            self.progress_failures -= 1
            self.failed += 1
            raise sqlite3.OperationalError("database is locked")
        if job.finished and self.final_failures > 0:
            self.final_failures -= 1
            self.failed += 1
            raise LibraryError("cannot reach MongoDB at mongodb://db: timed out")
        super().save(job)


async def run_to_end(runner: JobRunner, job: Job, timeout: float = 60.0) -> Job:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while runner._tasks or runner._pending:
        assert loop.time() < end, f"job {job.id} never ended: {job.state} {job.log_tail}"
        await asyncio.sleep(0.05)
    return job


async def test_failed_progress_writes_do_not_end_the_run_and_the_final_record_persists(tmp_path, trainer):
    store = BlinkingStore(tmp_path, progress_failures=4, final_failures=2)
    published = []

    async def on_done(job, done):
        published.append(Path(done["model_path"]).is_file())

    runner = JobRunner(store, tmp_path, on_done=on_done, python=trainer)
    runner.final_save_delays = (0.05,) * 5
    job = await run_to_end(runner, await runner.submit("folk", {}))
    assert store.failed == 6  # four progress writes and two final ones really failed
    assert job.state == SUCCEEDED, (job.error, job.log_tail)
    assert published == [True] and job.epoch == 5 and len(job.history) == 5
    saved = store.get(job.id)
    assert saved.state == SUCCEEDED and saved.epoch == 5 and saved.finished_at
    await runner.close()


async def test_a_model_that_cannot_be_stored_yet_is_retried_not_rejected(tmp_path, trainer):
    store = SqliteJobStore(tmp_path)
    calls = []

    async def on_done(job, done):  # the shared store (S3) is down for the first two attempts
        calls.append(Path(done["model_path"]).is_file())  # the scratch model is still there
        if len(calls) <= 2:
            raise LibraryError("cannot store models/folk/abc.npz in s3://bucket/: connection refused")

    runner = JobRunner(store, tmp_path, on_done=on_done, python=trainer)
    runner.store_retry_delays = (0.05, 0.05, 0.05)
    job = await run_to_end(runner, await runner.submit("folk", {}))
    assert job.state == SUCCEEDED, (job.error, job.log_tail)
    assert calls == [True, True, True]
    assert sum("could not store the model yet" in line for line in job.log_tail) == 2
    assert not list((tmp_path / "models" / ".jobs").glob("*.npz"))  # registered: the scratch copy goes
    await runner.close()


async def test_a_store_down_for_good_fails_the_job_as_unstored_and_keeps_the_model(tmp_path, trainer):
    store = SqliteJobStore(tmp_path)
    calls = []

    async def on_done(job, done):
        calls.append(1)
        raise LibraryError("cannot store models/folk/abc.npz in s3://bucket/: connection refused")

    runner = JobRunner(store, tmp_path, on_done=on_done, python=trainer)
    runner.store_retry_delays = (0.05, 0.05)
    job = await run_to_end(runner, await runner.submit("folk", {}))
    assert job.state == FAILED and len(calls) == 3
    assert "could not be stored" in job.error and "not rejected" in job.error and "rejected:" not in job.error
    kept = list((tmp_path / UNSTORED_DIR).glob(f"folk-{job.id}.npz"))
    assert kept and kept[0].read_bytes() == MODEL.read_bytes()
    assert str(tmp_path) not in job.to_dict()["error"]
    await runner.close()


async def test_a_bad_model_is_rejected_at_once(tmp_path, trainer):
    store = SqliteJobStore(tmp_path)
    calls = []

    async def on_done(job, done):
        calls.append(1)
        raise ModelFileError("the model loads but does not generate valid notes")

    runner = JobRunner(store, tmp_path, on_done=on_done, python=trainer)
    job = await run_to_end(runner, await runner.submit("folk", {}))
    assert job.state == FAILED and calls == [1] and job.error.startswith("the trained model was rejected")
    await runner.close()


# --- a worker publishes only a job it still holds ------------------------------------------


@pytest.fixture
def worker_setup(tmp_path):
    from radio.admin.versions import VersionRegistry
    from radio.admin.stores.sqlite import SqliteVersionTable
    from radio.admin.worker import Worker, WorkerSettings

    home = tmp_path / "home"
    home.mkdir()
    store = SqliteJobStore(home)
    registry = VersionRegistry(home, table=SqliteVersionTable(home), shared=None)
    job = Job.new("folk", {"force": True})  # force: it would go on air at once
    job.train_on = WORKERS
    assert store.add_if_idle(job) is None
    claimed = store.claim("w1", 60.0)
    model = tmp_path / "scratch.npz"
    shutil.copyfile(REPO / "styles" / "medieval" / "model.npz", model)
    done = {"model_path": str(model), "metrics": {"nll_full_per_beat": {"model": 2.0}}}
    yield Worker(WorkerSettings(home, "w1"), store, registry), store, registry, claimed, done
    registry.close()
    store.close()


async def test_a_worker_publishes_nothing_for_a_job_cancelled_before_it_publishes(worker_setup):
    worker, store, registry, job, done = worker_setup
    assert store.cancel(job.id, "cancelled by an admin") is not None  # the worker has not renewed since
    with pytest.raises(JobLost, match="no longer worker w1's"):
        await worker._publish(job, done, None)
    assert registry.trained("folk") == [] and registry.active_version("folk") is None
    assert store.get(job.id).state == CANCELLED


async def test_a_cancel_while_the_model_is_registered_keeps_it_off_air(worker_setup, monkeypatch):
    import radio.admin.worker as worker_module

    worker, store, registry, job, done = worker_setup
    real = worker_module.register_trained

    async def register_then_cancelled(*args, **kwargs):
        version = await real(*args, **kwargs)
        store.cancel(job.id, "cancelled by an admin")  # arrives while the upload finishes
        return version

    monkeypatch.setattr(worker_module, "register_trained", register_then_cancelled)
    with pytest.raises(JobLost):
        await worker._publish(job, done, None)
    assert len(registry.trained("folk")) == 1  # stored, as any version may be: never on air
    assert registry.active_version("folk") is None and not job.activated


async def test_a_worker_still_holding_its_job_publishes_it(worker_setup):
    worker, store, registry, job, done = worker_setup
    await worker._publish(job, done, None)
    assert job.activated and registry.active_version("folk") == job.model_version

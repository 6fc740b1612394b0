"""Jobs persist in the catalog's SQLite file and survive a restart honestly."""

from __future__ import annotations

import sqlite3

from radio.admin.jobs import FAILED, QUEUED, RUNNING, SUCCEEDED, Job

from radio.admin.stores.sqlite import SqliteJobStore


def test_jobs_round_trip_and_restart_recovery(tmp_path):
    store = SqliteJobStore(tmp_path)
    done = Job.new("baroque", {"epochs": 2})
    done.state, done.progress, done.model_version = SUCCEEDED, 1.0, "abcdef012345"
    running = Job.new("folk", {})
    running.state, running.epoch, running.history = RUNNING, 3, [{"epoch": 3, "loss": 1.5, "val_loss": 1.7}]
    waiting = Job.new("medieval", {"minutes": 1.5})
    for job in (done, running, waiting):
        store.save(job)
    assert waiting.state == QUEUED
    store.close()

    # The tables live in the catalog's file, beside (not inside) the library's tables.
    names = {r[0] for r in sqlite3.connect(tmp_path / "catalog.sqlite3").execute("SELECT name FROM sqlite_master")}
    assert "jobs" in names

    reopened = SqliteJobStore(tmp_path)
    failed = reopened.fail_interrupted("the server stopped while the job was running")
    assert {j.id for j in failed} == {running.id, waiting.id}
    again = reopened.get(running.id)
    assert again.state == FAILED and "server stopped" in again.error and "running" in again.error
    assert again.history == running.history and again.finished_at
    assert reopened.get(done.id).state == SUCCEEDED
    assert reopened.get(waiting.id).options == {"minutes": 1.5}
    assert [j.id for j in reopened.list("folk")] == [running.id]
    assert len(reopened.list()) == 3
    assert reopened.fail_interrupted("again") == []
    assert reopened.get("nope") is None


def test_log_tail_is_bounded():
    job = Job.new("folk", {})
    for i in range(500):
        job.add_log(f"line {i}")
    assert len(job.log_tail) == 40 and job.log_tail[-1] == "line 499"

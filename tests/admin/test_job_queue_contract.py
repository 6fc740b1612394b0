"""The worker queue and the version table: one contract for SQLite (always) and MongoDB
(when CONTINUO_TEST_MONGODB_URI names a server; skipped with the reason otherwise)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from radio.admin.jobs import CANCELLED, FAILED, HERE, QUEUED, RUNNING, SUCCEEDED, WORKERS, Job

from radio.admin.stores.sqlite import SqliteJobStore
from radio.admin.version_facts import ModelVersion
from radio.admin.stores.sqlite import SqliteVersionTable


@pytest.fixture(params=["sqlite", "mongodb"])
def store(request, tmp_path):
    if request.param == "mongodb":
        from radio.admin.stores.mongo import MongoJobStore

        store = MongoJobStore(request.getfixturevalue("mongodb_db_uri"))
    else:
        store = SqliteJobStore(tmp_path)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "mongodb"])
def table(request, tmp_path):
    if request.param == "mongodb":
        from radio.admin.stores.mongo import MongoVersionTable

        table = MongoVersionTable(request.getfixturevalue("mongodb_db_uri"))
    else:
        table = SqliteVersionTable(tmp_path)
    yield table
    table.close()


def worker_job(style: str = "folk", max_attempts: int = 3, **options) -> Job:
    job = Job.new(style, options)
    job.train_on, job.max_attempts = WORKERS, max_attempts
    return job


def test_one_active_job_per_style(store):
    first = worker_job("folk")
    assert store.add_if_idle(first) is None
    busy = store.add_if_idle(worker_job("folk"))
    assert busy is not None and busy.id == first.id
    assert store.add_if_idle(worker_job("baroque")) is None
    assert {j.style for j in store.active()} == {"folk", "baroque"}
    assert store.cancel(first.id, "cancelled by an admin").state == CANCELLED
    assert store.cancel(first.id, "again") is None  # only an active job can be cancelled
    assert store.add_if_idle(worker_job("folk")) is None  # the style is free again


def test_claim_is_oldest_first_filtered_and_skips_the_servers_own_jobs(store):
    own = Job.new("medieval", {})  # trained in-process by a server: never a worker's
    store.save(own)
    a, b = worker_job("folk"), worker_job("baroque")
    a.created_at, b.created_at = "2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00"
    store.add_if_idle(a)
    store.add_if_idle(b)
    got = store.claim("w1", 30, ("baroque",))
    assert got.id == b.id and got.state == RUNNING and got.worker == "w1" and got.attempts == 1
    assert got.lease_until > time.time() + 25
    assert store.claim("w2", 30).id == a.id
    assert store.claim("w3", 30) is None
    stored = store.get(b.id)
    assert (stored.state, stored.worker, stored.attempts) == (RUNNING, "w1", 1)
    assert store.get(own.id).state == QUEUED and store.get(own.id).train_on == HERE


def test_exactly_one_of_many_racing_workers_wins_a_claim(store):
    store.add_if_idle(worker_job("folk"))
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        barrier.wait()
        if store.claim(name, 30) is not None:
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_only_the_lease_holder_writes_and_renews(store):
    store.add_if_idle(worker_job("folk"))
    job = store.claim("w1", 30)
    job.progress, job.epoch = 0.5, 3
    assert store.save_if_owned(job, "w1", 30) is True
    assert store.get(job.id).progress == 0.5
    intruder = store.get(job.id)
    intruder.progress = 0.9
    assert store.save_if_owned(intruder, "w2", 30) is False
    assert store.renew(job.id, "w2", 30) is False
    assert store.renew(job.id, "w1", 30) is True
    assert store.get(job.id).progress == 0.5
    job.state, job.progress, job.model_version = SUCCEEDED, 1.0, "abcdef012345"
    assert store.save_if_owned(job, "w1", 30) is True
    done = store.get(job.id)
    assert done.state == SUCCEEDED and done.model_version == "abcdef012345" and done.lease_until is None
    assert store.save_if_owned(job, "w1", 30) is False  # finished: nobody holds it any more
    assert store.active() == []


def test_a_cancelled_job_is_no_longer_the_workers(store):
    store.add_if_idle(worker_job("folk"))
    job = store.claim("w1", 30)
    assert store.cancel(job.id, "cancelled by an admin").state == CANCELLED
    assert store.renew(job.id, "w1", 30) is False  # the worker learns of it at its next renewal
    job.progress = 0.7
    assert store.save_if_owned(job, "w1", 30) is False
    stored = store.get(job.id)
    assert stored.state == CANCELLED and stored.error == "cancelled by an admin"


def test_a_lost_lease_requeues_then_fails_with_the_reason(store):
    store.add_if_idle(worker_job("folk", max_attempts=2))
    job = store.claim("w1", 30)
    assert store.expire_leases() == []  # the lease holds
    [requeued] = store.expire_leases(now=time.time() + 31)
    assert requeued.state == QUEUED and requeued.worker is None
    assert "worker w1 stopped renewing its lease" in requeued.error and "attempt 2 of 2" in requeued.error
    assert store.save_if_owned(job, "w1", 30) is False  # the dead worker, back to life, may not write
    second = store.claim("w2", 30)
    assert second.id == job.id and second.attempts == 2 and second.progress == 0.0
    [failed] = store.expire_leases(now=time.time() + 31)
    assert failed.state == FAILED and "worker w2" in failed.error and "gave up after 2 attempts" in failed.error
    assert store.get(job.id).finished_at
    assert store.claim("w3", 30) is None


def test_a_stopping_worker_gives_its_job_back(store):
    store.add_if_idle(worker_job("folk"))
    job = store.claim("w1", 30)
    assert store.release(job.id, "w2", "not mine") is False
    assert store.release(job.id, "w1", "worker w1 was stopped") is True
    back = store.get(job.id)
    assert back.state == QUEUED and back.worker is None and back.attempts == 0
    assert store.claim("w2", 30).attempts == 1


def test_a_restarting_server_fails_its_own_jobs_only(store):
    own = Job.new("medieval", {})
    own.state = RUNNING
    store.save(own)
    store.add_if_idle(worker_job("folk"))
    claimed = store.claim("w1", 30)
    failed = store.fail_interrupted("the server stopped while the job was running")
    assert [j.id for j in failed] == [own.id]
    assert store.get(claimed.id).state == RUNNING  # the worker's job goes on


async def test_queue_calls_from_worker_threads(store):
    for style in ("a", "b", "c", "d"):
        store.add_if_idle(worker_job(style))
    claims = await asyncio.gather(*(asyncio.to_thread(store.claim, f"w{i}", 30) for i in range(10)))
    assert sorted(j.style for j in claims if j is not None) == ["a", "b", "c", "d"]


def test_version_table(table):
    assert table.trained("folk") == [] and table.active_version("folk") is None
    facts = {"pieces": 12, "heldout_pieces": 2, "heldout_beats": 640, "heldout_fingerprint": "0123456789abcdef",
             "epochs_run": 7, "best_epoch": 5, "stopped_by": "early stopping"}
    v1 = ModelVersion("folk", "aaaaaaaaaaaa", "/x/aaaaaaaaaaaa.npz", "trained", "2026-01-01T00:00:01+00:00", "job1",
                      {"nll_per_beat": {"model": 1.5}}, facts=facts)
    v2 = ModelVersion("folk", "bbbbbbbbbbbb", "/x/bbbbbbbbbbbb.npz", "trained", "2026-01-01T00:00:02+00:00", None, {})
    table.insert(v1)
    table.insert(v2)
    table.insert(ModelVersion("folk", "aaaaaaaaaaaa", "", "trained", "2027-01-01T00:00:00+00:00", "other", {}))
    table.insert(ModelVersion("baroque", "cccccccccccc", "", "trained", "2026-01-01T00:00:03+00:00", None, {}))
    got = table.trained("folk")
    assert [v.version for v in got] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert got[0].job_id == "job1" and got[0].metrics == {"nll_per_beat": {"model": 1.5}}  # the first insert stays
    assert got[0].facts == facts and got[1].facts == {}  # the header's facts travel with the row
    table.set_active("folk", "bbbbbbbbbbbb")
    table.set_active("baroque", "cccccccccccc")
    assert table.active_version("folk") == "bbbbbbbbbbbb"
    assert table.styles_with_active() == {"folk": "bbbbbbbbbbbb", "baroque": "cccccccccccc"}
    table.set_active("folk", None)  # back to the bundled model
    assert table.active_version("folk") is None and table.styles_with_active() == {"baroque": "cccccccccccc"}

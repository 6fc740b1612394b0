"""The admin API in `--train-on workers` mode, without TensorFlow: jobs wait in the store, a
claim is seen, a dead worker's job is requeued by the radio node, cancel reaches the worker, and
a style created here travels with its job."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.admin_helpers import AUTH, admin_client, fill_library, job_events, tune, wait_for_state

from radio.admin.stores.sqlite import SqliteJobStore
from radio.admin.worker import Worker, WorkerSettings
from radio.styles import load_style
from radio.web.admin_routes import ADMIN


async def test_jobs_wait_for_a_worker_and_a_dead_workers_job_is_requeued(home, corpus_dir):
    fill_library(home, corpus_dir, "folk", count=2)  # enough for the retrain pre-check
    async with admin_client(home, train_on="workers") as client:
        service = client.app[ADMIN].service
        service.runner.poll_seconds = 0.2
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 1})
        assert r.status == 202
        job = await r.json()
        assert (job["state"], job["train_on"], job["worker"], job["max_attempts"]) == ("queued", "workers", None, 3)
        assert job["style_spec"] is None  # a bundled style: every worker has it
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 1})
        assert r.status == 409 and job["id"] in (await r.json())["error"]
        await asyncio.sleep(0.6)
        assert (await (await client.get(f"/admin/jobs/{job['id']}", headers=AUTH)).json())["state"] == "queued"

        # A worker elsewhere claims it with a 1 s lease, then vanishes without a word.
        other = SqliteJobStore(home)
        claimed = other.claim("vanished-box", 1.0)
        assert claimed.id == job["id"]
        running = await wait_for_state(client, job["id"], ("running",), timeout=5)
        assert running["worker"] == "vanished-box" and running["attempts"] == 1
        styles = {s["style"]: s for s in await (await client.get("/admin/styles", headers=AUTH)).json()}
        assert styles["folk"]["job"]["id"] == job["id"]
        # The radio node's poller notices the lapsed lease and puts the job back in the queue.
        requeued = await wait_for_state(client, job["id"], ("queued",), timeout=10)
        assert "worker vanished-box stopped renewing its lease" in requeued["error"]
        assert "attempt 2 of 3" in requeued["error"] and requeued["worker"] is None
        other.close()


async def test_cancel_reaches_the_worker_through_its_lease(home, corpus_dir):
    fill_library(home, corpus_dir, "folk", count=2)
    async with admin_client(home, train_on="workers") as client:
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 1})
        queued = await r.json()
        r = await client.delete(f"/admin/jobs/{queued['id']}", headers=AUTH)
        assert r.status == 200 and (await r.json())["state"] == "cancelled"
        assert (await client.delete(f"/admin/jobs/{queued['id']}", headers=AUTH)).status == 409

        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 1})
        job = await r.json()
        worker_store = SqliteJobStore(home)
        assert worker_store.claim("w1", 30).id == job["id"]
        feed = asyncio.get_running_loop().create_task(job_events(client, job["id"], timeout=20))
        await asyncio.sleep(0.5)
        r = await client.delete(f"/admin/jobs/{job['id']}", headers=AUTH)
        assert r.status == 200 and (await r.json())["state"] == "cancelled"
        assert worker_store.renew(job["id"], "w1", 30) is False  # what the worker hears at its next renewal
        events = await feed
        assert [e["state"] for e in events][-1] == "cancelled" and "running" in [e["state"] for e in events]
        worker_store.close()


async def test_a_style_created_here_travels_with_its_job(home, tmp_path, corpus_dir):
    fill_library(home, corpus_dir, "folk", count=2)
    async with admin_client(home, train_on="workers") as client:
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "night-folk", "display_name": "Night Folk",
                                                                   "like": "folk", "tempo_bpm": 72,
                                                                   "from_styles": ["folk"]})
        assert r.status == 201, await r.text()
        r = await client.post("/admin/styles/night-folk/retrain", headers=AUTH, json={"epochs": 1})
        job = await r.json()
        assert job["style_spec"] == (home / "styles" / "night-folk" / "style.toml").read_text()

    store = SqliteJobStore(home)
    claimed = store.claim("w1", 30)
    worker = Worker(WorkerSettings(home=tmp_path / "worker-home", worker_id="w1"), store, registry=None)
    folder = worker._style_folder(claimed)  # what the worker's trainer gets as CONTINUO_STYLES
    style = load_style(folder / "night-folk")
    assert style.display_name == "Night Folk" and style.tempo_bpm == 72 and "folk" in style.corpus_styles
    assert worker._style("night-folk", folder).name == "night-folk"
    store.close()


def test_the_worker_refuses_to_start_without_tensorflow_or_with_bad_settings(home, monkeypatch):
    from radio.cli import main

    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "tensorflow" else object())
    assert main(["worker", "--once"]) == 1
    monkeypatch.undo()
    with pytest.raises(ValueError, match="lease"):
        WorkerSettings(home=home, worker_id="w", lease_seconds=0.5)
    with pytest.raises(ValueError, match="poll"):
        WorkerSettings(home=home, worker_id="w", poll_seconds=0)


def test_serve_rejects_an_unknown_train_on(home, capsys):
    from radio.cli import main

    assert main(["serve", "--train-on", "cloud", "--port", "0"]) == 1
    assert "'here' or 'workers'" in capsys.readouterr().err

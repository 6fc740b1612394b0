"""Trainer workers for real: `continuo serve --train-on workers` and `continuo worker` as separate
processes sharing CONTINUO_HOME (the SQLite catalog) and an S3 bucket on a moto server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp
import boto3
import pytest
from tests.support.admin_helpers import AUTH, TOKEN, fill_library

from radio.admin.jobs import QUEUED, RUNNING, SUCCEEDED, WORKERS, Job

from radio.admin.stores.sqlite import SqliteJobStore

pytestmark = [pytest.mark.train, pytest.mark.slow]
TINY = {"epochs": 2, "hyperparameters": {"hidden": 16, "stride": 64}}


@pytest.fixture
def shared(tmp_path, s3_server, monkeypatch) -> dict[str, str]:
    """The environment every process of the deployment shares: one home, one bucket."""
    env = {
        "CONTINUO_HOME": str(tmp_path / "home"),
        "CONTINUO_ADMIN_TOKEN": TOKEN,
        **s3_server.env(s3_server.create_bucket()),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # so fill_library stores the pieces in the bucket too
    monkeypatch.delenv("CONTINUO_STYLES", raising=False)
    monkeypatch.delenv("CONTINUO_MONGODB_URI", raising=False)
    return env


class Process:
    """A continuo command in its own process group, its log in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.proc = None
        self.args, self.env = args, {**os.environ, **env, "PYTHONUNBUFFERED": "1"}

    async def start(self) -> "Process":
        self.fh = self.log.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "radio.cli", *self.args, env=self.env, stdin=asyncio.subprocess.DEVNULL,
            stdout=self.fh, stderr=self.fh, start_new_session=True,
        )
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_log(self, pattern: str, timeout: float) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if m := re.search(pattern, self.text()):
                return m
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the log of {' '.join(self.args)}:\n{self.text()[-3000:]}")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except asyncio.TimeoutError:
                os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        self.fh.close()
        return self.proc.returncode


async def get_json(session: aiohttp.ClientSession, url: str) -> dict:
    async with session.get(url, headers=AUTH) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def wait_for(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := await check():
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def test_a_worker_trains_a_queued_job_and_the_running_station_puts_it_on_air(shared, tmp_path, corpus_dir):
    fill_library(Path(shared["CONTINUO_HOME"]), corpus_dir, "folk", count=5)
    radio = await Process(
        ["serve", "--host", "127.0.0.1", "--port", "0", "--styles", "folk", "--train-on", "workers",
         "--ahead-seconds", "1"],
        {**shared, "CONTINUO_SWAP_SECONDS": "0", "CONTINUO_ACTIVE_POLL_SECONDS": "0.5"}, tmp_path / "serve.log",
    ).start()
    worker = None
    try:
        port = (await radio.wait_for_log(r"listening on http://127\.0\.0\.1:(\d+)/", 60)).group(1)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            before = (await get_json(session, f"{base}/api/channels/folk"))["model_version"]
            async with session.post(f"{base}/admin/styles/folk/retrain", headers=AUTH, json={**TINY, "force": True}) as r:
                assert r.status == 202, await r.text()
                job = await r.json()
            assert job["train_on"] == WORKERS and job["state"] == QUEUED
            async with session.post(f"{base}/admin/styles/folk/retrain", headers=AUTH, json=TINY) as r:
                assert r.status == 409 and job["id"] in (await r.json())["error"]  # one job per style, still

            # The station trains nothing itself: without a worker the job just waits.
            await asyncio.sleep(1.5)
            assert (await get_json(session, f"{base}/admin/jobs/{job['id']}"))["state"] == QUEUED
            assert not list((Path(shared["CONTINUO_HOME"]) / "models").glob(".jobs/*"))

            async with session.get(f"{base}/stream/folk.mp3") as stream:
                heard = asyncio.get_running_loop().create_task(read_stream(stream))
                worker = await Process(
                    ["worker", "--once", "--id", "gpu-box-1", "--threads", "1", "--lease-seconds", "10",
                     "--poll-seconds", "0.5"], shared, tmp_path / "worker.log",
                ).start()

                async def finished():
                    current = await get_json(session, f"{base}/admin/jobs/{job['id']}")
                    return current if current["state"] not in (QUEUED, RUNNING) else None

                done = await wait_for(finished, 120, "the worker to finish the job")
                uploaded = time.monotonic()
                assert done["state"] == SUCCEEDED, (done, worker.text()[-3000:])
                assert done["worker"] == "gpu-box-1" and done["attempts"] == 1
                assert done["epoch"] == 2 and [h["epoch"] for h in done["history"]] == [1, 2]
                assert done["activated"] and done["activation_reason"] == "force=true"
                # How training ended, as the admin page shows it, from the worker's model header.
                assert done["stopped_by"] in ("epochs", "early stopping") and done["epochs_run"] in (1, 2), done
                version = done["model_version"]
                assert version and version != before

                async def on_air():
                    return (await get_json(session, f"{base}/api/channels/folk"))["model_version"] == version

                await wait_for(on_air, 30, f"the station to put {version} on air")
                print(f"upload to on air: {time.monotonic() - uploaded:.1f} s")
                heard.cancel()
                arrivals = await heard
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
            assert len(arrivals) > 10 and max(gaps) < 2.0, max(gaps)  # the stream never paused

            models = await get_json(session, f"{base}/admin/styles/folk/models")
            trained = {v["version"]: v for v in models["versions"]}[version]
            assert trained["active"] and trained["source"] == "trained"
            # The header's facts came with the version's row: held-out set and training, as on one box.
            assert trained["heldout"]["pieces"] >= 1 and trained["heldout"]["fingerprint"], trained["heldout"]
            assert trained["training"]["epochs_run"] == done["epochs_run"] and trained["training"]["pieces"] >= 1
        assert await worker.stop() == 0  # --once: it left by itself
        assert "claimed job" in worker.text()
        # The model (and its loss curve) is in the shared bucket, sha256 in its metadata.
        s3 = boto3.client("s3", endpoint_url=shared["CONTINUO_S3_ENDPOINT_URL"], region_name="us-east-1")
        head = s3.head_object(Bucket=shared["CONTINUO_S3_BUCKET"], Key=f"models/folk/{version}.npz")
        assert head["Metadata"]["sha256"].startswith(version)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=shared["CONTINUO_S3_BUCKET"])["Contents"]}
        assert f"models/folk/{version}.loss.png" in keys and sum(k.startswith("midi/") for k in keys) == 5
    finally:
        if worker is not None:
            await worker.stop()
        assert await radio.stop() == 0, radio.text()[-3000:]


async def read_stream(response: aiohttp.ClientResponse) -> list[float]:
    arrivals: list[float] = []
    with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
        async for _ in response.content.iter_any():
            arrivals.append(time.monotonic())
    return arrivals


async def test_a_job_whose_worker_dies_is_retried_by_another(shared, tmp_path, corpus_dir):
    home = Path(shared["CONTINUO_HOME"])
    fill_library(home, corpus_dir, "folk", count=4)
    store = SqliteJobStore(home)
    job = Job.new("folk", TINY)
    job.train_on, job.max_attempts = WORKERS, 2
    assert store.add_if_idle(job) is None
    first = await Process(["worker", "--id", "doomed", "--threads", "1", "--lease-seconds", "2",
                           "--poll-seconds", "0.2"], shared, tmp_path / "doomed.log").start()
    try:
        async def trainer_started():
            current = await asyncio.to_thread(store.get, job.id)
            return current if current.state == RUNNING and current.pid else None

        running = await wait_for(trainer_started, 60, "the first worker's trainer")
        assert running.worker == "doomed"
        # The machine dies: the worker and its trainer vanish without a word.
        os.killpg(running.pid, signal.SIGKILL)
        os.killpg(first.proc.pid, signal.SIGKILL)
        await first.proc.wait()
    finally:
        await first.stop()
    assert (await asyncio.to_thread(store.get, job.id)).state == RUNNING  # nobody knows yet
    await asyncio.sleep(2.5)  # the lease runs out

    second = await Process(["worker", "--once", "--id", "survivor", "--threads", "1", "--lease-seconds", "10"],
                           shared, tmp_path / "survivor.log").start()
    try:
        assert await asyncio.wait_for(second.proc.wait(), 120) == 0, second.text()[-3000:]
    finally:
        await second.stop()
    done = store.get(job.id)
    store.close()
    assert done.state == SUCCEEDED, (done.error, second.text()[-3000:])
    assert done.worker == "survivor" and done.attempts == 2 and done.model_version
    assert any("worker doomed stopped renewing its lease" in line for line in done.log_tail)
    assert "job %s (folk) queued" % job.id in second.text()  # the survivor requeued it before claiming it


@pytest.mark.parametrize("args, env, message", [
    ([], {"CONTINUO_WORKER_LEASE_SECONDS": "nan"}, "CONTINUO_WORKER_LEASE_SECONDS='nan' is not a finite number"),
    ([], {"CONTINUO_WORKER_POLL_SECONDS": "soon"}, "CONTINUO_WORKER_POLL_SECONDS='soon' is not a number"),
    (["--lease-seconds", "inf"], {}, "the lease must be at least 1 second, not inf"),
    (["--poll-seconds", "nan"], {}, "the poll interval must be above 0 seconds, not nan"),
])
def test_a_worker_with_a_bad_number_exits_with_the_reason(tmp_path, args, env, message):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "radio.cli", "worker", "--once", "--home", str(tmp_path), *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr

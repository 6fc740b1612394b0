"""Restarts: a job running when the server dies is failed with the reason (and its orphaned
trainer is stopped); the active model version comes back on air after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from tests.support.admin_helpers import AUTH, TOKEN, admin_client, fill_library, wait_for_state, wait_for_version

from radio.config import REPO_ROOT
from radio.web.admin_routes import ADMIN


class Server:
    """``continuo serve`` in a subprocess on a free port."""

    def __init__(self, home, log_path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.home, self.log_path, self.proc = home, log_path, None

    def start(self) -> None:
        env = dict(os.environ, CONTINUO_HOME=str(self.home), CONTINUO_ADMIN_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "radio.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--styles", "folk"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-2000:]
            try:
                self.call("GET", "/admin/jobs")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.3)
        raise AssertionError("the server did not start: " + self.log_path.read_text()[-2000:])

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={**AUTH, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())

    def retrain_until_training(self) -> tuple[dict, int]:
        """Queue a long retrain of folk and wait until its trainer runs: (the job, the trainer's pid)."""
        status, job = self.call("POST", "/admin/styles/folk/retrain", {"epochs": 100})
        assert status == 202
        pid = None
        deadline = time.monotonic() + 30
        while not pid and time.monotonic() < deadline:
            pid = self.call("GET", f"/admin/jobs/{job['id']}")[1].get("pid")
            time.sleep(0.1)
        assert pid and group_alive(pid)
        return job, pid

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_a_job_running_when_the_server_dies_is_failed_after_restart(home, corpus_dir, tmp_path):
    fill_library(home, corpus_dir, "folk", count=3)
    server = Server(home, tmp_path / "serve.log")
    pid = None
    try:
        server.start()
        job, pid = server.retrain_until_training()
        server.kill()  # no clean shutdown: the job is left "running" in the database
        server.start()
        status, after = server.call("GET", f"/admin/jobs/{job['id']}")
        assert after["state"] == "failed"
        assert after["error"] == "the server stopped while the job was running (the job was running)"
        deadline = time.monotonic() + 10
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(pid), "the orphaned trainer is still running"
        # And the style takes a new job again.
        status, second = server.call("POST", "/admin/styles/folk/retrain", {"epochs": 100})
        assert status == 202
        server.call("DELETE", f"/admin/jobs/{second['id']}")
    finally:
        server.stop()
        if pid and group_alive(pid):
            os.killpg(pid, signal.SIGKILL)


async def test_the_active_version_is_back_on_air_after_a_restart(home, tmp_path):
    candidate = tmp_path / "candidate.npz"
    shutil.copyfile(REPO_ROOT / "styles" / "baroque" / "model.npz", candidate)
    async with admin_client(home, start=True, swap_seconds=0.5) as client:
        new, _ = client.app[ADMIN].service.registry.register("folk", candidate, {}, None)
        r = await client.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH)
        assert r.status == 200
    async with admin_client(home, start=True) as client:
        await wait_for_version(client, "folk", new.version, timeout=15)
        models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
        assert [v["active"] for v in models["versions"]] == [False, True]


async def test_a_clean_shutdown_stops_the_trainer_and_says_why(home, corpus_dir):
    fill_library(home, corpus_dir, "folk", count=3)
    async with admin_client(home) as client:
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 100})
        job = await r.json()
        await wait_for_state(client, job["id"], ("running",))
        for _ in range(100):
            pid = (await (await client.get(f"/admin/jobs/{job['id']}", headers=AUTH)).json()).get("pid")
            if pid:
                break
            await asyncio.sleep(0.1)
        assert pid
    assert not group_alive(pid)
    async with admin_client(home) as client:
        after = await (await client.get(f"/admin/jobs/{job['id']}", headers=AUTH)).json()
        assert after["state"] == "failed" and after["error"] == "the server stopped while the job was running"

"""``continuo serve``'s hardening flags, as an operator sets them: on the command line or in
the environment, reaching the running server (caps, where the admin is, and what the station
still does with the admin off)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from radio.admin.versions import VersionRegistry

REPO = Path(__file__).resolve().parents[2]
TOKEN = "serve-flags-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def activate_elsewhere(home: Path, style: str, model: Path, tmp_path: Path) -> str:
    """What a trainer worker or another node does: register a version and move the pointer."""
    candidate = tmp_path / f"{model.parent.name}-{os.urandom(3).hex()}.npz"
    shutil.copyfile(model, candidate)
    registry = VersionRegistry(home)
    version, _ = registry.register(style, candidate, {}, None)
    registry.set_active(style, version)
    return version.version


class Serve:
    def __init__(self, helpers, tmp_path: Path, *args: str, open_files: int | None = None, **env: str | None) -> None:
        self.helpers, self.args, self.tmp_path, self.open_files = helpers, args, tmp_path, open_files
        merged = {**os.environ, "CONTINUO_HOME": str(tmp_path / "home"), "CONTINUO_PORT": "0",
                  "CONTINUO_ADMIN_TOKEN": TOKEN, "CONTINUO_ACTIVE_POLL_SECONDS": "0.5",
                  "CONTINUO_SWAP_SECONDS": "1", **env}  # follow within a second, not at the next piece
        self.env = {k: v for k, v in merged.items() if v is not None}  # None: unset
        self.lines: list[str] = []

    async def __aenter__(self) -> "Serve":
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "radio.cli", "serve", "--host", "127.0.0.1", "--styles", "folk", *self.args,
            env=self.env, cwd=self.tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            preexec_fn=self._limit_files if self.open_files else None,
        )
        m = await self.helpers.wait_for_line(self.proc.stderr, r"listening on http://127\.0\.0\.1:(\d+)/", 60, self.lines)
        self.url = f"http://127.0.0.1:{m.group(1)}"
        self._drain = asyncio.get_running_loop().create_task(self._read_log())
        return self

    def _limit_files(self) -> None:  # in the child, before exec
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    async def _read_log(self) -> None:
        while line := await self.proc.stderr.readline():
            self.lines.append(line.decode(errors="replace"))

    async def __aexit__(self, *exc) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._drain.cancel()

    async def version(self, http: aiohttp.ClientSession) -> str:
        async with http.get(f"{self.url}/api/channels/folk") as r:
            return (await r.json())["model_version"]

    async def wait_for_version(self, http: aiohttp.ClientSession, version: str, seconds: float = 30) -> None:
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            if await self.version(http) == version:
                return
            await asyncio.sleep(0.25)
        raise AssertionError(f"folk plays {await self.version(http)}, not {version}:\n{''.join(self.lines)[-3000:]}")


@pytest.fixture
def bundled() -> Path:
    model = REPO / "styles" / "baroque" / "model.npz"
    if not model.is_file():
        pytest.skip("the bundled models are missing")
    return model


async def test_admin_off_still_plays_and_follows_activated_versions_and_env_caps_hold(tmp_path, bundled, helpers):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    restored = activate_elsewhere(home, "folk", bundled, tmp_path)  # an earlier session's activation
    async with Serve(helpers, tmp_path, "--admin", "off", CONTINUO_MAX_LISTENERS_PER_CLIENT="1",
                     CONTINUO_ADMIN_TOKEN=None) as server:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/admin") as r:
                assert r.status == 404
            async with http.get(f"{server.url}/admin/jobs", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 404
            # Not the bundled model: the version activated before this server started.
            await server.wait_for_version(http, restored)
            # An activation made elsewhere while it serves comes on air too.
            followed = activate_elsewhere(home, "folk", REPO / "styles" / "folk" / "model.npz", tmp_path)
            await server.wait_for_version(http, followed)
            # CONTINUO_MAX_LISTENERS_PER_CLIENT=1: the second stream from this address is refused,
            # and the first goes on.
            async with http.get(f"{server.url}/stream/folk.mp3") as first:
                await first.content.readexactly(4096)
                async with http.get(f"{server.url}/stream/folk.mp3") as second:
                    assert second.status == 503
                    assert int(second.headers["Retry-After"]) > 0
                    assert "the most one address may hold" in (await second.json())["error"]
                await first.content.readexactly(64 * 1024)
    assert not list(home.glob("*token*")), "with the admin off no admin token is created"


async def test_the_admin_on_its_own_port_and_the_total_cap_from_the_command_line(tmp_path, bundled, helpers):
    admin_port = free_port()
    async with Serve(helpers, tmp_path, "--admin", f"127.0.0.1:{admin_port}", "--max-listeners", "1") as server:
        admin = f"http://127.0.0.1:{admin_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/admin/jobs", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 404  # the public port has no admin at all
            async with http.get(f"{admin}/admin/jobs", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                assert r.status == 200
            async with http.get(f"{admin}/admin/jobs") as r:
                assert r.status == 401
            async with http.get(f"{admin}/stream/folk.mp3") as r:
                assert r.status == 404  # and the admin's port carries no streams
            async with http.get(f"{server.url}/stream/folk.mp3") as first:
                await first.content.readexactly(4096)
                async with http.get(f"{server.url}/stream/folk.mp3") as second:
                    assert second.status == 503
                    assert "the station is full: 1 listeners" in (await second.json())["error"]


def test_the_default_caps_fit_the_open_files_limit_they_were_measured_under():
    """Every listener and event feed the default caps allow, plus spare, is a socket: on the
    20,000 open-files hard limit of the box that measured them they all fit, so a full station
    answers 503 rather than failing at accept()."""
    from radio.commands.serve import fd_shortfall, fds_wanted
    from radio.web.limits import Caps

    assert fds_wanted(Caps()) <= 20_000
    assert fd_shortfall(20_000, Caps()) is None
    assert fds_wanted(Caps(max_listeners=0)) is None, "no cap: the hard limit is all there is"


async def test_serve_warns_at_start_when_the_open_files_limit_is_below_the_caps(tmp_path, helpers):
    """A hard limit of 512 cannot hold 20 listeners + 20 feeds + 1,024 spare: the operator is
    told at start, with the numbers and what to change, and the station still plays."""
    async with Serve(helpers, tmp_path, "--max-listeners", "20", "--max-event-clients", "20", open_files=512) as server:
        log = "".join(server.lines)
        assert "the open-files limit is 512, below the 1,064 the caps need (20 listeners + 20 event feeds" in log, log
        assert "--max-listeners" in log and "LimitNOFILE" in log
        async with aiohttp.ClientSession() as http, http.get(f"{server.url}/stream/folk.mp3") as stream:
            assert stream.status == 200 and await stream.content.readexactly(4096)


async def test_serve_does_not_warn_when_the_limit_holds_the_caps(tmp_path, helpers):
    async with Serve(helpers, tmp_path, "--max-listeners", "20", "--max-event-clients", "20") as server:
        assert "open-files limit" not in "".join(server.lines)


def test_the_recording_and_blend_caps_come_from_flags_and_the_environment(monkeypatch):
    import argparse

    from radio.commands.serve import add_arguments, build_caps
    from radio.web.limits import Caps

    def caps(*argv: str) -> Caps:
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        return build_caps(parser.parse_args(list(argv)))

    default = caps()
    assert (default.max_recordings, default.max_recordings_per_client, default.max_blends_per_client) == (16, 2, 1)
    set_ = caps("--max-recordings", "4", "--max-recordings-per-client", "1", "--max-blends-per-client", "0")
    assert (set_.max_recordings, set_.max_recordings_per_client, set_.max_blends_per_client) == (4, 1, 0)
    monkeypatch.setenv("CONTINUO_MAX_BLENDS_PER_CLIENT", "3")
    monkeypatch.setenv("CONTINUO_MAX_RECORDINGS_PER_CLIENT", "5")
    from_env = caps()
    assert (from_env.max_blends_per_client, from_env.max_recordings_per_client) == (3, 5)

"""Fixtures for the listener page's browser tests: a real ``continuo serve`` subprocess on
a free port and Debian's headless Chromium driven by the pip ``playwright`` package
(never ``playwright install``)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Two channels keep the server light on a small machine while still allowing a switch.
STYLES = ("baroque", "classical")
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StationProcess:
    """``continuo serve`` in a subprocess, restartable on the same port."""

    def __init__(self, home: Path, log_dir: Path, styles: tuple[str, ...] = STYLES) -> None:
        self.home = home
        self.log_dir = log_dir
        self.styles = styles
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_dir / f"serve-{self.starts}.log", "wb")
        env = dict(os.environ, CONTINUO_HOME=str(self.home), OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "radio.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--styles", ",".join(self.styles)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"continuo serve exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if self.get_json("/api/channels"):
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"continuo serve did not answer within {STARTUP_SECONDS} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def kill(self) -> None:
        """Die abruptly, as a crashed station would: no goodbye to the listeners."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            return response.read()

    def get_json(self, path: str):
        return json.loads(self.get(path))

    def stream_seconds(self, style: str) -> float:
        """Seconds of audio the channel has released so far (the station's /healthz)."""
        return float(self.get_json("/healthz")["channels"][style]["stream_seconds"])

    def log_tail(self, chars: int = 3000) -> str:
        logs = sorted(self.log_dir.glob("serve-*.log"))
        return logs[-1].read_text(errors="replace")[-chars:] if logs else ""


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (`make system-deps` installs Debian's chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def station(chromium_path, tmp_path_factory):
    server = StationProcess(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("serve-logs"))
    server.start()
    yield server
    server.stop()


# Module scope, not session: sync Playwright keeps an event loop running on the main
# thread, which would break the asyncio tests of any area collected after this one.
@pytest.fixture(scope="module")
def playwright_instance(chromium_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def launch_browser(playwright_instance, chromium_path):
    """Start a Chromium; tests play audio unprompted unless they ask for a stricter policy."""

    def launch(autoplay_policy: str = "no-user-gesture-required"):
        args = [*CHROMIUM_ARGS, f"--autoplay-policy={autoplay_policy}"]
        return playwright_instance.chromium.launch(executable_path=str(chromium_path), args=args)

    return launch


@pytest.fixture(scope="module")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


class ConsoleLog:
    """Console errors and uncaught exceptions seen by a page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.set_default_timeout(20000)
    return page


@pytest.fixture
def console(page) -> ConsoleLog:
    return ConsoleLog(page)

"""Fixture sites on 127.0.0.1 and a helper that runs ``continuo scrape`` in a subprocess
(Twisted's reactor cannot be restarted inside one test process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sites import FixtureServer, Scenario, imslp_scenario, mutopia_scenario  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONTACT = "https://example.org/continuo-tests"


@dataclass
class Site:
    server: FixtureServer
    scenario: Scenario

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")


@pytest.fixture
def mutopia_site(corpus_dir):
    scenario = mutopia_scenario(corpus_dir)
    server = FixtureServer(scenario.routes)
    yield Site(server, scenario)
    server.close()


@pytest.fixture
def imslp_site(corpus_dir):
    scenario = imslp_scenario(corpus_dir)
    server = FixtureServer(scenario.routes)
    yield Site(server, scenario)
    server.close()


def scrape_command(source: str, base_url: str, home: Path, *options: str) -> list[str]:
    """``continuo scrape`` with the delays off (robots.txt Crawl-delay still applies) and JSON output."""
    return [sys.executable, "-m", "radio.cli", "scrape", source, "--base-url", base_url, "--home", str(home),
            "--delay", "0", "--max-bytes", "1000000", "--contact", CONTACT, "--json", *options]


SUBPROCESS = {"cwd": REPO, "env": dict(os.environ, PYTHONPATH=str(REPO))}


def scrape(source: str, site: Site, home: Path, *options: str, timeout: float = 60) -> dict:
    """Run a crawl; return its JSON summary (the process must succeed)."""
    cmd = scrape_command(source, site.base_url, home, *options)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **SUBPROCESS)
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)

"""A helper that runs ``continuo scrape`` in a subprocess (Twisted's reactor cannot be restarted
inside one test process), against a fixture site from tests/support/sites.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.sites import FixtureServer, Scenario

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

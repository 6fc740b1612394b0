"""Scraper throughput against the local Mutopia-shaped fixture site, with the delays off,
and the rate the default politeness settings allow against a real site.

The crawl runs ``continuo scrape mutopia`` in a subprocess (as a user would), against
a site of N pieces in listings of 10, served on 127.0.0.1 from ``tests/support/sites.py``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CONTINUO_CORPUS", REPO.parent / "shared" / "corpus"))
PIECES = int(os.environ.get("BENCH_SCRAPE_PIECES", "150"))
# Pages on the real Mutopia site, roughly: ~2,100 pieces, one piece page each, listings of 10.
MUTOPIA_PIECES = 2100


def crawl_fixture(pieces: int) -> dict:
    from tests.support.sites import FixtureServer, bench_mutopia_routes

    server = FixtureServer(bench_mutopia_routes(CORPUS, pieces))
    try:
        with tempfile.TemporaryDirectory() as home:
            cmd = [sys.executable, "-m", "radio.cli", "scrape", "mutopia", "--base-url", server.base_url,
                   "--home", home, "--delay", "0", "--json"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=REPO,
                                  env=dict(os.environ, PYTHONPATH=str(REPO)))
            if done.returncode != 0:
                raise RuntimeError(f"scrape failed:\n{done.stderr[-3000:]}")
            return json.loads(done.stdout)
    finally:
        server.close()


def politeness_bounds() -> None:
    from scraper import settings as s

    per_host = s.CONCURRENT_REQUESTS_PER_DOMAIN
    print("default politeness (scraper/settings.py):")
    print(f"  ROBOTSTXT_OBEY={s.ROBOTSTXT_OBEY}  CONCURRENT_REQUESTS_PER_DOMAIN={per_host}  "
          f"DOWNLOAD_DELAY={s.DOWNLOAD_DELAY} s (jitter {s.DOWNLOAD_DELAY_JITTER})")
    print(f"  AUTOTHROTTLE start {s.AUTOTHROTTLE_START_DELAY} s, max {s.AUTOTHROTTLE_MAX_DELAY} s, "
          f"target concurrency {s.AUTOTHROTTLE_TARGET_CONCURRENCY}: delay >= latency / target")
    print("  requests to one host are at least max(DOWNLOAD_DELAY, robots Crawl-delay, latency/target) apart:")
    whole = f"whole Mutopia (~{MUTOPIA_PIECES} pieces)"
    print(f"  {'Crawl-delay':>12} {'latency':>8} {'max req/min':>12} {whole:>32}")
    requests = MUTOPIA_PIECES * 2 + MUTOPIA_PIECES // 10 + 2  # piece page + MIDI each, listings, browse, robots
    for crawl_delay, latency in ((0.0, 0.3), (0.0, 3.0), (5.0, 0.3), (10.0, 0.3)):
        gap = max(s.DOWNLOAD_DELAY, crawl_delay, latency / s.AUTOTHROTTLE_TARGET_CONCURRENCY)
        per_min = 60.0 * per_host / gap
        print(f"  {crawl_delay:>10.1f} s {latency:>6.1f} s {per_min:>12.1f} {requests / per_min / 60:>26.1f} hours")


def main() -> None:
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if not (CORPUS / "MANIFEST.csv").is_file():
        print(f"skipped the fixture crawl: no corpus at {CORPUS}")
    else:
        summary = crawl_fixture(PIECES)
        elapsed = summary["elapsed_s"]
        requests = summary["pages"] + summary["downloaded"]
        print(f"fixture crawl, delays off, 1 request at a time per host: {summary['pages']} pages + "
              f"{summary['downloaded']} MIDI files ({summary['stored']} stored) in {elapsed:.2f} s")
        print(f"  pages/s: {summary['pages'] / elapsed:.1f}   requests/s (pages + files): {requests / elapsed:.1f}")
    politeness_bounds()


if __name__ == "__main__":
    main()

"""The real spiders, run through Scrapy against the fixture sites: what lands in the
catalog and the blob store, what is recorded instead and why."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from tests.support.scrape import CONTACT, SUBPROCESS, Site, scrape, scrape_command
from tests.support.sites import FixtureServer, Route, Scenario, bench_mutopia_routes

from radio.library import open_library
from radio.library.ingest import blob_key_for


def library_state(home: Path) -> dict:
    """Every piece (by source URL) and record (by URL), and every blob with its sha256."""
    library = open_library(home)
    try:
        pieces = {p.source: p for p in library.catalog.list_pieces()}
        records = {r.url: r for r in library.catalog.list_records()}
        blobs = {key: hashlib.sha256(library.blobs.get(key)).hexdigest() for key in library.blobs.keys()}
        stats = library.catalog.stats()
    finally:
        library.close()
    return {"pieces": pieces, "records": records, "blobs": blobs, "stats": stats}


def outcomes(site: Site, state: dict, prefix: str) -> dict[str, str]:
    """Path on the site -> 'stored:<style>' or the record's status, for every file the library knows."""
    base = site.url(prefix)
    found = {url.removeprefix(base): f"stored:{p.style}" for url, p in state["pieces"].items()}
    for url, record in state["records"].items():
        assert url.removeprefix(base) not in found, f"{url} is both a piece and a record"
        found[url.removeprefix(base)] = record.status
    return found


def expected_counts(expected: dict[str, str]) -> Counter:
    return Counter(v for v in expected.values() if not v.startswith("stored:"))


def test_mutopia_crawl_stores_only_valid_allowed_files(mutopia_site, tmp_path):
    site, home = mutopia_site, tmp_path / "home"
    summary = scrape("mutopia", site, home)
    state = library_state(home)
    expected = site.scenario.expected

    assert outcomes(site, state, "ftp/") == expected
    assert summary["finish_reason"] == "finished"
    assert summary["pages"] == 1 + 4 + 16  # browse, 4 listing pages, 16 piece pages
    assert summary["page_errors"] == {"download_failed": 1}  # piece-info.cgi?id=99 is a 404
    assert summary["items"] == 16  # MIDI links: a zip counts once
    assert summary["stored"] == 7 and summary["downloaded"] == 10
    assert summary["rejected"] == dict(expected_counts(expected))
    assert summary["duplicates"] == 1 and summary["blocked_by_robots"] == 1
    assert summary["stored_by_style"] == {"baroque": 2, "classical": 3, "folk": 1, "unsorted": 1}

    # The blob store holds exactly the seven stored files, byte for byte (two came out of a zip).
    files = site.scenario.files
    stored_shas = {hashlib.sha256(data).hexdigest() for data in files.values()}
    assert len(stored_shas) == 7
    assert state["blobs"] == {blob_key_for(s): s for s in stored_shas}
    assert {p.sha256 for p in state["pieces"].values()} == stored_shas

    chorale = state["pieces"][site.url("ftp/BachJS/BWV102/bwv102_7/bwv102_7.mid")]
    assert (chorale.composer, chorale.title, chorale.licence) == ("J. S. Bach", "Chorale BWV 102.7", "cc-by-sa")
    assert chorale.extra["piece_style"] == "Baroque" and chorale.extra["instrument"] == "Voice (SATB)"
    assert chorale.extra["page_url"] == site.url("cgibin/piece-info.cgi?id=1")
    assert state["pieces"][site.url("ftp/MozartWA/KV545/k545-1/k545-1.mid")].licence == "cc-by"
    movement = state["pieces"][site.url("ftp/MozartWA/suite/suite-mids.zip#suite-2.mid")]
    assert movement.title == "Complete Suite (suite-2)" and movement.composer == "W. A. Mozart"
    assert "not a readable zip" in state["records"][site.url("ftp/BachJS/broken/broken-mids.zip")].reason

    records = state["records"]
    assert "HTML" in records[site.url("ftp/BachJS/BWV104/bwv104_6/bwv104_6.mid")].reason
    assert "parser" in records[site.url("ftp/BachJS/BWV108/bwv108_6/bwv108_6.mid")].reason
    assert "bwv102_7/bwv102_7.mid" in records[site.url("ftp/BachJS/BWV102/bwv102_7-copy/bwv102_7.mid")].reason
    assert records[site.url("ftp/BachJS/loop/a.mid")].reason == "max redirections reached"
    assert records[site.url("ftp/MozartWA/missing/missing.mid")].reason == "HTTP 404"
    assert "max size" in records[site.url("ftp/BachJS/huge/huge.mid")].reason
    assert state["stats"]["records"] == dict(expected_counts(expected))

    # Politeness: robots.txt was read and obeyed, its Crawl-delay taken, the contact URL sent.
    assert site.server.hits["/robots.txt"] == 1
    assert "/ftp/Private/draft/draft.mid" not in site.server.hits
    assert summary["crawl_delay"] == 0.01
    assert site.server.user_agents == {f"ContinuoBot/0.1 (+{CONTACT}; collects openly licensed MIDI)"}

    # The same crawl again adds nothing and downloads none of what it already has.
    hits_before = dict(site.server.hits)
    again = scrape("mutopia", site, home)
    assert again["stored"] == 0 and again["downloaded"] == 0 and again["records_added"] == 0
    assert again["skipped_in_library"] == 5 + 1 + 1 + 3  # .mid pieces, the unpacked zip, the duplicate, 3 invalid
    after = library_state(home)
    assert after["pieces"] == state["pieces"] and after["records"] == state["records"]
    assert after["blobs"] == state["blobs"]
    for url in state["pieces"]:
        path = url.removeprefix(site.base_url.rstrip("/")).split("#")[0]  # a zip member: the zip
        assert site.server.hits[path] == hits_before[path] == 1


def test_interrupted_crawl_resumes_without_loss_or_duplicates(mutopia_site, tmp_path):
    site, home, jobdir = mutopia_site, tmp_path / "home", tmp_path / "job"
    first = scrape("mutopia", site, home, "--jobdir", str(jobdir), "--limit", "3")
    assert first["finish_reason"] == "closespider_itemcount"
    partial = library_state(home)
    assert 0 < len(partial["pieces"]) + len(partial["records"]) < len(site.scenario.expected)

    second = scrape("mutopia", site, home, "--jobdir", str(jobdir))
    assert second["finish_reason"] == "finished"
    state = library_state(home)
    assert outcomes(site, state, "ftp/") == site.scenario.expected
    assert len(state["blobs"]) == 7
    # Each page was fetched once over both runs; each stored file too.
    for path, hits in site.server.hits.items():
        if path.startswith(("/cgibin/", "/browse.html")) or path in {
            "/ftp/" + p for p, outcome in site.scenario.expected.items() if outcome.startswith("stored:")
        }:
            assert hits == 1, f"{path} fetched {hits} times"
    assert first["items"] + second["items"] == 16


def test_imslp_crawl_uses_the_api_and_records_robots_blocked_files(imslp_site, tmp_path):
    site, home = imslp_site, tmp_path / "home"
    summary = scrape("imslp", site, home)
    state = library_state(home)
    expected = site.scenario.expected

    assert outcomes(site, state, "") == {path.lstrip("/"): v for path, v in expected.items()}
    assert summary["finish_reason"] == "finished"
    assert summary["pages"] == 2 + 4  # two API listing pages, four work pages (the fifth is a 404)
    assert summary["page_errors"] == {"download_failed": 1}
    assert summary["rejected"] == dict(expected_counts(expected))
    assert summary["blocked_by_robots"] == 2

    prelude = state["pieces"][site.url("files/imglnks/usimg/1/1a/IMSLP500001-PMLP01-bwv539.mid")]
    assert prelude.composer == "Johann Sebastian Bach" and prelude.title == "Prelude and Fugue in D minor, BWV 539"
    assert prelude.licence == "cc-by" and prelude.style == "baroque"
    assert prelude.extra["key"] == "D minor" and prelude.extra["period"] == "Baroque"
    assert prelude.extra["instrument"] == "organ"
    assert prelude.extra["licence_text"] == "Creative Commons Attribution 4.0"
    nc = state["records"][site.url("files/imglnks/usimg/3/3c/IMSLP500003-PMLP01-bwv539-nc.mid")]
    assert nc.licence == "cc-by-nc" and "--allow-licence cc-by-nc" in nc.reason
    blocked = state["records"][site.url("wiki/Special:ImagefromIndex/500002/abcd")]
    assert blocked.licence == "public-domain" and blocked.composer == "Johann Sebastian Bach"

    # Nothing robots.txt forbids was requested; the score PDFs and the mp3 were never touched.
    assert not [p for p in site.server.hits if p.startswith(("/wiki/Special:", "/images/", "/index.php"))]
    assert not [p for p in site.server.hits if p.endswith((".mp3", ".pdf"))]
    assert "/files/imglnks/usimg/3/3c/IMSLP500003-PMLP01-bwv539-nc.mid" not in site.server.hits

    again = scrape("imslp", site, home)
    assert again["stored"] == 0 and again["downloaded"] == 0 and again["records_added"] == 0
    after = library_state(home)
    assert after["pieces"] == state["pieces"] and after["records"] == state["records"]


def test_allow_licence_takes_non_commercial_files(imslp_site, tmp_path):
    site, home = imslp_site, tmp_path / "home"
    summary = scrape("imslp", site, home, "--allow-licence", "CC BY-NC")
    state = library_state(home)
    nc = state["pieces"][site.url("files/imglnks/usimg/3/3c/IMSLP500003-PMLP01-bwv539-nc.mid")]
    assert nc.licence == "cc-by-nc"
    assert summary["stored"] == 4  # the three of the default crawl, and this one
    assert summary["rejected"]["licence_not_allowed"] == 1  # the file with no licence stated


def test_robots_crawl_delay_is_a_floor_even_with_delay_zero(corpus_dir, tmp_path):
    routes = bench_mutopia_routes(corpus_dir, 3)
    routes["/robots.txt"] = Route(b"User-agent: *\nCrawl-delay: 0.25\n", "text/plain")
    server = FixtureServer(routes)
    try:
        summary = scrape("mutopia", Site(server, Scenario(routes, {}, {})), tmp_path / "home")
    finally:
        server.close()
    assert summary["stored"] == 3 and summary["crawl_delay"] == 0.25
    times = [t for t, path in server.times if path != "/robots.txt"]
    assert len(times) == 1 + 1 + 3 + 3  # browse, listing, 3 piece pages, 3 files
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Measured where the server sees each request: a request slowed on its way (a loaded
    # machine) shortens the gap after it by what it lengthened the gap before, so check
    # pairs of gaps and the whole run. Without the floor each gap is a few milliseconds.
    assert times[-1] - times[0] >= 0.25 * len(gaps) - 0.05, gaps
    assert min(a + b for a, b in zip(gaps, gaps[1:])) >= 0.45, gaps


def test_ctrl_c_stops_cleanly_and_the_crawl_resumes(corpus_dir, tmp_path):
    routes = bench_mutopia_routes(corpus_dir, 10)
    routes["/robots.txt"] = Route(b"User-agent: *\nCrawl-delay: 0.15\n", "text/plain")
    server = FixtureServer(routes)
    site, home, jobdir = Site(server, Scenario(routes, {}, {})), tmp_path / "home", tmp_path / "job"
    try:
        crawl = subprocess.Popen(scrape_command("mutopia", site.base_url, home, "--jobdir", str(jobdir)),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **SUBPROCESS)
        deadline = time.monotonic() + 30
        while not any(path.startswith("/ftp/") for path in list(server.hits)) and time.monotonic() < deadline:
            time.sleep(0.02)
        crawl.send_signal(signal.SIGINT)
        out, err = crawl.communicate(timeout=60)
        assert crawl.returncode == 0, err[-3000:]
        first = json.loads(out)
        assert first["finish_reason"] == "shutdown"
        assert 1 <= first["stored"] < 10

        second = scrape("mutopia", site, home, "--jobdir", str(jobdir))
    finally:
        server.close()
    assert second["finish_reason"] == "finished"
    assert first["stored"] + second["stored"] == 10
    state = library_state(home)
    assert len(state["pieces"]) == 10 and len(state["blobs"]) == 10 and not state["records"]
    assert {path: n for path, n in server.hits.items() if n != 1} == {"/robots.txt": 2}

"""``continuo scrape SOURCE``: run one spider through Scrapy's CrawlerProcess into the library,
then print what happened. Scrapy is imported only inside :func:`run`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from radio.errors import ContinuoError

SOURCES = ("mutopia", "imslp")


class ScrapeError(ContinuoError):
    """A scrape option is invalid or the crawl could not run."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("source", choices=SOURCES, help="which site's spider to run")
    add("--base-url", metavar="URL",
        help="run the same spider against a mirror or a test site (http[s]://host[:port]/)")
    add("--limit", type=int, default=0, metavar="N", help="stop after about N items (files found); 0 = no limit")
    add("--max-bytes", type=int, default=0, metavar="N", help="largest response to download (default 2 MiB)")
    add("--jobdir", type=Path, metavar="DIR", help="keep the crawl state here, to stop (Ctrl-C, --limit) and resume")
    add("--allow-licence", action="append", default=[], metavar="NAME",
        help="also take files under this licence, e.g. cc-by-nc (repeatable); "
             "the default takes public domain, CC0, CC BY and CC BY-SA")
    add("--style-map", type=Path, metavar="FILE",
        help="TOML mapping composer/piece style/period -> style (default: scraper/style_map.toml)")
    add("--home", type=Path, metavar="DIR", help="library location (default: $CONTINUO_HOME or ./var)")
    add("--delay", type=float, default=None, metavar="S",
        help="seconds between requests to a host (default 2; robots.txt Crawl-delay is a floor)")
    add("--contact", metavar="URL", help="a URL the site's operators can reach you at; goes into the User-Agent")
    add("--json", action="store_true", help="print the summary as JSON")


def crawl_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Scrapy settings this command's options override; everything else is scraper.settings."""
    from scraper.licences import allowed_licences
    from scraper.style_map import StyleMap

    overrides: dict[str, Any] = {}
    if args.base_url:
        parts = urlsplit(args.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ScrapeError(f"--base-url {args.base_url!r} must look like http://host:port/")
    if args.limit < 0:
        raise ScrapeError(f"--limit {args.limit} must be 0 (no limit) or more")
    if args.limit:
        overrides["CLOSESPIDER_ITEMCOUNT"] = args.limit
    if args.max_bytes < 0:
        raise ScrapeError(f"--max-bytes {args.max_bytes} must be positive")
    if args.max_bytes:
        overrides["DOWNLOAD_MAXSIZE"] = args.max_bytes
        overrides["DOWNLOAD_WARNSIZE"] = args.max_bytes // 2
    if args.delay is not None:
        if args.delay < 0:
            raise ScrapeError(f"--delay {args.delay} must be 0 or more seconds")
        overrides["DOWNLOAD_DELAY"] = args.delay
        overrides["AUTOTHROTTLE_START_DELAY"] = args.delay
    if args.contact:
        if urlsplit(args.contact).scheme not in ("http", "https", "mailto"):
            raise ScrapeError(f"--contact {args.contact!r} must be an http(s) or mailto: URL")
        overrides["USER_AGENT"] = f"ContinuoBot/0.1 (+{args.contact}; collects openly licensed MIDI)"
    if args.jobdir:
        args.jobdir.mkdir(parents=True, exist_ok=True)
        overrides["JOBDIR"] = str(args.jobdir)
    try:
        allowed_licences(args.allow_licence)
    except ValueError as exc:
        raise ScrapeError(str(exc)) from exc
    overrides["CONTINUO_ALLOWED_LICENCES"] = list(args.allow_licence)
    if args.style_map:
        StyleMap.load(args.style_map)  # fail now, with the file's name, not inside the crawl
        overrides["CONTINUO_STYLE_MAP"] = str(args.style_map)
    if args.home:
        overrides["CONTINUO_HOME"] = str(args.home)
    return overrides


def summarise(stats: dict[str, Any]) -> dict[str, Any]:
    prefix = "continuo/rejected/"
    page_prefix = "continuo/page_errors/"
    rejected = {k[len(prefix):]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}
    page_errors = {k[len(page_prefix):]: v for k, v in sorted(stats.items()) if k.startswith(page_prefix)}
    stored_prefix = "continuo/stored/"
    return {
        "finish_reason": stats.get("finish_reason", ""),
        "pages": stats.get("continuo/pages", 0),
        "items": stats.get("continuo/items", 0),
        "downloaded": stats.get("continuo/downloaded", 0),
        "stored": stats.get("continuo/stored", 0),
        "stored_by_style": {k[len(stored_prefix):]: v for k, v in sorted(stats.items()) if k.startswith(stored_prefix)},
        "duplicates": rejected.get("duplicate", 0),
        "rejected": rejected,
        "blocked_by_robots": rejected.get("blocked_by_robots", 0) + page_errors.get("blocked_by_robots", 0),
        "page_errors": page_errors,
        "skipped_in_library": stats.get("continuo/skipped/in_library", 0),
        "skipped_same_url": stats.get("continuo/skipped/same_url", 0),
        "records_added": stats.get("continuo/records_added", 0),
        "crawl_delay": stats.get("continuo/crawl_delay", 0.0),
        "elapsed_s": round(float(stats.get("elapsed_time_seconds", 0.0)), 3),
    }


def format_table(source: str, summary: dict[str, Any]) -> str:
    rows: list[tuple[str, Any]] = [
        ("pages", summary["pages"]),
        ("items", summary["items"]),
        ("downloaded", summary["downloaded"]),
        ("stored", summary["stored"]),
        *((f"  {style}", n) for style, n in summary["stored_by_style"].items()),
        ("duplicates", summary["duplicates"]),
        ("rejected", sum(summary["rejected"].values())),
        *((f"  {reason}", n) for reason, n in summary["rejected"].items()),
        ("blocked by robots", summary["blocked_by_robots"]),
        ("page errors", sum(summary["page_errors"].values())),
        *((f"  {reason}", n) for reason, n in summary["page_errors"].items()),
        ("already in library", summary["skipped_in_library"]),
        ("elapsed (s)", summary["elapsed_s"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"continuo scrape {source}: {summary['finish_reason'] or 'not finished'}"]
    lines += [f"  {name:<{width}}  {value:>8}" for name, value in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    overrides = crawl_settings(args)
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from scraper import settings as default_settings
    from scraper.spiders import SPIDERS

    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.update(overrides, priority="cmdline")
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")  # radio.cli configured logging
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SPIDERS[args.source])
    spider_args = {"base_url": args.base_url} if args.base_url else {}
    process.crawl(crawler, **spider_args)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    if not stats.get("finish_reason"):
        raise ScrapeError(f"the {args.source} crawl did not run; see the log above")
    summary = summarise(stats)
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_table(args.source, summary))
    return 0

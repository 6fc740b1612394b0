"""What every source spider shares: the base URL, the licence filter before any download,
the skip of files the library already settled, and turning each failed download into a record."""

from __future__ import annotations

import dataclasses
import io
import logging
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Iterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from scraper.items import (
    BLOCKED_BY_ROBOTS,
    DOWNLOAD_FAILED,
    DOWNLOADED,
    INVALID_MIDI,
    LICENCE_NOT_ALLOWED,
    TOO_LARGE,
    MidiItem,
)
from scraper.licences import allowed_licences, normalise_licence
from scraper.store import CrawlLibrary

logger = logging.getLogger(__name__)

# Files go before more listing pages, so a stopped crawl leaves few found-but-unfetched files.
FILE_PRIORITY = 10


def clean_text(text: str | None) -> str:
    """Whitespace collapsed to single spaces, as text pulled out of HTML needs."""
    return " ".join((text or "").split())


class MidiSpider(scrapy.Spider):
    default_base_url = ""
    # Hosts the site's own absolute links use; with --base-url they are rewritten to the mirror.
    canonical_hosts: tuple[str, ...] = ()

    def __init__(self, *args: Any, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        base = base_url or self.default_base_url
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base URL {base!r} must be an http(s) URL such as {self.default_base_url}")
        self.base_url = base.rstrip("/") + "/"
        self.files_seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.allowed = allowed_licences(crawler.settings.getlist("CONTINUO_ALLOWED_LICENCES"))
        home = crawler.settings.get("CONTINUO_HOME")
        spider.library = CrawlLibrary.open(Path(home) if home else None)
        return spider

    def closed(self, reason: str) -> None:
        self.library.close()

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def rebase(self, url: str) -> str:
        """Point the site's own absolute links at the base URL's host (a mirror or a test site)."""
        parts = urlsplit(url)
        base = urlsplit(self.base_url)
        if parts.netloc in self.canonical_hosts and parts.netloc != base.netloc:
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
        return url

    def count_page(self) -> None:
        self.crawler.stats.inc_value("continuo/pages")

    def midi_request(self, item: MidiItem) -> Iterator[MidiItem | scrapy.Request]:
        """Yield a download for an allowed, new file; a record for a refused one; nothing for a known one."""
        stats = self.crawler.stats
        stats.inc_value("continuo/items")
        item.licence = normalise_licence(item.licence_text)
        if item.licence not in self.allowed:
            yield item.reject(
                LICENCE_NOT_ALLOWED,
                f"licence {item.licence_text or 'not stated'!r} ({item.licence}) is not allowed; "
                f"--allow-licence {item.licence} would take it",
            )
            return
        if item.url in self.files_seen:
            stats.inc_value("continuo/skipped/same_url")
            logger.info("skipped %s: already listed on another page of this crawl", item.url)
            return
        self.files_seen.add(item.url)
        if self.library.is_settled(item.url):
            stats.inc_value("continuo/skipped/in_library")
            logger.debug("skipped %s: the library already has it", item.url)
            return
        yield scrapy.Request(
            item.url,
            callback=self.parse_file,
            errback=self.file_failed,
            cb_kwargs={"item": item},
            dont_filter=True,  # files are deduplicated above, by URL and by the library
            priority=FILE_PRIORITY,
        )

    def parse_file(self, response: scrapy.http.Response, item: MidiItem) -> Iterator[MidiItem]:
        self.crawler.stats.inc_value("continuo/downloaded")
        if urlsplit(item.url).path.lower().endswith(".zip"):
            yield from self.unpack_zip(item, response.body)
            return
        item.status = DOWNLOADED
        item.body = response.body
        yield item

    def unpack_zip(self, item: MidiItem, data: bytes) -> Iterator[MidiItem]:
        """One item per .mid in a zipped set (Mutopia zips multi-movement pieces), each at ``<zip URL>#<name>``."""
        max_bytes = self.settings.getint("DOWNLOAD_MAXSIZE")
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = [m for m in archive.infolist()
                       if not m.is_dir() and m.filename.lower().endswith((".mid", ".midi"))]
        except zipfile.BadZipFile as exc:
            yield item.reject(INVALID_MIDI, f"not a readable zip archive: {exc}")
            return
        if not members:
            yield item.reject(INVALID_MIDI, "the zip archive holds no .mid files")
            return
        for member in members:
            name = PurePosixPath(member.filename)
            part = dataclasses.replace(item, url=f"{item.url}#{member.filename}", title=f"{item.title} ({name.stem})")
            try:
                with archive.open(member) as stream:
                    body = stream.read(max_bytes + 1)  # the header's size may lie; never inflate past the limit
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                yield part.reject(INVALID_MIDI, f"could not unpack {member.filename}: {exc}")
                continue
            if max_bytes and len(body) > max_bytes:
                yield part.reject(TOO_LARGE, f"{member.filename} unpacks to more than the {max_bytes}-byte limit")
                continue
            part.status = DOWNLOADED
            part.body = body
            yield part

    def file_failed(self, failure: Failure) -> Iterator[MidiItem]:
        item: MidiItem = failed_request(failure).cb_kwargs["item"]
        status, reason = classify_failure(failure)
        yield item.reject(status, reason)

    def page_failed(self, failure: Failure) -> None:
        status, reason = classify_failure(failure)
        self.crawler.stats.inc_value("continuo/page_errors")
        self.crawler.stats.inc_value(f"continuo/page_errors/{status}")
        logger.warning("page %s not read: %s (%s)", failed_request(failure).url, status, reason)


def failed_request(failure: Failure) -> scrapy.Request:
    """Scrapy sets ``failure.request`` for download errors; an HTTP error carries its response."""
    request = getattr(failure, "request", None)
    return request if request is not None else failure.value.response.request


def classify_failure(failure: Failure) -> tuple[str, str]:
    """A record status and a reason for a request that produced no usable response."""
    if failure.check(HttpError):
        response = failure.value.response
        return DOWNLOAD_FAILED, f"HTTP {response.status}"
    if failure.check(IgnoreRequest):
        message = str(failure.value)
        if "robots.txt" in message:
            return BLOCKED_BY_ROBOTS, "the site's robots.txt forbids this path"
        return DOWNLOAD_FAILED, message or "request ignored"
    if failure.check(DownloadCancelledError):
        return TOO_LARGE, str(failure.value) or "the response grew past the download size limit (--max-bytes)"
    return DOWNLOAD_FAILED, f"{failure.type.__name__}: {failure.getErrorMessage()}"

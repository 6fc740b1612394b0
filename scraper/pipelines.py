"""Item pipelines, one small step each: validate -> deduplicate -> style -> store.

A step that refuses a file marks the item (``MidiItem.reject``) instead of dropping it,
so the last step can keep a metadata-only record of it. Every refusal is counted in
the crawl stats under ``continuo/rejected/<status>`` and logged with its reason.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from radio.errors import MidiError
from radio.music.midi_io import read_midi

from scraper.items import (
    BLOCKED_BY_ROBOTS,
    DOWNLOADED,
    DUPLICATE,
    INVALID_MIDI,
    LICENCE_NOT_ALLOWED,
    TOO_LARGE,
    MidiItem,
)
from scraper.style_map import StyleMap

logger = logging.getLogger(__name__)

# Refusals by policy are the crawl working as meant (info); the rest are faults at the source (warning).
POLICY_STATUSES = frozenset({BLOCKED_BY_ROBOTS, LICENCE_NOT_ALLOWED, DUPLICATE})

MIDI_MAGIC = b"MThd"


class _Step:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def library(self):
        return self.crawler.spider.library


class ValidatePipeline(_Step):
    """The file is under the size limit and really is a MIDI file our parser reads."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.max_bytes = crawler.settings.getint("DOWNLOAD_MAXSIZE")

    def process_item(self, item: MidiItem) -> MidiItem:
        if item.status != DOWNLOADED:
            return item
        size = len(item.body)
        if self.max_bytes and size > self.max_bytes:
            return item.reject(TOO_LARGE, f"{size} bytes is over the {self.max_bytes}-byte limit")
        if not item.body.startswith(MIDI_MAGIC):
            head = item.body[:64].lstrip().lower()
            kind = "an HTML page" if head.startswith((b"<!doctype html", b"<html", b"<?xml")) else "not a MIDI file"
            return item.reject(INVALID_MIDI, f"{kind} ({size} bytes, no MThd header)")
        try:
            parsed = read_midi(item.body)
        except MidiError as exc:
            return item.reject(INVALID_MIDI, f"our MIDI parser refused it: {exc}")
        if not parsed.notes:
            return item.reject(INVALID_MIDI, "a MIDI file with no notes")
        item.sha256 = hashlib.sha256(item.body).hexdigest()
        if not item.key and parsed.key_signature:
            item.key = parsed.key_signature
        return item


class DeduplicatePipeline(_Step):
    """The same file twice: by URL within this crawl, and by sha256 against this crawl and the library."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.urls: set[str] = set()
        self.by_sha: dict[str, str] = {}

    def process_item(self, item: MidiItem) -> MidiItem:
        if item.status != DOWNLOADED:
            return item
        if item.url in self.urls:
            return item.reject(DUPLICATE, "this URL was already taken in this crawl")
        self.urls.add(item.url)
        first = self.by_sha.get(item.sha256)
        if first is None:
            known = self.library.find_by_sha256(item.sha256)
            if known is not None and known.source != item.url:
                first = known.source or f"piece {known.id}"
        if first is not None:
            return item.reject(DUPLICATE, f"same file (sha256 {item.sha256[:16]}) as {first}")
        self.by_sha[item.sha256] = item.url
        return item


class StyleMapPipeline(_Step):
    """Pick the library style from the composer, the piece style or the period (editable TOML)."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        path = crawler.settings.get("CONTINUO_STYLE_MAP")
        self.style_map = StyleMap.load(Path(path) if path else None)

    def process_item(self, item: MidiItem) -> MidiItem:
        item.style = self.style_map.style_for(
            composer=item.composer, piece_style=item.piece_style, period=item.period
        )
        return item


class StorePipeline(_Step):
    """A valid new file becomes a piece (blob + catalog row); anything else a metadata record."""

    def process_item(self, item: MidiItem) -> MidiItem:
        if item.status == DOWNLOADED:
            try:
                result = self.library.store(item)
            except MidiError as exc:
                item.reject(INVALID_MIDI, f"the library refused it: {exc}")
            else:
                if result.status == "added":
                    self.stats.inc_value("continuo/stored")
                    self.stats.inc_value(f"continuo/stored/{item.style}")
                    logger.info("stored %s as piece %s (%s, %s)", item.url, result.piece.id, item.style, item.licence)
                    return item
                if result.piece.source == item.url:
                    self.stats.inc_value("continuo/skipped/in_library")
                    return item
                first = result.piece.source or f"piece {result.piece.id}"
                item.reject(DUPLICATE, f"same file (sha256 {item.sha256[:16]}) as {first}")
        self.stats.inc_value("continuo/rejected")
        self.stats.inc_value(f"continuo/rejected/{item.status}")
        added = self.library.record(item)
        self.stats.inc_value("continuo/records_added" if added else "continuo/records_unchanged")
        level = logging.INFO if item.status in POLICY_STATUSES else logging.WARNING
        logger.log(level, "not stored: %s: %s (%s)", item.url, item.status, item.reason)
        return item

"""The crawl's view of the library: what is already known, and the two ways in.

A file becomes a piece only through ``radio.library.ingest.ingest_midi`` (the same
path as ``continuo import``); everything else becomes a metadata-only
``SourceRecord``. The spider asks :meth:`CrawlLibrary.is_settled` before it
downloads, so a second crawl of the same site downloads nothing it already has.
"""

from __future__ import annotations

from pathlib import Path

from radio.library.base import SourceRecord

from scraper.items import DUPLICATE, INVALID_MIDI, MidiItem

# Records whose outcome cannot change by fetching again. The others (download
# failures, robots, licences) are looked at again on the next crawl, since a
# server, a robots.txt or an --allow-licence may have changed.
SETTLED_STATUSES = frozenset({DUPLICATE, INVALID_MIDI})


class CrawlLibrary:
    def __init__(self, library) -> None:
        self.library = library
        self.piece_by_url: dict[str, str] = {}
        self.settled_urls: set[str] = set()
        for piece in library.catalog.list_pieces():
            if piece.source:
                self.piece_by_url[piece.source] = piece.id
                self._note_archive(piece.source)
        for record in library.catalog.list_records():
            if record.status in SETTLED_STATUSES:
                self.settled_urls.add(record.url)
            self._note_archive(record.url)

    def _note_archive(self, url: str) -> None:
        """A member ``<zip URL>#<name>`` is known: the zip was unpacked, and needs no second download."""
        archive, hash_, _ = url.partition("#")
        if hash_:
            self.settled_urls.add(archive)

    @classmethod
    def open(cls, home: Path | None = None) -> CrawlLibrary:
        from radio.library import open_library

        return cls(open_library(home))

    def is_settled(self, url: str) -> bool:
        """True when this URL is a stored piece or a record that fetching again cannot change."""
        return url in self.piece_by_url or url in self.settled_urls

    def find_by_sha256(self, sha256: str):
        return self.library.catalog.find_by_sha256(sha256)

    def store(self, item: MidiItem):
        """Ingest a validated file; returns the library's ``IngestResult``. Raises MidiError."""
        from radio.library.ingest import ingest_midi

        result = ingest_midi(
            self.library,
            item.body,
            style=item.style,
            composer=item.composer,
            title=item.title,
            source=item.url,
            licence=item.licence,
            extra=item.metadata(),
        )
        if result.status == "added":
            self.piece_by_url[item.url] = result.piece.id
        return result

    def record(self, item: MidiItem) -> bool:
        """Keep a metadata-only record; False when the catalog already had it unchanged."""
        changed = self.library.catalog.add_record(
            SourceRecord(
                url=item.url,
                status=item.status,
                style=item.style,
                composer=item.composer,
                title=item.title,
                licence=item.licence,
                reason=item.reason,
                extra=item.metadata(),
            )
        )
        if item.status in SETTLED_STATUSES:
            self.settled_urls.add(item.url)
        return bool(changed)

    def close(self) -> None:
        self.library.catalog.close()

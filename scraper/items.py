"""The one record a spider yields: a MIDI file found on a page, with what the page says of it."""

from __future__ import annotations

from dataclasses import dataclass, field

# A file that was downloaded and still has to pass the pipelines.
DOWNLOADED = "downloaded"
# Statuses of metadata-only records (catalog.add_record); anything else never reaches the catalog.
BLOCKED_BY_ROBOTS = "blocked_by_robots"
LICENCE_NOT_ALLOWED = "licence_not_allowed"
DOWNLOAD_FAILED = "download_failed"
TOO_LARGE = "too_large"
INVALID_MIDI = "invalid_midi"
DUPLICATE = "duplicate"


@dataclass
class MidiItem:
    source: str  # the spider's name: "mutopia" or "imslp"
    url: str  # the MIDI file
    page_url: str  # the page that described it
    composer: str = ""
    title: str = ""
    period: str = ""  # e.g. IMSLP's "Composer Time Period"
    piece_style: str = ""  # e.g. Mutopia's "Style", IMSLP's "Piece Style"
    instrument: str = ""
    key: str = ""
    licence_text: str = ""  # as written on the page
    licence: str = ""  # normalised: scraper.licences.KNOWN
    status: str = DOWNLOADED
    reason: str = ""
    style: str = ""  # the library style, set by the style-map pipeline
    sha256: str = ""
    body: bytes = field(default=b"", repr=False)

    def reject(self, status: str, reason: str) -> MidiItem:
        """Mark as a metadata-only record: it will be recorded, never stored as a piece."""
        self.status = status
        self.reason = reason
        self.body = b""
        return self

    def metadata(self) -> dict[str, str]:
        """What goes into a piece's or a record's ``extra``."""
        return {
            "page_url": self.page_url,
            "period": self.period,
            "piece_style": self.piece_style,
            "instrument": self.instrument,
            "key": self.key,
            "licence_text": self.licence_text,
            "scraper": self.source,
        }

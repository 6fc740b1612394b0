"""The library's interfaces: a catalog of piece metadata and a blob store of MIDI files.

The embedded defaults (SQLite + a folder) need no setup; MongoDB and S3 backends
implement the same protocols, and one contract test suite runs against every backend.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Protocol



@dataclass
class PieceRecord:
    """One piece in the catalog: a stored, valid MIDI file plus what we know of it."""

    id: str  # the first 16 hex digits of sha256: stable across machines
    style: str
    sha256: str
    blob_key: str
    composer: str = ""
    title: str = ""
    source: str = ""  # where it came from: a path, a URL or "music21:<collection>"
    licence: str = ""
    original_key: str = ""  # e.g. "D minor", from the file or estimated
    key_source: str = ""  # "signature" or "estimated"
    transpose: int = 0  # semitones that bring the piece to C major / A minor
    beats: int = 0  # length in 16th-note beats
    tempo_bpm: float = 120.0
    added_at: str = ""  # ISO 8601, UTC
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SourceRecord:
    """A metadata-only record: something found but not stored as a piece, and why."""

    url: str
    status: str  # e.g. "blocked_by_robots", "licence_not_allowed", "download_failed"
    style: str = ""
    composer: str = ""
    title: str = ""
    licence: str = ""
    reason: str = ""
    added_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Catalog(Protocol):
    def add_piece(self, piece: PieceRecord) -> bool:
        """Insert; return False (and change nothing) if a piece with that sha256 exists."""

    def get_piece(self, piece_id: str) -> PieceRecord | None: ...

    def find_by_sha256(self, sha256: str) -> PieceRecord | None: ...

    def list_pieces(self, style: str | None = None, composer: str | None = None) -> list[PieceRecord]: ...

    def delete_piece(self, piece_id: str) -> bool: ...

    def styles(self) -> list[str]: ...

    def add_record(self, record: SourceRecord) -> bool:
        """Insert or update a metadata-only record, keyed by URL; False if unchanged."""

    def list_records(self, status: str | None = None) -> list[SourceRecord]: ...

    def stats(self) -> dict[str, Any]:
        """``{"styles": {style: {"pieces", "beats", "keys": {...}}}, "records": {status: n}}``"""

    def close(self) -> None: ...


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store atomically: a reader sees the whole blob or none of it."""

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        """Store what ``stream`` yields, read in chunks; if reading fails halfway, store nothing."""

    def put_file(self, key: str, path: Path) -> None:
        """Store a file without holding it in memory (model files)."""

    def get(self, key: str) -> bytes:
        """Raise KeyError if absent."""

    def get_to(self, key: str, path: Path) -> None:
        """Write the blob to ``path`` in chunks, atomically (a whole file or none); KeyError if absent."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str = "") -> Iterable[str]: ...

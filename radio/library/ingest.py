"""Putting a MIDI file into the library, and reading one back ready for training.

Used by ``continuo import``, the scraper and the admin upload endpoint, so every way in
validates, dedupes and stores the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from radio.library import Library
from radio.library.base import PieceRecord
from radio.timestamps import utc_now
from radio.music.prepare import PreparedPiece, prepare_piece
from radio.styles import check_style_name


@dataclass
class IngestResult:
    status: str  # 'added' | 'duplicate'
    piece: PieceRecord  # the new record, or the existing one for a duplicate


def blob_key_for(sha256: str) -> str:
    """Content-addressed: the same bytes always land at the same key."""
    return f"midi/{sha256[:2]}/{sha256}.mid"


def ingest_midi(
    library: Library,
    data: bytes,
    *,
    style: str,
    composer: str = "",
    title: str = "",
    source: str = "",
    licence: str = "",
    extra: dict[str, Any] | None = None,
) -> IngestResult:
    """Validate ``data`` with ``prepare_piece`` (raises MidiError, stores nothing), dedupe by
    sha256, then store the blob and only then the catalog row, so no reader sees a row
    without its file. A duplicate returns the piece already stored, whatever its style."""
    check_style_name(style)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = library.catalog.find_by_sha256(sha256)
    if existing is not None:
        return IngestResult("duplicate", existing)
    prepared = prepare_piece(bytes(data))
    piece = PieceRecord(
        id=sha256[:16],
        style=style,
        sha256=sha256,
        blob_key=blob_key_for(sha256),
        composer=composer,
        title=title,
        source=source,
        licence=licence,
        original_key=prepared.original_key.name,
        key_source=prepared.key_source,
        transpose=prepared.transpose,
        beats=prepared.beats,
        tempo_bpm=float(prepared.tempo_bpm),
        added_at=utc_now(),
        extra=dict(extra or {}),
    )
    blob_was_there = library.blobs.exists(piece.blob_key)
    if not blob_was_there:
        library.blobs.put(piece.blob_key, data)
    try:
        added = library.catalog.add_piece(piece)
    except BaseException:
        if not blob_was_there and not _row_may_exist(library, sha256):
            library.blobs.delete(piece.blob_key)
        raise
    if not added:
        # Another writer stored the same bytes meanwhile; its row owns the (identical) blob.
        return IngestResult("duplicate", library.catalog.find_by_sha256(sha256) or piece)
    return IngestResult("added", piece)


def _row_may_exist(library: Library, sha256: str) -> bool:
    """After a failed insert: whether a row for these bytes may be in the catalog. An insert can
    commit and still raise (a MongoDB reply lost on the way back), and deleting the blob under a
    committed row would break the piece; an orphan blob is only a few KB. So the blob goes only
    when the catalog answers that no such row exists."""
    try:
        return library.catalog.find_by_sha256(sha256) is not None
    except Exception:  # noqa: BLE001 - the catalog cannot say: keep the blob
        return True


def load_notes(library: Library, piece: PieceRecord) -> PreparedPiece:
    """The piece's notes transposed to C major / A minor, read from its stored blob."""
    return prepare_piece(library.blobs.get(piece.blob_key))

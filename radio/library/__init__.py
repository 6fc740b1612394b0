"""The library: a catalog of pieces plus a blob store of their MIDI files.

``open_library()`` gives the embedded default (SQLite + a folder) under the data dir;
it needs no setup. Ingesting and reading pieces lives in :mod:`radio.library.ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radio.config import continuo_home
from radio.library.base import BlobStore, Catalog, PieceRecord, SourceRecord

CATALOG_FILE = "catalog.sqlite3"
BLOBS_DIR = "blobs"

__all__ = ["Library", "open_library", "Catalog", "BlobStore", "PieceRecord", "SourceRecord"]


@dataclass
class Library:
    catalog: Catalog
    blobs: BlobStore
    home: Path

    def close(self) -> None:
        self.catalog.close()


def open_library(home: Path | None = None) -> Library:
    """The embedded library: ``<home>/catalog.sqlite3`` and ``<home>/blobs/`` (home: CONTINUO_HOME)."""
    from radio.library.disk_blobs import DiskBlobStore
    from radio.library.sqlite_catalog import SqliteCatalog

    home = Path(home).resolve() if home is not None else continuo_home()
    home.mkdir(parents=True, exist_ok=True)
    return Library(catalog=SqliteCatalog(home / CATALOG_FILE), blobs=DiskBlobStore(home / BLOBS_DIR), home=home)

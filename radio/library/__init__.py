"""The library: a catalog of pieces plus a blob store of their MIDI files.

``open_library()`` gives the embedded default (SQLite + a folder) under the data dir, which
needs no setup, or the shared MongoDB catalog and S3 store when the environment names them
(:mod:`radio.library.storage_config` reads the settings, :mod:`radio.library.backends` opens
them). Ingesting and reading pieces lives in :mod:`radio.library.ingest`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radio.config import continuo_home, make_private_dir
from radio.library.storage_config import BLOBS_DIR, CATALOG_FILE, StorageConfig  # noqa: F401 - re-exported
from radio.library.base import BlobStore, Catalog, PieceRecord, SourceRecord


__all__ = ["Library", "open_library", "Catalog", "BlobStore", "PieceRecord", "SourceRecord"]


@dataclass
class Library:
    catalog: Catalog
    blobs: BlobStore
    home: Path

    def close(self) -> None:
        self.catalog.close()


def open_library(home: Path | None = None, config: StorageConfig | None = None) -> Library:
    """The library of this process (home: CONTINUO_HOME). Embedded by default:
    ``<home>/catalog.sqlite3`` and ``<home>/blobs/``; MongoDB and S3 when ``config`` (by
    default the environment, :class:`StorageConfig`) names them."""
    from radio.library.backends import open_blobs, open_catalog

    home = Path(home).resolve() if home is not None else continuo_home()
    make_private_dir(home)  # the catalog and every uploaded file: ours alone
    config = config if config is not None else StorageConfig.from_env()
    catalog = open_catalog(home, config)
    try:
        blobs = open_blobs(home, config)
    except BaseException:
        catalog.close()
        raise
    return Library(catalog=catalog, blobs=blobs, home=home)

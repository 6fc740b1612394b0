"""Opening this process's catalog and blob store, as :class:`StorageConfig` chose them.

The settings live in :mod:`radio.library.storage_config`, which imports no backend; each backend
module (:mod:`radio.library.sqlite_catalog`, :mod:`radio.library.mongo`,
:mod:`radio.library.disk_blobs`, :mod:`radio.library.s3_blobs`) is imported here only when it is
chosen, so with neither MongoDB nor S3 configured neither client library is imported.
"""

from __future__ import annotations

from pathlib import Path

from radio.library.base import BlobStore, Catalog
from radio.library.storage_config import BLOBS_DIR, CATALOG_FILE, StorageConfig


def open_catalog(home: Path, config: StorageConfig) -> Catalog:
    if config.mongodb_uri:
        from radio.library.mongo import MongoCatalog

        return MongoCatalog(config.mongodb_uri, timeout_ms=config.mongodb_timeout_ms)
    from radio.library.sqlite_catalog import SqliteCatalog

    return SqliteCatalog(home / CATALOG_FILE)


def open_blobs(home: Path, config: StorageConfig) -> BlobStore:
    shared = shared_store(config)
    if shared is not None:
        return shared
    from radio.library.disk_blobs import DiskBlobStore

    return DiskBlobStore(home / BLOBS_DIR)


def shared_store(config: StorageConfig) -> BlobStore | None:
    """The S3 store every node reads, or None when blobs and models stay on this machine's disk."""
    if not config.s3_bucket:
        return None
    from radio.library.s3_blobs import S3BlobStore

    return S3BlobStore(
        config.s3_bucket, prefix=config.s3_prefix, endpoint_url=config.s3_endpoint_url, region=config.s3_region
    )

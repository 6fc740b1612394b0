"""Library fixtures. Every Catalog / BlobStore backend joins the one contract suite by
adding a factory here. A factory takes pytest's ``request``, so a backend that needs a server
asks for its fixture: S3 runs against a real moto server on loopback (always), MongoDB against
the server in CONTINUO_TEST_MONGODB_URI (skipped, with the reason, when none is given).
``midi_bytes`` and ``small_corpus`` come from tests/support/pieces.py."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from radio.library.disk_blobs import DiskBlobStore
from radio.library.sqlite_catalog import SqliteCatalog

def mongo_catalog(request, tmp: Path):
    from radio.library.mongo import MongoCatalog

    return MongoCatalog(request.getfixturevalue("mongodb_db_uri"))


def s3_blobs(request, tmp: Path):
    from radio.library.s3_blobs import S3BlobStore

    server = request.getfixturevalue("s3_server")
    # A prefix, so the contract also checks that keys are listed and stripped relative to it.
    return S3BlobStore(server.create_bucket(), prefix="station-a/", endpoint_url=server.endpoint)


CATALOG_BACKENDS: dict[str, Callable[..., object]] = {
    "sqlite": lambda request, tmp: SqliteCatalog(tmp / "catalog.sqlite3"),
    "mongodb": mongo_catalog,
}
BLOB_BACKENDS: dict[str, Callable[..., object]] = {
    "disk": lambda request, tmp: DiskBlobStore(tmp / "blobs"),
    "s3": s3_blobs,
}


@pytest.fixture(params=sorted(CATALOG_BACKENDS))
def catalog(request, tmp_path):
    cat = CATALOG_BACKENDS[request.param](request, tmp_path)
    yield cat
    cat.close()


@pytest.fixture(params=sorted(BLOB_BACKENDS))
def blobs(request, tmp_path, monkeypatch):
    from tests.support.s3_server import CREDENTIALS

    for name, value in CREDENTIALS.items():  # boto3 finds these; real credentials never reach a test
        monkeypatch.setenv(name, value)
    return BLOB_BACKENDS[request.param](request, tmp_path)

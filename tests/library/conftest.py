"""Library fixtures. Every Catalog / BlobStore backend joins the one contract suite by
adding a factory here. A factory takes pytest's ``request``, so a backend that needs a server
asks for its fixture: S3 runs against a real moto server on loopback (always), MongoDB against
the server in CONTINUO_TEST_MONGODB_URI (skipped, with the reason, when none is given)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Callable

import pytest

from radio.library.disk_blobs import DiskBlobStore
from radio.library.sqlite_catalog import SqliteCatalog
from radio.music.midi_io import write_midi

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
    from s3_server import CREDENTIALS

    for name, value in CREDENTIALS.items():  # boto3 finds these; real credentials never reach a test
        monkeypatch.setenv(name, value)
    return BLOB_BACKENDS[request.param](request, tmp_path)


def melody(*pitches: int, length: int = 4) -> list:
    """A list_of_notes: each pitch struck then held for ``length`` beats."""
    notes = []
    for p in pitches:
        notes.append([(p, "b")])
        notes.extend([(p, "s")] for _ in range(length - 1))
    return notes


@pytest.fixture
def midi_bytes() -> Callable[..., bytes]:
    """Valid MIDI files that differ by their pitches (so their sha256 differ)."""

    def make(*pitches: int, bpm: float = 100.0) -> bytes:
        return write_midi(melody(*(pitches or (60, 62, 64, 65, 67))), bpm)

    return make


@pytest.fixture
def small_corpus(tmp_path, corpus_dir) -> Path:
    """A folder of style folders with a MANIFEST.csv: 3 folk tunes and 2 chorales from the real corpus."""
    root = tmp_path / "corpus"
    with (corpus_dir / "MANIFEST.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = [r for r in rows if r["style"] == "folk"][:3] + [r for r in rows if r["style"] == "baroque"][:2]
    for r in chosen:
        (root / r["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus_dir / r["file"], root / r["file"])
    with (root / "MANIFEST.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return root

"""The shared backends beyond the contract: choosing them from the environment, the S3 store's
checksums and errors against a real S3 server (moto on loopback), and MongoDB's errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import boto3
import pytest

from radio.errors import LibraryError
from radio.library import open_library
from radio.library.storage_config import StorageConfig, redact_uri
from radio.library.disk_blobs import DiskBlobStore
from radio.library.ingest import ingest_midi
from radio.library.s3_blobs import S3BlobStore
from radio.library.sqlite_catalog import SqliteCatalog
from tests.support.s3_server import CREDENTIALS, free_port


@pytest.fixture(autouse=True)
def no_scale_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("CONTINUO_S3_", "CONTINUO_MONGODB_")):
            monkeypatch.delenv(name)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def raw_client(server):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1")


def test_every_object_carries_its_sha256_and_a_corrupt_one_is_refused(s3_server, tmp_path):
    bucket = s3_server.create_bucket()
    store = S3BlobStore(bucket, endpoint_url=s3_server.endpoint)
    store.put("midi/ab/one.mid", b"MThd one")
    store.put_file("models/folk/v1.npz", _file(tmp_path / "v1.npz", b"model bytes" * 1000))
    client = raw_client(s3_server)
    for key, data in [("midi/ab/one.mid", b"MThd one"), ("models/folk/v1.npz", b"model bytes" * 1000)]:
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()

    # Bytes that do not match their sha256 (rot, a partial overwrite by another tool) are an error.
    client.put_object(Bucket=bucket, Key="midi/ab/one.mid", Body=b"MThd tampered",
                      Metadata={"sha256": hashlib.sha256(b"MThd one").hexdigest()})
    with pytest.raises(LibraryError, match="corrupt"):
        store.get("midi/ab/one.mid")
    with pytest.raises(LibraryError, match="corrupt"):
        store.get_to("midi/ab/one.mid", tmp_path / "one.mid")
    assert not (tmp_path / "one.mid").exists()  # nothing half-checked is left on disk

    # An object written by another tool, without our metadata, is still readable.
    client.put_object(Bucket=bucket, Key="midi/ab/foreign.mid", Body=b"MThd foreign")
    assert store.get("midi/ab/foreign.mid") == b"MThd foreign"


def test_a_missing_bucket_and_an_unreachable_server_are_clear_errors(s3_server):
    with pytest.raises(LibraryError, match=r"bucket 'no-such-bucket' does not exist.*CONTINUO_S3_BUCKET"):
        S3BlobStore("no-such-bucket", endpoint_url=s3_server.endpoint)
    nobody = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(LibraryError, match=r"reachable") as err:
        S3BlobStore("continuo", endpoint_url=nobody)
    assert nobody in str(err.value)
    assert time.monotonic() - started < 30  # bounded retries, not a hang


def test_large_models_go_up_and_down_in_parts(s3_server, tmp_path):
    store = S3BlobStore(s3_server.create_bucket(), endpoint_url=s3_server.endpoint)
    data = os.urandom(9 << 20)  # above the 8 MiB multipart threshold
    store.put_file("models/folk/big.npz", _file(tmp_path / "big.npz", data))
    store.get_to("models/folk/big.npz", tmp_path / "copy.npz")
    assert (tmp_path / "copy.npz").read_bytes() == data


def test_open_library_follows_the_environment(s3_server, tmp_path, monkeypatch, midi_bytes):
    embedded = open_library(tmp_path / "a")
    assert isinstance(embedded.catalog, SqliteCatalog) and isinstance(embedded.blobs, DiskBlobStore)
    embedded.close()

    bucket = s3_server.create_bucket()
    for name, value in s3_server.env(bucket, prefix="station-a").items():
        monkeypatch.setenv(name, value)
    library = open_library(tmp_path / "b")
    assert isinstance(library.blobs, S3BlobStore) and library.blobs.prefix == "station-a/"
    piece = ingest_midi(library, midi_bytes(60, 62), style="folk").piece
    library.close()
    listed = raw_client(s3_server).list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"station-a/{piece.blob_key}"]
    assert not (tmp_path / "b" / "blobs").exists()  # nothing went to the local disk


def test_the_embedded_station_imports_neither_boto3_nor_pymongo(tmp_path):
    """`continuo serve` with neither variable set needs no server, and pays for no client library."""
    script = """
import asyncio, json, sys
from radio.station.channel import ChannelSettings
from radio.station.station import Station
from radio.styles import get_style
from radio.web.app import create_app
from aiohttp.test_utils import TestClient, TestServer

async def main():
    station = Station(ChannelSettings(seed=1))
    await station.add_style(get_style("folk"))
    client = TestClient(TestServer(create_app(station)))
    await client.start_server()
    r = await client.get("/admin/jobs", headers={"Authorization": "Bearer t0ken-t0ken-t0ken-t0ken"})
    status = r.status
    await client.close()
    await station.stop()
    print(json.dumps({"status": status, "loaded": sorted(m for m in ("boto3", "botocore", "pymongo") if m in sys.modules)}))

asyncio.run(main())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTINUO_S3_", "CONTINUO_MONGODB_"))}
    env.update(CONTINUO_HOME=str(tmp_path / "home"), CONTINUO_ADMIN_TOKEN="t0ken-t0ken-t0ken-t0ken")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"status": 200, "loaded": []}
    assert (tmp_path / "home" / "catalog.sqlite3").is_file()


def test_settings_are_checked_and_passwords_never_shown(monkeypatch):
    assert redact_uri("mongodb://radio:s3cret@db1:27017,db2/continuo?authSource=admin") == \
        "mongodb://radio:***@db1:27017,db2/continuo?authSource=admin"
    assert redact_uri("mongodb://db:27017") == "mongodb://db:27017"
    monkeypatch.setenv("CONTINUO_MONGODB_URI", "postgres://radio:s3cret@db/continuo")
    with pytest.raises(LibraryError, match="mongodb://") as err:
        StorageConfig.from_env()
    assert "s3cret" not in str(err.value)
    monkeypatch.setenv("CONTINUO_MONGODB_URI", "mongodb://radio:s3cret@db/continuo")
    monkeypatch.setenv("CONTINUO_MONGODB_TIMEOUT_MS", "soon")
    with pytest.raises(LibraryError, match="CONTINUO_MONGODB_TIMEOUT_MS"):
        StorageConfig.from_env()
    monkeypatch.setenv("CONTINUO_MONGODB_TIMEOUT_MS", "2500")
    monkeypatch.setenv("CONTINUO_S3_BUCKET", "radio")
    monkeypatch.setenv("CONTINUO_S3_PREFIX", "station-a")
    config = StorageConfig.from_env()
    assert (config.mongodb_timeout_ms, config.s3_prefix) == (2500, "station-a/")
    assert "s3cret" not in config.describe() and "radio:***@db" in config.describe()


def test_an_unreachable_mongodb_is_a_clear_error_without_the_password(monkeypatch, tmp_path):
    """This needs no MongoDB server: nothing listens on the port."""
    port = free_port()
    monkeypatch.setenv("CONTINUO_MONGODB_URI", f"mongodb://radio:s3cret-pw@127.0.0.1:{port}/continuo"
                                               "?serverSelectionTimeoutMS=1500")
    started = time.monotonic()
    with pytest.raises(LibraryError) as err:
        open_library(tmp_path)
    message = str(err.value)
    assert f"cannot reach MongoDB at mongodb://radio:***@127.0.0.1:{port}/continuo" in message
    assert "s3cret-pw" not in message and "CONTINUO_MONGODB_URI" in message
    assert time.monotonic() - started < 10


def _file(path, data: bytes):
    path.write_bytes(data)
    return path

"""Faults around the admin, each with a check that nothing is lost: the catalog locked or
unreadable (streams go on, admin answers 503), the disk filling during an import or an
upload (no partial rows or blobs; leftover partial files swept), a model file corrupted on
disk while it plays, and SIGTERM while a job trains."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import sqlite3
import time

import pytest
from tests.support.admin_helpers import AUTH, Listener, admin_client, fill_library, tune

from radio.config import REPO_ROOT
from radio.library import open_library
from radio.library.disk_blobs import DiskBlobStore
from radio.library.ingest import ingest_midi
from radio.web.admin_routes import ADMIN


def form(*files):
    import aiohttp

    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    for filename, content in files:
        data.add_field("files", content, filename=filename, content_type="audio/midi")
    return data


async def test_a_locked_catalog_answers_503_and_the_stream_goes_on(home, monkeypatch):
    monkeypatch.setenv("CONTINUO_DB_BUSY_SECONDS", "0.2")
    async with admin_client(home, start=True) as client:
        # Enough pieces that a retrain passes its checks and reaches the (locked) job store.
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH,
                              data=form(("p1.mid", tune(11, beats=200)), ("p2.mid", tune(12, beats=200))))
        assert r.status == 200, await r.text()
        async with Listener(client, "folk") as listener:
            blocker = sqlite3.connect(home / "catalog.sqlite3", isolation_level=None)
            blocker.execute("BEGIN EXCLUSIVE")
            try:
                r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"epochs": 1})
                assert r.status == 503, await r.text()
                assert r.headers["Retry-After"] and "catalog is unavailable" in (await r.json())["error"]
                r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(("a.mid", tune(1))))
                assert r.status == 503, await r.text()
                before = len(listener.data)
                await asyncio.sleep(1.0)
                assert len(listener.data) > before + 8000, "the stream stalled while the catalog was locked"
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            # Nothing half-done: the refused job left no trace, the style takes a new one.
            assert await (await client.get("/admin/jobs", headers=AUTH)).json() == []
            r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(("a.mid", tune(1))))
            assert r.status == 200 and (await r.json())["accepted"][0]["status"] == "added"
            assert not [p for p in (home / "blobs").rglob("*") if p.is_file() and p.name.startswith(".")]


async def test_an_unreadable_catalog_leaves_the_station_playing_and_the_admin_answering_503(home):
    home.mkdir(parents=True)
    (home / "catalog.sqlite3").write_bytes(b"this is not a database, it is garbage" * 100)
    async with admin_client(home, start=True) as client:
        r = await client.get("/admin/styles", headers=AUTH)
        assert r.status == 503 and "cannot be opened" in (await r.json())["error"]
        assert (await client.get("/admin/jobs")).status == 401  # the token still guards it
        async with Listener(client, "folk") as listener:
            await asyncio.sleep(1.0)
        assert len(listener.data) > 8000


class FullDisk(DiskBlobStore):
    def put(self, key: str, data: bytes) -> None:
        real_fdopen = os.fdopen

        def failing_fdopen(fd, *args, **kwargs):
            fh = real_fdopen(fd, *args, **kwargs)

            def write(_data):
                raise OSError(errno.ENOSPC, "No space left on device")

            fh.write = write
            return fh

        os.fdopen = failing_fdopen
        try:
            super().put(key, data)
        finally:
            os.fdopen = real_fdopen


def test_a_full_disk_during_import_leaves_no_row_and_no_blob(tmp_path):
    library = open_library(tmp_path)
    library.blobs = FullDisk(tmp_path / "blobs")
    with pytest.raises(OSError, match="No space"):
        ingest_midi(library, tune(5), style="folk")
    assert library.catalog.list_pieces() == []
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []  # no blob, no .tmp-* either
    # The catalog filling up after the blob was written takes the blob back out.
    library.blobs = DiskBlobStore(tmp_path / "blobs")

    def full(_piece):
        raise sqlite3.OperationalError("database or disk is full")

    library.catalog.add_piece = full
    with pytest.raises(sqlite3.OperationalError):
        ingest_midi(library, tune(6), style="folk")
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    library.close()


async def test_a_full_disk_during_an_upload_rejects_the_file_and_keeps_nothing(home):
    async with admin_client(home) as client:
        service = client.app[ADMIN].service
        service.library.blobs = FullDisk(home / "blobs")
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(("a.mid", tune(7)), ("b.mid", tune(8))))
        report = await r.json()
        assert r.status == 422, report
        assert [x["filename"] for x in report["rejected"]] == ["a.mid", "b.mid"]
        assert all("No space left" in x["reason"] for x in report["rejected"])
        assert await (await client.get("/admin/styles/folk/pieces", headers=AUTH)).json() == []
    assert [p for p in (home / "blobs").rglob("*") if p.is_file()] == []


async def test_partial_files_left_by_a_crash_are_swept_at_start(home):
    home.mkdir(parents=True)
    leftovers = [home / "blobs" / "midi" / "ab" / ".tmp-x1y2", home / "models" / "folk" / ".abc123.npz.partial",
                 home / "styles" / "mine" / ".style.toml.partial"]
    keep = home / "blobs" / "midi" / "ab" / "ab12.mid"
    for path in [*leftovers, keep]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    async with admin_client(home) as client:
        assert (await client.get("/admin/jobs", headers=AUTH)).status == 200
    assert not any(p.exists() for p in leftovers)
    assert keep.exists()


async def test_a_model_file_corrupted_while_it_plays(home, tmp_path):
    candidate = tmp_path / "candidate.npz"
    shutil.copyfile(REPO_ROOT / "styles" / "baroque" / "model.npz", candidate)
    async with admin_client(home, start=True, swap_seconds=0.5) as client:
        service = client.app[ADMIN].service
        new, _ = service.registry.register("folk", candidate, {}, None)
        r = await client.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH)
        assert r.status == 200
        channel = service.station.channels["folk"]
        async with Listener(client, "folk") as listener:
            with open(new.path, "r+b") as f:  # the disk rots under the playing version
                f.seek(100)
                f.write(b"\0" * 4096)
            r = await client.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH)
            assert r.status == 422 and "keeps playing" in (await r.json())["error"]
            assert (await client.get("/admin/styles/folk/models", headers=AUTH)).status == 200
            await asyncio.sleep(1.0)
        assert channel.running and channel.broadcaster.underruns == 0
        assert listener.check_continuous() is not None
    # After a restart the corrupt active version cannot be restored: the bundled model plays.
    async with admin_client(home, start=True) as client:
        channel = client.app[ADMIN].service.station.channels["folk"]
        for _ in range(50):
            if channel.broadcaster.first_frame.is_set():
                break
            await asyncio.sleep(0.1)
        assert channel.running and channel.model_version != new.version
        health = await (await client.get("/healthz")).json()
        assert health["status"] == "ok"


@pytest.mark.slow
def test_sigterm_while_training_stops_the_trainer_and_records_why(home, corpus_dir, tmp_path):
    from tests.admin.test_restart import Server, group_alive

    fill_library(home, corpus_dir, "folk", count=3)
    server = Server(home, tmp_path / "serve.log")
    pid = None
    try:
        server.start()
        job, pid = server.retrain_until_training()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(20) == 0
        assert not group_alive(pid), "the trainer outlived the server"
        assert not list((home / "models" / ".jobs").glob("*")), "scratch files were left behind"
        server.start()
        _, after = server.call("GET", f"/admin/jobs/{job['id']}")
        assert after["state"] == "failed" and after["error"] == "the server stopped while the job was running"
    finally:
        server.stop()
        if pid and group_alive(pid):
            os.killpg(pid, signal.SIGKILL)

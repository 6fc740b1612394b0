"""A radio node with its models in S3: it follows activations made elsewhere, fetches the file
from the bucket, and plays on, without a gap, while the S3 server is down."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import aiohttp
import pytest
from tests.support.admin_helpers import AUTH, Listener, admin_client, channel_version, tune, wait_for_version

from radio.admin.versions import VersionRegistry, model_key

from radio.admin.stores.sqlite import SqliteVersionTable
from radio.config import REPO_ROOT
from radio.library.s3_blobs import S3BlobStore
from tests.support.s3_server import MotoServer

pytestmark = pytest.mark.slow
BAROQUE = REPO_ROOT / "styles" / "baroque" / "model.npz"
CLASSICAL = REPO_ROOT / "styles" / "classical" / "model.npz"


@pytest.fixture
def own_s3(monkeypatch, home):
    """An S3 server of this test's own, so stopping it harms no other test."""
    server = MotoServer().start()
    env = server.env(server.create_bucket())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CONTINUO_ACTIVE_POLL_SECONDS", "0.3")
    yield server, env
    server.stop()


def elsewhere(home: Path, tmp_path: Path, env: dict[str, str]) -> VersionRegistry:
    """The registry of a trainer worker on another machine: same catalog, its own disk, the same bucket."""
    shared = S3BlobStore(env["CONTINUO_S3_BUCKET"], endpoint_url=env["CONTINUO_S3_ENDPOINT_URL"])
    return VersionRegistry(tmp_path / "worker-home", table=SqliteVersionTable(home), shared=shared)


async def test_a_node_fetches_what_a_worker_registered_and_plays_on_through_an_s3_outage(home, tmp_path, own_s3):
    server, env = own_s3
    if not (BAROQUE.is_file() and CLASSICAL.is_file()):
        pytest.skip("the bundled models are missing")
    async with admin_client(home, start=True, swap_seconds=0.0) as client:
        bundled = await channel_version(client, "folk")
        worker = elsewhere(home, tmp_path, env)
        first, _ = worker.register("folk", BAROQUE, {"nll_per_beat": {"model": 1.0}}, "job-1")
        second, _ = worker.register("folk", CLASSICAL, {"nll_per_beat": {"model": 0.9}}, "job-2")
        local = home / "models" / "folk"
        assert not (local / f"{first.version}.npz").exists()  # only in the bucket and on the worker

        async with Listener(client, "folk") as listener:
            await asyncio.to_thread(worker.set_active, "folk", first)  # nothing tells the node but the store
            await wait_for_version(client, "folk", first.version, timeout=30)
            fetched = local / f"{first.version}.npz"
            assert hashlib.sha256(fetched.read_bytes()).hexdigest() == hashlib.sha256(BAROQUE.read_bytes()).hexdigest()

            await asyncio.to_thread(server.stop)  # S3 goes away mid-play (in a thread: stopping it blocks)
            await asyncio.to_thread(worker.set_active, "folk", second)  # a version this node has never fetched
            await asyncio.sleep(3)
            assert await channel_version(client, "folk") == first.version  # the old model plays on

            # The admin says what is wrong instead of failing obscurely.
            r = await client.post(f"/admin/styles/folk/models/{second.version}/activate", headers=AUTH, json={})
            assert r.status == 503, await r.text()
            assert "cannot be had now" in (await r.json())["error"] and env["CONTINUO_S3_ENDPOINT_URL"] in (await r.json())["error"]
            data = aiohttp.FormData()
            data.add_field("files", tune(1), filename="new.mid", content_type="audio/midi")
            r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=data)
            report = await r.json()
            assert r.status == 422 and report["accepted"] == [], report
            assert "could not be stored" in report["rejected"][0]["reason"], report
            assert "S3 server reachable" in report["rejected"][0]["reason"], report
            pieces = await (await client.get("/admin/styles/folk/pieces", headers=AUTH)).json()
            assert pieces == []  # no catalog row points at a blob that was never stored

            # S3 comes back (empty, as a fresh moto is): the worker uploads again, the node catches up.
            restarted = await asyncio.to_thread(MotoServer(port=server.port).start)
            server.proc = restarted.proc  # the fixture stops it
            await asyncio.to_thread(server.create_bucket, env["CONTINUO_S3_BUCKET"])
            await asyncio.to_thread(worker.shared.put_file, model_key("folk", second.version), CLASSICAL)
            await wait_for_version(client, "folk", second.version, timeout=60)
            await asyncio.sleep(1)
        figures = listener.check_continuous()
        assert figures["listened_s"] > 5
        assert bundled not in (first.version, second.version)
    shutil.rmtree(tmp_path / "worker-home", ignore_errors=True)


async def test_every_node_follows_an_activation_made_on_another(home, monkeypatch):
    """Two radio nodes on one catalog: an admin activates (and rolls back) on one, both swap."""
    if not BAROQUE.is_file():
        pytest.skip("the bundled models are missing")
    monkeypatch.setenv("CONTINUO_ACTIVE_POLL_SECONDS", "0.3")
    async with admin_client(home, start=True, swap_seconds=0.0) as a, admin_client(home, start=True, swap_seconds=0.0) as b:
        bundled = await channel_version(b, "folk")
        from radio.web.admin_routes import ADMIN

        new, _ = a.app[ADMIN].service.registry.register("folk", BAROQUE, {}, None)
        r = await a.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH, json={})
        assert r.status == 200, await r.text()
        await wait_for_version(a, "folk", new.version)
        await wait_for_version(b, "folk", new.version, timeout=20)
        r = await a.post(f"/admin/styles/folk/models/{bundled}/activate", headers=AUTH, json={})  # roll back
        assert r.status == 200, await r.text()
        await wait_for_version(b, "folk", bundled, timeout=20)


def test_a_node_never_plays_a_file_that_is_not_the_version_it_asked_for(tmp_path, s3_env):
    from radio.errors import ModelFileError

    table_home = tmp_path / "catalog"
    table_home.mkdir()
    shared = S3BlobStore(s3_env["CONTINUO_S3_BUCKET"], endpoint_url=s3_env["CONTINUO_S3_ENDPOINT_URL"])
    worker = VersionRegistry(tmp_path / "worker", table=SqliteVersionTable(table_home), shared=shared)
    node = VersionRegistry(tmp_path / "node", table=SqliteVersionTable(table_home), shared=shared)
    registered, _ = worker.register("folk", BAROQUE, {}, None)
    wanted = node.find("folk", registered.version)
    assert node.fetch(wanted).read_bytes() == BAROQUE.read_bytes()  # fetched, checked, cached
    other, _ = worker.register("folk", CLASSICAL, {}, None)
    # Another tool overwrites the object with a valid model of another version (sha256 metadata and all).
    shared.put_file(model_key("folk", other.version), BAROQUE)
    with pytest.raises(ModelFileError, match="another model"):
        node.fetch(node.find("folk", other.version))
    assert not (tmp_path / "node" / "models" / "folk" / f"{other.version}.npz").exists()
    worker.close()
    node.close()

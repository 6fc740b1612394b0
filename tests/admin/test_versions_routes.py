"""Model versions: listing (bundled included), activation and rollback as hot swaps with no
gap for a listener, and a broken model file refused while the old model keeps playing."""

from __future__ import annotations

import shutil

from admin_helpers import AUTH, Listener, admin_client, channel_version, wait_for_version

from radio.config import REPO_ROOT
from radio.web.admin_routes import ADMIN

OTHER_MODEL = REPO_ROOT / "styles" / "baroque" / "model.npz"


async def test_activate_and_roll_back_without_a_gap(home, tmp_path):
    async with admin_client(home, start=True, swap_seconds=1.0) as client:
        service = client.app[ADMIN].service
        models = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
        [bundled] = models["versions"]
        assert bundled["source"] == "bundled" and bundled["active"]
        candidate = tmp_path / "candidate.npz"
        shutil.copyfile(OTHER_MODEL, candidate)
        new, _ = service.registry.register("folk", candidate, {"nll_per_beat": {"model": 1.0}}, None)
        assert new.version != bundled["version"]

        async with Listener(client, "folk") as listener:
            await wait_for_version(client, "folk", bundled["version"])
            r = await client.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH)
            assert r.status == 200, await r.text()
            assert (await r.json())["swap"] == "within 1 s"
            await wait_for_version(client, "folk", new.version)
            listed = await (await client.get("/admin/styles/folk/models", headers=AUTH)).json()
            assert [v["active"] for v in listed["versions"]] == [False, True]
            assert listed["versions"][1]["heldout_nll"] == 1.0

            # Rollback is activating the bundled version, with the same guarantees.
            r = await client.post(f"/admin/styles/folk/models/{bundled['version']}/activate", headers=AUTH,
                                  json={"within_seconds": 0.5})
            assert r.status == 200
            await wait_for_version(client, "folk", bundled["version"])
        print(listener.check_continuous())
        assert service.registry.active_version("folk") is None  # the bundled model is active again


async def test_a_broken_model_is_refused_and_the_old_one_keeps_playing(home, tmp_path):
    async with admin_client(home, start=True, swap_seconds=0.5) as client:
        service = client.app[ADMIN].service
        candidate = tmp_path / "candidate.npz"
        shutil.copyfile(OTHER_MODEL, candidate)
        new, _ = service.registry.register("folk", candidate, {}, None)
        playing = service.station.channels["folk"].composer.model_version
        data = bytearray(open(new.path, "rb").read())
        open(new.path, "wb").write(bytes(data[: len(data) // 2]))  # the stored file rots
        async with Listener(client, "folk") as listener:
            r = await client.post(f"/admin/styles/folk/models/{new.version}/activate", headers=AUTH)
            assert r.status == 422
            error = (await r.json())["error"]
            assert new.version in error and "keeps playing" in error
            r = await client.post("/admin/styles/folk/models/ffffffffffff/activate", headers=AUTH)
            assert r.status == 404
            await wait_for_version(client, "folk", playing)
        print(listener.check_continuous())
        assert service.registry.active_version("folk") is None

"""Every /admin/* route refuses a missing or wrong token with a 401 JSON, and does nothing."""

from __future__ import annotations

import re

import pytest
from tests.support.admin_helpers import AUTH, TOKEN, admin_client, tune

from radio.web.admin_routes import ROUTES

SAMPLE = {"style": "no-such-style", "piece_id": "0123456789abcdef", "job_id": "nosuchjob", "version": "000000000000"}
ROUTE_IDS = [f"{m} {p}" for m, p, _ in ROUTES] + ["PUT /admin/anything/else"]
ALL_ROUTES = [(m, p) for m, p, _ in ROUTES] + [("PUT", "/admin/anything/else")]


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


@pytest.mark.parametrize("method, path", ALL_ROUTES, ids=ROUTE_IDS)
async def test_every_admin_route_needs_the_token(home, method, path):
    url = concrete(path)
    async with admin_client(home) as client:
        for headers in ({}, {"Authorization": "Bearer wrong-token-000000000000"}, {"Authorization": TOKEN},
                        {"Authorization": f"Basic {TOKEN}"}):
            r = await client.request(method, url, headers=headers, json={"epochs": 1})
            assert r.status == 401, (headers, await r.text())
            body = await r.json()
            assert "token" in body["error"]
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        # The right token gets past the check: whatever the answer, it is not a 401.
        r = await client.request(method, url, headers=AUTH, json={} if method != "POST" else None)
        assert r.status != 401, await r.text()


async def test_refused_requests_change_nothing(home):
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    library = open_library(home)
    piece = ingest_midi(library, tune(1), style="folk", title="kept").piece
    library.close()
    wrong = {"Authorization": "Bearer wrong-token-000000000000"}
    async with admin_client(home) as client:
        assert (await client.post("/admin/styles/folk/retrain", json={"epochs": 1}, headers=wrong)).status == 401
        assert (await client.delete(f"/admin/pieces/{piece.id}", headers=wrong)).status == 401
        assert (await client.post("/admin/styles", json={"name": "sneaky"}, headers=wrong)).status == 401
        assert (await client.post("/admin/styles/folk/models/000000000000/activate", headers=wrong)).status == 401
        assert await (await client.get("/admin/jobs", headers=AUTH)).json() == []
        pieces = await (await client.get("/admin/styles/folk/pieces", headers=AUTH)).json()
        assert [p["id"] for p in pieces] == [piece.id]
        assert not (home / "styles" / "sneaky").exists()


async def test_the_page_loads_without_a_token(home):
    async with admin_client(home) as client:
        r = await client.get("/admin")
        assert r.status == 200 and "Admin token" in await r.text()
        for asset in ("/static/admin.js", "/static/admin-api.js", "/static/admin-chart.js", "/static/admin.css"):
            assert (await client.get(asset)).status == 200, asset

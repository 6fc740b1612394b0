"""Uploading, listing and deleting pieces; creating styles (names, filters, files)."""

from __future__ import annotations

import aiohttp
import pytest
from tests.support.admin_helpers import AUTH, admin_client, tune

from radio.admin.uploads import UploadLimits
from radio.styles import load_style


def form(*files, **fields) -> aiohttp.FormData:
    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)  # as browsers send them
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content, ctype in files:
        data.add_field("files", content, filename=filename, content_type=ctype)
    return data


async def test_upload_validates_each_file(home):
    limits = UploadLimits(max_file_bytes=4096, max_files=6)
    big = tune(99, beats=64) + b"\0" * 5000
    async with admin_client(home, upload_limits=limits) as client:
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(
            ("good one.mid", tune(1), "audio/midi"),
            ("corrupt.mid", b"MThd\x00\x00\x00\x06garbage", "audio/midi"),
            ("huge.mid", big, "audio/midi"),
            ("picture.mid", tune(2), "image/png"),
            ("../../escape.mid", tune(3), "audio/midi"),
            ("second.midi", tune(4), "application/octet-stream"),
        ))
        report = await r.json()
        assert r.status == 200, report
        assert [a["filename"] for a in report["accepted"]] == ["good one.mid", "second.midi"], report
        assert all(a["status"] == "added" and a["piece"]["style"] == "folk" for a in report["accepted"])
        reasons = {x["filename"]: x["reason"] for x in report["rejected"]}
        assert set(reasons) == {"corrupt.mid", "huge.mid", "picture.mid", "../../escape.mid"}
        assert "corrupt" in reasons["corrupt.mid"]
        assert "oversize" in reasons["huge.mid"] and "4096" in reasons["huge.mid"]
        assert "content type" in reasons["picture.mid"]
        assert "path traversal" in reasons["../../escape.mid"]
        assert not list(home.rglob("escape*"))

        pieces = await (await client.get("/admin/styles/folk/pieces", headers=AUTH)).json()
        assert sorted(p["title"] for p in pieces) == ["good one", "second"]
        assert all("blob_key" not in p for p in pieces)

        # Count limit: the seventh file of one upload is refused, the first six go in.
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH,
                              data=form(*[(f"n{i}.mid", tune(10 + i), "audio/midi") for i in range(7)]))
        report = await r.json()
        assert len(report["accepted"]) == 6
        assert report["rejected"] == [{"filename": "n6.mid", "reason": "too many files: at most 6 per upload"}]

        # Same file again: a duplicate, reported, nothing added.
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(("again.mid", tune(1), "audio/midi")))
        dup = await r.json()
        assert r.status == 200 and dup["accepted"] == [] and dup["duplicates"][0]["status"] == "duplicate", dup
        assert dup["duplicates"][0]["counts_here"] and "already in the library" in dup["duplicates"][0]["reason"]

        # Delete one: gone from the list and its blob gone from the store.
        victim = pieces[0]
        r = await client.delete(f"/admin/pieces/{victim['id']}", headers=AUTH)
        assert r.status == 200 and (await r.json())["deleted"]["id"] == victim["id"]
        after = await (await client.get("/admin/styles/folk/pieces", headers=AUTH)).json()
        assert victim["id"] not in {p["id"] for p in after} and len(after) == 7
        assert (await client.delete(f"/admin/pieces/{victim['id']}", headers=AUTH)).status == 404


async def test_upload_refusals(home):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, json={"files": []})
        assert r.status == 415 and "multipart" in (await r.json())["error"]
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(("bad.mid", b"nope", "audio/midi")))
        assert r.status == 422 and "corrupt" in (await r.json())["rejected"][0]["reason"]
        r = await client.post("/admin/styles/nowhere/pieces", headers=AUTH, data=form(("a.mid", tune(1), "audio/midi")))
        assert r.status == 404
        r = await client.post("/admin/styles/folk/pieces", headers=AUTH, data=form(note="just a field"))
        assert r.status == 400 and "no files" in (await r.json())["error"]


@pytest.mark.parametrize("name", ["", "UPPER", "a" * 33, "../etc", "a/b", "baroque/../x", "dot.dot", "sp ace", "ünï"])
async def test_style_name_validation(home, name):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH, json={"name": name})
        assert r.status == 400 and "invalid" in (await r.json())["error"]
    assert not (home / "styles").exists() or not any((home / "styles").iterdir())


async def test_the_base_models_name_is_no_style_name(home):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "base"})
        assert r.status == 400 and "reserved for the shared base model" in (await r.json())["error"]
    assert not (home / "styles").exists() or not any((home / "styles").iterdir())


async def test_create_style_from_files_and_composer(home):
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    library = open_library(home)
    ingest_midi(library, tune(50), style="baroque", composer="Johann Sebastian Bach", title="chorale")
    library.close()
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH, data=form(
            ("mine.mid", tune(51), "audio/midi"), ("bad.txt", b"x", "text/plain"),
            name="bach-like", display_name="Bach-like", composer="Johann Sebastian Bach", like="baroque",
        ))
        assert r.status == 201, await r.text()
        report = await r.json()
        assert report["composer_matches"] == 1 and len(report["accepted"]) == 1
        assert report["rejected"][0]["filename"] == "bad.txt"
        style = load_style(home / "styles" / "bach-like")
        assert style.display_name == "Bach-like" and style.corpus_styles == ("bach-like", "baroque")
        assert "Johann Sebastian Bach" in (home / "styles" / "bach-like" / "style.toml").read_text()
        styles = {s["style"]: s for s in await (await client.get("/admin/styles", headers=AUTH)).json()}
        assert styles["bach-like"]["created_here"] and not styles["bach-like"]["on_air"]
        pieces = await (await client.get("/admin/styles/bach-like/pieces", headers=AUTH)).json()
        # Its own upload plus what it trains on from the composer's library style.
        assert sorted((p["title"], p["style"]) for p in pieces) == [("chorale", "baroque"), ("mine", "bach-like")]

        assert (await client.post("/admin/styles", headers=AUTH, json={"name": "bach-like"})).status == 409
        assert (await client.post("/admin/styles", headers=AUTH, json={"name": "folk"})).status == 409
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "nobody", "composer": "Nobody At All"})
        assert r.status == 400 and "Nobody At All" in (await r.json())["error"]
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "x1", "tempo_bpm": 5000})
        assert r.status == 400 and "tempo_bpm" in (await r.json())["error"]
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "x2", "path": "/etc"})
        assert r.status == 400 and "unknown" in (await r.json())["error"]
    # The repo's styles/ folder is never written to.
    from radio.config import REPO_ROOT

    assert not (REPO_ROOT / "styles" / "bach-like").exists()


async def test_a_json_body_that_arrives_in_pieces_is_read_whole(home):
    import asyncio
    import json

    body = json.dumps({"name": "slow-client", "description": "x" * 3000}).encode()
    async with admin_client(home) as client:
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(
            b"POST /admin/styles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {AUTH['Authorization']}\r\n".encode()
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body[:1000]
        )
        await writer.drain()
        await asyncio.sleep(0.3)  # the rest comes later, as from a slow network
        writer.write(body[1000:])
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert b" 201 " in status_line, status_line + rest

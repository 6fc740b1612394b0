"""Styles created and edited from the admin reach every radio node: two nodes share one
catalog (the same SQLite file, as they would share MongoDB) and one S3 bucket (moto), each
with its own data dir and styles folder."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
import time
from pathlib import Path

import pytest
from tests.support.admin_helpers import AUTH, admin_client

from radio.admin.stores.sqlite import SqliteStyleStore
from radio.config import REPO_ROOT
from radio.library import CATALOG_FILE
from radio.station.composer import Composer, ComposerSettings
from radio.style_file import STYLE_FILE
from radio.styles import Style, load_style
from radio.web.admin_routes import ADMIN

BAROQUE = REPO_ROOT / "styles" / "baroque" / "model.npz"
POLL = 0.3


def second_node(home: Path, tmp_path: Path) -> Path:
    """Another node's data dir: its own styles and models, the first node's catalog."""
    other = tmp_path / "node-b"
    other.mkdir(mode=0o700)
    (other / CATALOG_FILE).symlink_to(home / CATALOG_FILE)
    return other


async def eventually(check, timeout: float, what: str):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if (value := await check()) is not None:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def local_style(node_home: Path, name: str):
    path = node_home / "styles" / name / STYLE_FILE
    return load_style(path.parent) if path.is_file() else None


@pytest.fixture(params=["sqlite", "mongodb"])
def style_store(request, tmp_path):
    """Each backend of the StyleStore protocol; MongoDB runs when CONTINUO_TEST_MONGODB_URI names a server."""
    if request.param == "sqlite":
        store = SqliteStyleStore(tmp_path)
    else:
        from radio.admin.stores.mongo import MongoStyleStore

        store = MongoStyleStore(request.getfixturevalue("mongodb_db_uri"))
    yield store
    store.close()


def test_a_style_store_bumps_a_revision_per_write_and_refuses_a_taken_name(style_store):
    assert style_store.put("shanty", "name = 'A'\n", new=True) == 1
    assert style_store.put("shanty", "name = 'B'\n", new=True) is None  # created elsewhere first
    assert style_store.get("shanty").text == "name = 'A'\n"
    assert style_store.put("shanty", "name = 'C'\n") == 2
    assert style_store.put("other", "name = 'D'\n") == 1
    assert style_store.revisions() == {"shanty": 2, "other": 1}
    record = style_store.get("shanty")
    assert (record.name, record.text, record.revision) == ("shanty", "name = 'C'\n", 2)
    assert style_store.get("nothing") is None


async def test_a_style_created_and_edited_on_one_node_plays_on_another(home, tmp_path, s3_env, monkeypatch):
    if not BAROQUE.is_file():
        pytest.skip("the bundled models are missing")
    monkeypatch.setenv("CONTINUO_ACTIVE_POLL_SECONDS", str(POLL))
    async with admin_client(home, start=True, swap_seconds=0.0) as a:
        home_b = second_node(home, tmp_path)
        async with admin_client(home_b, start=True, swap_seconds=0.0) as b:
            r = await a.post("/admin/styles", headers=AUTH, json={"name": "shanty", "like": "folk", "temperature": 0.9})
            assert r.status == 201, await r.text()
            r = await a.patch("/admin/styles/shanty", headers=AUTH, json={"temperature": 1.3, "instrument": "accordion"})
            assert r.status == 200, await r.text()
            assert (await r.json())["on_air"] is False

            async def edited_on_b():
                style = local_style(home_b, "shanty")
                return style if style is not None and style.temperature == 1.3 else None

            style = await eventually(edited_on_b, 10 * POLL + 5, "node B learning the edited style")
            assert style.instrument == "accordion"
            assert (home_b / "styles" / "shanty" / STYLE_FILE).read_text() == \
                (home / "styles" / "shanty" / STYLE_FILE).read_text()
            listed = {s["style"]: s for s in await (await b.get("/admin/styles", headers=AUTH)).json()}
            assert listed["shanty"]["created_here"] is True and listed["shanty"]["on_air"] is False

            # A version activated on A (its file in S3) puts the style on air on B too.
            service_a = a.app[ADMIN].service
            version, _ = await asyncio.to_thread(service_a.registry.register, "shanty", BAROQUE, {}, None)
            r = await a.post(f"/admin/styles/shanty/models/{version.version}/activate", headers=AUTH, json={})
            assert r.status == 200, await r.text()
            channels_b = b.app[ADMIN].service.activations

            async def on_air_on_b():
                channel = channels_b.channel("shanty")
                return channel if channel is not None and channel.model_version == version.version else None

            channel = await eventually(on_air_on_b, 30, "node B playing the style")
            assert channel.style.temperature == 1.3
            r = await b.get("/api/channels/shanty")
            assert r.status == 200 and (await r.json())["model_version"] == version.version

            # An edit of a style on air reaches B's channel, from its next piece.
            r = await a.patch("/admin/styles/shanty", headers=AUTH, json={"temperature": 0.7})
            assert r.status == 200, await r.text()
            assert (await r.json())["live"] is True

            async def restyled_on_b():
                return True if channels_b.channel("shanty").style.temperature == 0.7 else None

            await eventually(restyled_on_b, 10 * POLL + 5, "node B's channel taking the edit")
            assert channels_b.channel("shanty").composer.model_version == version.version


async def test_a_bad_shared_record_is_logged_and_skipped_and_the_others_still_follow(home, tmp_path, caplog, monkeypatch):
    """Records written by other nodes (or by hand) into this node's catalog: the good ones are
    copied at start and while running, each bad one is logged once with its reason."""
    monkeypatch.setenv("CONTINUO_ACTIVE_POLL_SECONDS", str(POLL))
    caplog.set_level(logging.INFO, logger="radio.admin")
    good = 'name = "Good"\ntempo_bpm = 96\ntemperature = 1.0\n'
    home.mkdir(mode=0o700)
    elsewhere = SqliteStyleStore(home)  # another node's writes
    elsewhere.put("good", good)
    db = sqlite3.connect(home / CATALOG_FILE, isolation_level=None)
    db.executemany("INSERT INTO styles (name, text, revision, updated_at) VALUES (?, ?, 1, 'now')",
                   [("broken", "tempo_bpm = = 3\n"), ("hot", 'temperature = "hot"\n'), ("../escape", good),
                    ("folk", good), ("bytes", b"\x00\xff")])
    db.close()

    def errors(name: str) -> list[str]:
        return [rec.getMessage() for rec in caplog.records
                if rec.levelno == logging.ERROR and f"shared style {name!r}" in rec.getMessage()]

    try:
        async with admin_client(home, start=True) as node:
            assert local_style(home, "good").display_name == "Good"  # learnt at start, despite the bad records
            for name, reason in [("broken", "not valid TOML"), ("hot", "'hot'"), ("../escape", "invalid"),
                                 ("folk", "bundled"), ("bytes", "malformed")]:
                assert len(errors(name)) == 1 and reason in errors(name)[0], (name, errors(name))
                assert "revision 1" in errors(name)[0]
            assert not (home / "styles" / "broken").exists() and not (home / "escape").exists()
            assert "tempo_bpm" in (REPO_ROOT / "styles" / "folk" / STYLE_FILE).read_text()  # untouched

            # The follower runs on: a new style arrives, and a bad record's next revision is taken.
            await asyncio.to_thread(elsewhere.put, "later", good)
            await asyncio.to_thread(elsewhere.put, "hot", good.replace("1.0", "0.8"))

            async def both_arrived():
                return True if local_style(home, "later") is not None and local_style(home, "hot") is not None else None

            await eventually(both_arrived, 10 * POLL + 5, "the follower copying styles after bad records")
            assert local_style(home, "hot").temperature == 0.8
            await asyncio.sleep(3 * POLL)
            assert len(errors("broken")) == 1  # logged once, not at every poll
            assert node.app[ADMIN].service.activations.channel("folk") is not None  # the station plays on
    finally:
        elsewhere.close()


async def test_an_edit_with_a_bad_value_changes_nothing_anywhere(home):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "shanty", "like": "folk"})
        assert r.status == 201, await r.text()
        path = home / "styles" / "shanty" / STYLE_FILE
        before = path.read_text()
        store = client.app[ADMIN].service.style_store
        for body, status, words in [
            ({"temperature": 99}, 400, "temperature must be between"),
            ({"temperature": "warm"}, 400, "temperature must be a number"),
            ({"colour": "red"}, 400, "unknown field"),
            ({"form": "AABB"}, 400, "form must be an object"),
            ({"form": {"sections": "AB", "bars": "many"}}, 400, "was not changed"),
            ([1, 2], 400, "JSON object"),
        ]:
            r = await client.patch("/admin/styles/shanty", headers=AUTH, json=body)
            assert r.status == status and words in (await r.json())["error"], (body, await r.text())
        assert path.read_text() == before and store.revisions() == {"shanty": 1}
        r = await client.patch("/admin/styles/folk", headers=AUTH, json={"temperature": 1.0})
        assert r.status == 409 and "bundled" in (await r.json())["error"]
        r = await client.patch("/admin/styles/nope", headers=AUTH, json={"temperature": 1.0})
        assert r.status == 404
        r = await client.patch("/admin/styles/shanty", headers=AUTH, json={"piece_minutes": 2.5, "description": "Sea songs"})
        assert r.status == 200, await r.text()
        assert load_style(path.parent).piece_minutes == 2.5 and store.get("shanty").text == path.read_text()


class RecordingModel:
    """A model that plays one held note and records the temperature of every piece's sampler."""

    version = "recorder-000000"

    def __init__(self) -> None:
        self.temperatures: list[float] = []

    def sampler(self, *, temperature: float = 1.0, seed: int | None = None, top_p: float = 1.0):
        self.temperatures.append(temperature)

        class Held:
            def next_beats(self, n: int) -> list:
                return [[(60, "b")]] + [[(60, "s")]] * (n - 1)

        return Held()


def test_a_restyled_composer_takes_the_new_settings_from_its_next_piece():
    style = Style(name="shanty", display_name="Shanty", description="", tempo_bpm=120.0, temperature=1.0,
                  piece_minutes=2.0 / 60, folder=Path("/nonexistent"))
    model = RecordingModel()
    composer = Composer(style, model, seed=3, settings=ComposerSettings(chunk_beats=4, breath_beats=2, lookahead_beats=8))
    composer.next_chunk()
    composer.restyle(dataclasses.replace(style, temperature=0.6, piece_minutes=4.0 / 60))
    chunks = [composer.next_chunk() for _ in range(12)]
    assert model.temperatures == [1.0, 0.6]  # the piece under way kept its settings
    second = next(c for c in chunks if c.new_piece)
    assert composer.style.temperature == 0.6 and second.piece.number == 2
    with pytest.raises(ValueError, match="keeps its tempo"):
        composer.restyle(dataclasses.replace(style, tempo_bpm=90.0))

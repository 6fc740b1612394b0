"""The admin's sharp edges, each with the case that used to break it: an emoji in a display
name, broken style folders, a failed final save, NaN and deep JSON, the trainer's environment,
forged log lines, style names, plain-text errors, the token file and the data dir, and the
admin on its own address (or nowhere)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from pathlib import Path

import pytest
from tests.support.admin_helpers import AUTH, admin_client

from radio.admin.auth import load_or_create_token
from radio.admin.errors import BadRequest
from radio.admin.jobs import FAILED, FINAL_STATES
from radio.admin.stores.sqlite import SqliteJobStore
from radio.admin.runner import JobRunner
from radio.admin.train_command import trainer_env
from radio.errors import StyleError
from radio.styles import check_style_name, discover_styles
from radio.web.admin_routes import ADMIN
from radio.web.json_body import parse_json


async def test_an_emoji_display_name_is_written_as_valid_toml(home):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH,
                              json={"name": "x", "display_name": "🎵 Songs \"of\" the \\ night\n", "description": "ü"})
        assert r.status == 201, await r.text()
        r = await client.get("/admin/styles", headers=AUTH)
        assert r.status == 200, await r.text()
        mine = next(s for s in await r.json() if s["style"] == "x")
        assert mine["name"] == "🎵 Songs \"of\" the \\ night\n" and mine["description"] == "ü"
    assert not list((home / "styles" / "x").glob("*.partial"))


def test_a_broken_style_folder_is_skipped_with_the_reason(tmp_path, caplog):
    for name, text in {"good": 'name = "Good"\n', "bad": 'name = "\\ud83c"\n', "worse": "tempo_bpm = 'fast'\n",
                       "-dash": 'name = "x"\n'}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "style.toml").write_text(text)
    skipped: dict[str, str] = {}
    with caplog.at_level(logging.ERROR, logger="radio.styles"):
        found = discover_styles(tmp_path, skipped)
    assert list(found) == ["good"]
    assert set(skipped) == {"bad", "worse", "-dash"}
    assert "not valid TOML" in skipped["bad"] and "fast" in skipped["worse"] and "invalid" in skipped["-dash"]
    assert "style folder" in caplog.text and "bad" in caplog.text


async def test_the_admin_keeps_working_beside_a_broken_style_folder(home):
    broken = home / "styles" / "broken"
    broken.mkdir(parents=True)
    (broken / "style.toml").write_text('name = "\\ud83c\\udfb5"\n')  # what the old writer produced
    async with admin_client(home) as client:
        for path in ("/admin/styles", "/admin/jobs", "/admin/styles/folk/models", "/admin/styles/folk/pieces"):
            r = await client.get(path, headers=AUTH)
            assert r.status == 200, (path, await r.text())
        assert "broken" not in [s["style"] for s in await (await client.get("/admin/styles", headers=AUTH)).json()]


@pytest.mark.parametrize("name", ["-x", "-", "-rf", "_x", "X"])
def test_style_names_start_with_a_letter_or_digit(name):
    with pytest.raises(StyleError, match="starting with a letter or digit"):
        check_style_name(name)
    assert check_style_name("1-x") == "1-x"


async def test_a_style_name_starting_with_a_dash_is_refused(home):
    async with admin_client(home) as client:
        r = await client.post("/admin/styles", headers=AUTH, json={"name": "-x"})
        assert r.status == 400 and "letter or digit" in (await r.json())["error"]
    assert not (home / "styles" / "-x").exists()


@pytest.mark.parametrize("raw", [b"NaN", b'{"a": Infinity}', b"[-Infinity]", b'{"a": 1e400}', b"[-1e999]",
                                 b'{"a": 1' + b"0" * 400 + b"}", b"[" * 40 + b"]" * 40,
                                 b"[" * 20000, b'{"a":' * 5000 + b"1" + b"}" * 5000])
def test_strict_json_refuses_non_finite_numbers_and_deep_nesting(raw):
    with pytest.raises(BadRequest):
        parse_json(raw)
    assert parse_json(b'{"a": [1, 2.5, {"b": null}]}') == {"a": [1, 2.5, {"b": None}]}
    assert parse_json(b"[1e300, -9223372036854775807]") == [1e300, -(2**63 - 1)]


@pytest.mark.parametrize("path, body", [
    ("/admin/styles/folk/models/x/activate", b'{"within_seconds": NaN}'),
    ("/admin/styles/folk/models/x/activate", b'{"within_seconds": Infinity}'),
    ("/admin/styles/folk/models/x/activate", b'{"within_seconds": 1e400}'),
    ("/admin/styles/folk/models/x/activate", b'{"within_seconds": 1' + b"0" * 400 + b"}"),
    ("/admin/styles/folk/retrain", b'{"minutes": Infinity}'),
    ("/admin/styles/folk/retrain", b"[" * 30000 + b"]" * 30000),
    ("/admin/styles", b'{"name": "y", "tempo_bpm": NaN}'),
])
async def test_non_finite_and_deeply_nested_bodies_get_400(home, path, body):
    async with admin_client(home) as client:
        r = await client.post(path, headers={**AUTH, "Content-Type": "application/json"}, data=body)
        assert r.status == 400, await r.text()
        assert r.content_type == "application/json" and (await r.json())["error"]


@pytest.mark.parametrize("raised, status", [
    (StyleError("style.toml of x: tempo_bpm must be a number"), 400),
    (ValueError("a value the checks missed"), 400),
    (RuntimeError("a bug"), 500),
])
async def test_every_admin_error_answers_in_json(home, raised, status):
    async with admin_client(home) as client:
        service = client.app[ADMIN].service

        async def broken(*args, **kwargs):
            raise raised

        service.list_styles = broken
        r = await client.get("/admin/styles", headers=AUTH)
        assert r.status == status
        assert r.content_type == "application/json"
        error = (await r.json())["error"]
        assert (str(raised) in error) if status == 400 else ("RuntimeError" in error and "a bug" not in error)


async def test_a_percent_encoded_newline_cannot_forge_a_log_line(home, caplog):
    async with admin_client(home) as client:
        with caplog.at_level(logging.INFO, logger="radio.admin"):
            for headers in (AUTH, {}):
                r = await client.get("/admin/x%0Aadmin:%20GET%20/admin/forged%20from%20127.0.0.1%20-%3E%20200",
                                     headers=headers)
                assert r.status in (401, 404)
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "radio.admin"]
    assert lines and all("\n" not in line for line in lines), lines
    assert any("\\n" in line for line in lines)


async def test_a_piece_title_with_a_newline_cannot_forge_a_log_line(home, caplog):
    from radio.library.base import PieceRecord

    async with admin_client(home) as client:
        catalog = client.app[ADMIN].service.library.catalog
        catalog.add_piece(PieceRecord(id="0123456789abcdef", style="folk", sha256="0" * 64, blob_key="none",
                                      title="Jig\nadmin: deleted piece ffff (forged) of folk"))
        with caplog.at_level(logging.INFO, logger="radio.admin"):
            r = await client.delete("/admin/pieces/0123456789abcdef", headers=AUTH)
            assert r.status == 200, await r.text()
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "radio.admin" and "deleted piece" in rec.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "\\n" in lines[0], lines


def test_the_trainer_child_gets_only_what_it_needs():
    environ = {"PATH": "/usr/bin", "HOME": "/root", "LC_ALL": "C.UTF-8", "CONTINUO_STYLES": "/s",
               "CONTINUO_ADMIN_TOKEN": "secret-token-0123456789", "CONTINUO_ICECAST_URL": "icecast://source:pw@h:8000",
               "AWS_SECRET_ACCESS_KEY": "k", "MONGODB_URL": "mongodb://u:p@h", "SOMETHING_ELSE": "x"}
    env = trainer_env(environ, {"CONTINUO_STYLES": "/home/styles"})
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8" and env["CONTINUO_STYLES"] == "/home/styles"
    assert env["OMP_NUM_THREADS"] == "1"
    for secret in ("CONTINUO_ADMIN_TOKEN", "CONTINUO_ICECAST_URL", "AWS_SECRET_ACCESS_KEY", "MONGODB_URL", "SOMETHING_ELSE"):
        assert secret not in env


class FullDiskStore(SqliteJobStore):
    """Saving a job's final state fails, as on a full disk."""

    def save(self, job) -> None:
        if job.state in FINAL_STATES:
            raise OSError(28, "No space left on device")
        super().save(job)


async def test_a_failed_final_save_still_frees_the_slot(tmp_path, monkeypatch):
    """And the trainer child really gets the scrubbed environment."""
    fake = tmp_path / "fake-python"
    dump = tmp_path / "env.json"
    fake.write_text(f"#!{sys.executable}\nimport json, os\n"
                    f"json.dump(dict(os.environ), open({str(dump)!r}, 'w'))\nraise SystemExit(3)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", "secret-token-0123456789")
    monkeypatch.setenv("CONTINUO_ICECAST_URL", "icecast://source:hackme@localhost:8000")

    async def never_called(job, done):  # the fake trainer never reports a model
        raise AssertionError("no job succeeds here")

    runner = JobRunner(FullDiskStore(tmp_path), tmp_path, on_done=never_called, max_concurrent=1, python=str(fake))
    first = await runner.submit("folk", {})
    second = await runner.submit("baroque", {})
    for _ in range(300):
        if not runner._tasks and not runner._pending:
            break
        await asyncio.sleep(0.05)
    assert not runner._tasks and not runner._pending, "a job is stuck: the slot was never released"
    assert first.state == second.state == FAILED and second.started_at is not None
    env = json.loads(dump.read_text())
    assert "CONTINUO_ADMIN_TOKEN" not in env and "CONTINUO_ICECAST_URL" not in env
    assert env["OMP_NUM_THREADS"] == "1"
    await runner.close()


def test_a_token_file_others_can_read_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTINUO_ADMIN_TOKEN", raising=False)
    token = load_or_create_token(tmp_path)
    path = Path(token.source)
    path.chmod(0o644)
    with pytest.raises(SystemExit, match="mode 0644.*chmod 600"):
        load_or_create_token(tmp_path)
    path.chmod(0o600)
    assert load_or_create_token(tmp_path).value == token.value


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")
def test_a_token_file_of_another_user_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTINUO_ADMIN_TOKEN", raising=False)
    path = Path(load_or_create_token(tmp_path).source)
    os.chown(path, 12345, -1)
    with pytest.raises(SystemExit, match="belongs to user id 12345"):
        load_or_create_token(tmp_path)


def test_a_symlinked_token_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("CONTINUO_ADMIN_TOKEN", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("a-token-someone-else-planted-here\n")
    elsewhere.chmod(0o600)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "admin-token").symlink_to(elsewhere)
    with pytest.raises(SystemExit, match="not a plain file"):
        load_or_create_token(tmp_path / "home")


def test_the_data_dir_is_created_private(tmp_path, monkeypatch):
    from radio.library import open_library

    monkeypatch.delenv("CONTINUO_ADMIN_TOKEN", raising=False)
    load_or_create_token(tmp_path / "a" / "home")
    assert stat.S_IMODE((tmp_path / "a" / "home").stat().st_mode) == 0o700
    open_library(tmp_path / "b").close()
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o700


async def test_the_public_app_can_leave_the_admin_out(home):
    from aiohttp.test_utils import TestClient, TestServer

    from radio.station.station import Station
    from radio.web.app import create_admin_app, create_app

    station = Station()
    public = TestClient(TestServer(create_app(station, admin=False, home=home), host="127.0.0.1"))
    admin = TestClient(TestServer(create_admin_app(station, home=home), host="127.0.0.1"))
    await public.start_server()
    await admin.start_server()
    try:
        for path in ("/admin", "/admin/styles", "/admin/jobs"):
            r = await public.get(path, headers=AUTH)
            assert r.status == 404, path
        assert (await public.get("/api/channels")).status == 200
        assert (await admin.get("/admin/styles", headers=AUTH)).status == 200
        assert (await admin.get("/admin/styles")).status == 401
        assert (await admin.get("/admin")).status == 200
        assert (await admin.get("/static/admin.js")).status == 200
        assert (await admin.get("/stream/folk.mp3")).status == 404
        assert (await admin.get("/")).status == 404
    finally:
        await public.close()
        await admin.close()

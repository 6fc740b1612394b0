"""What only the SQLite catalog promises: one WAL file, a versioned schema, persistence."""

from __future__ import annotations

import sqlite3

import pytest

from radio.errors import LibraryError
from radio.library import open_library
from radio.library.base import PieceRecord
from radio.library.sqlite_catalog import SCHEMA_VERSION, SqliteCatalog


def test_open_library_lays_out_home(tmp_path):
    lib = open_library(tmp_path / "home")
    lib.close()
    assert (tmp_path / "home" / "catalog.sqlite3").is_file()
    assert (tmp_path / "home" / "blobs").is_dir()


def test_open_library_defaults_to_continuo_home(continuo_home):
    lib = open_library()
    lib.close()
    assert lib.home == continuo_home
    assert (continuo_home / "catalog.sqlite3").is_file()


def test_wal_mode_and_schema_version(tmp_path):
    SqliteCatalog(tmp_path / "c.sqlite3").close()
    db = sqlite3.connect(tmp_path / "c.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"pieces", "records"} <= tables


def test_reopen_keeps_pieces_and_other_modules_tables(tmp_path):
    path = tmp_path / "c.sqlite3"
    cat = SqliteCatalog(path)
    cat.add_piece(PieceRecord(id="a" * 16, style="folk", sha256="a" * 64, blob_key="midi/aa/a.mid", extra={"k": 1}))
    cat.close()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY)")  # as admin will, in the same file
    db.commit()
    db.close()
    cat = SqliteCatalog(path)
    assert cat.get_piece("a" * 16).extra == {"k": 1}
    cat.close()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


def test_a_newer_schema_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "c.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(LibraryError, match="newer"):
        SqliteCatalog(path)


def test_a_file_that_is_not_sqlite_is_a_library_error(tmp_path):
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(LibraryError, match=str(path.name)):
        SqliteCatalog(path)

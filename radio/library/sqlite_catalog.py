"""The embedded catalog: one SQLite file in WAL mode.

One connection guarded by a lock: the aiohttp server calls the catalog through
``asyncio.to_thread``, so calls come from many threads but are short. The schema is
versioned with ``PRAGMA user_version``; other modules (admin's jobs and model versions)
keep their own tables in the same file and must not use the names ``pieces``/``records``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from dataclasses import fields
from pathlib import Path
from typing import Any

from radio.config import env_float
from radio.errors import LibraryError
from radio.library.base import PieceRecord, SourceRecord
from radio.timestamps import utc_now

# Each entry brings the schema from version i to i + 1. Append, never edit.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE pieces (
        id TEXT PRIMARY KEY,
        style TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        blob_key TEXT NOT NULL,
        composer TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        licence TEXT NOT NULL DEFAULT '',
        original_key TEXT NOT NULL DEFAULT '',
        key_source TEXT NOT NULL DEFAULT '',
        transpose INTEGER NOT NULL DEFAULT 0,
        beats INTEGER NOT NULL DEFAULT 0,
        tempo_bpm REAL NOT NULL DEFAULT 120.0,
        added_at TEXT NOT NULL DEFAULT '',
        extra TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX pieces_style ON pieces(style);
    CREATE INDEX pieces_composer ON pieces(composer);
    CREATE TABLE records (
        url TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        style TEXT NOT NULL DEFAULT '',
        composer TEXT NOT NULL DEFAULT '',
        title TEXT NOT NULL DEFAULT '',
        licence TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL DEFAULT '',
        extra TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX records_status ON records(status);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

PIECE_COLUMNS = [f.name for f in fields(PieceRecord)]
# How long a write waits for another writer's lock before it fails. Short on purpose: a
# request that finds the catalog locked answers 503 in seconds instead of hanging.
BUSY_SECONDS = 5.0


def connect(path: Path) -> sqlite3.Connection:
    """The one way every table in the catalog's file is opened (the catalog's own, the admin's
    jobs and model versions): WAL, autocommit, a bounded wait for locks, usable from threads."""
    busy = env_float("CONTINUO_DB_BUSY_SECONDS", BUSY_SECONDS, minimum=0.0)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
    return db

RECORD_COLUMNS = [f.name for f in fields(SourceRecord)]


class SqliteCatalog:
    """:class:`radio.library.base.Catalog` over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = connect(self.path)
            self._db.row_factory = sqlite3.Row
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"cannot open the catalog {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise LibraryError(
                        f"the catalog {self.path} has schema version {version}, newer than this "
                        f"program's {SCHEMA_VERSION}: upgrade continuo"
                    )
                for i in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[i].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # pieces

    def add_piece(self, piece: PieceRecord) -> bool:
        row = piece.to_dict()
        row["added_at"] = piece.added_at or utc_now()
        row["extra"] = json.dumps(piece.extra or {}, sort_keys=True)
        columns = ", ".join(PIECE_COLUMNS)
        marks = ", ".join("?" for _ in PIECE_COLUMNS)
        try:
            with self._lock:
                cursor = self._db.execute(
                    f"INSERT INTO pieces ({columns}) VALUES ({marks}) ON CONFLICT(sha256) DO NOTHING",
                    [row[c] for c in PIECE_COLUMNS],
                )
                return cursor.rowcount == 1
        except sqlite3.IntegrityError as exc:
            raise LibraryError(f"cannot add piece {piece.id} ({piece.sha256}): {exc}") from exc

    def get_piece(self, piece_id: str) -> PieceRecord | None:
        rows = self._query("SELECT * FROM pieces WHERE id = ?", (piece_id,))
        return _piece(rows[0]) if rows else None

    def find_by_sha256(self, sha256: str) -> PieceRecord | None:
        rows = self._query("SELECT * FROM pieces WHERE sha256 = ?", (sha256,))
        return _piece(rows[0]) if rows else None

    def list_pieces(self, style: str | None = None, composer: str | None = None) -> list[PieceRecord]:
        where, params = [], []
        if style is not None:
            where.append("style = ?")
            params.append(style)
        if composer is not None:
            where.append("composer = ?")
            params.append(composer)
        sql = "SELECT * FROM pieces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._query(sql + " ORDER BY style, added_at, id", params)
        return [_piece(r) for r in rows]

    def delete_piece(self, piece_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM pieces WHERE id = ?", (piece_id,)).rowcount == 1

    def styles(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT style FROM pieces ORDER BY style")]

    # metadata-only records

    def add_record(self, record: SourceRecord) -> bool:
        new = record.__dict__ | {"extra": json.dumps(record.extra or {}, sort_keys=True)}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = self._db.execute("SELECT * FROM records WHERE url = ?", (record.url,)).fetchone()
                if old is not None and all(old[c] == new[c] for c in RECORD_COLUMNS if c != "added_at"):
                    self._db.execute("COMMIT")
                    return False
                new["added_at"] = record.added_at or (old["added_at"] if old is not None else utc_now())
                columns = ", ".join(RECORD_COLUMNS)
                marks = ", ".join("?" for _ in RECORD_COLUMNS)
                self._db.execute(
                    f"INSERT OR REPLACE INTO records ({columns}) VALUES ({marks})",
                    [new[c] for c in RECORD_COLUMNS],
                )
                self._db.execute("COMMIT")
                return True
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def list_records(self, status: str | None = None) -> list[SourceRecord]:
        if status is None:
            rows = self._query("SELECT * FROM records ORDER BY added_at, url")
        else:
            rows = self._query("SELECT * FROM records WHERE status = ? ORDER BY added_at, url", (status,))
        return [SourceRecord(**(dict(r) | {"extra": json.loads(r["extra"])})) for r in rows]

    def stats(self) -> dict[str, Any]:
        styles: dict[str, dict[str, Any]] = {}
        rows = self._query("SELECT style, composer, original_key, beats FROM pieces")
        keys: dict[str, Counter] = {}
        composers: dict[str, set[str]] = {}
        for r in rows:
            entry = styles.setdefault(r["style"], {"pieces": 0, "beats": 0})
            entry["pieces"] += 1
            entry["beats"] += r["beats"]
            keys.setdefault(r["style"], Counter())[r["original_key"] or "unknown"] += 1
            if r["composer"]:
                composers.setdefault(r["style"], set()).add(r["composer"])
        for style, entry in styles.items():
            entry["keys"] = dict(keys[style].most_common())
            entry["composers"] = len(composers.get(style, ()))
        records = {r[0]: r[1] for r in self._query("SELECT status, COUNT(*) FROM records GROUP BY status ORDER BY status")}
        return {"styles": dict(sorted(styles.items())), "records": records}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _piece(row: sqlite3.Row) -> PieceRecord:
    return PieceRecord(**(dict(row) | {"extra": json.loads(row["extra"])}))

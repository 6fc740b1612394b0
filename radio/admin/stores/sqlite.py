"""The admin's tables in the catalog's SQLite file: jobs (:class:`SqliteJobStore`), model
versions and active pointers (:class:`SqliteVersionTable`), and the styles created from the
admin (:class:`SqliteStyleStore`). One connection each, guarded by a lock (they are called from
threads). MongoDB's side by side: :mod:`radio.admin.stores.mongo`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Iterator

from radio.admin.jobs import (
    ACTIVE_STATES,
    FAILED,
    HERE,
    QUEUED,
    RUNNING,
    WORKERS,
    Job,
    cancelled,
    claimed,
    lost_lease,
    released,
)
from radio.admin.version_facts import ModelVersion
from radio.errors import StyleError
from radio.library import CATALOG_FILE
from radio.library.sqlite_catalog import connect
from radio.style_file import SharedStyle
from radio.timestamps import utc_now

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    style TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_style ON jobs(style);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""
# Added for trainer workers; a table made before them gains the column on open.
TRAIN_ON_COLUMN = "ALTER TABLE jobs ADD COLUMN train_on TEXT NOT NULL DEFAULT 'here'"


VERSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    style TEXT NOT NULL,
    version TEXT NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    job_id TEXT,
    created_at TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    facts TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (style, version)
);
CREATE TABLE IF NOT EXISTS model_active (
    style TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    activated_at TEXT NOT NULL
);
"""
# Added for the admin page (header_facts); a table made before it gains the column on open.
FACTS_COLUMN = "ALTER TABLE model_versions ADD COLUMN facts TEXT NOT NULL DEFAULT '{}'"

STYLES_SCHEMA = """
CREATE TABLE IF NOT EXISTS styles (
    name TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class SqliteJobStore:
    """Jobs as JSON rows in SQLite; one connection guarded by a lock (called from threads).

    The queue operations for trainer workers run in ``BEGIN IMMEDIATE`` transactions: SQLite
    lets one writer in at a time across every process sharing the file, so a claim is atomic."""

    def __init__(self, home: Path) -> None:
        path = Path(home) / CATALOG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = connect(path)
        self._db.executescript(JOBS_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if "train_on" not in columns:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                self._db.execute(TRAIN_ON_COLUMN)

    def save(self, job: Job) -> None:
        with self._lock:
            self._write(job)

    def _write(self, job: Job) -> None:
        self._db.execute(
            "INSERT INTO jobs (id, style, state, created_at, body, train_on) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body, train_on = excluded.train_on",
            (job.id, job.style, job.state, job.created_at, json.dumps(job.to_dict()), job.train_on),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _select(self, where: str, params: tuple = ()) -> list[Job]:
        rows = self._db.execute(f"SELECT body FROM jobs WHERE {where} ORDER BY created_at, rowid", params).fetchall()
        return [Job.from_dict(json.loads(r[0])) for r in rows]

    # --- the queue for trainer workers --------------------------------------------------
    def add_if_idle(self, job: Job) -> Job | None:
        """Store ``job`` unless its style has a queued or running job; return that job if so."""
        with self._transaction():
            busy = self._select("style = ? AND state IN (?, ?)", (job.style, *ACTIVE_STATES))
            if busy:
                return busy[0]
            self._write(job)
        return None

    def active(self) -> list[Job]:
        """Every queued or running job, oldest first."""
        with self._lock:
            return self._select("state IN (?, ?)", ACTIVE_STATES)

    def claim(self, worker: str, lease_seconds: float, styles: tuple[str, ...] = ()) -> Job | None:
        """Atomically take the oldest queued worker job (of ``styles``, if given) for ``worker``."""
        with self._transaction():
            for job in self._select("state = ? AND train_on = ?", (QUEUED, WORKERS)):
                if styles and job.style not in styles:
                    continue
                claimed(job, worker, lease_seconds)
                self._write(job)
                return job
        return None

    def renew(self, job_id: str, worker: str, lease_seconds: float) -> bool:
        """Extend ``worker``'s lease; False if it no longer holds it (cancelled, or requeued)."""
        with self._transaction():
            job = self._owned(job_id, worker)
            if job is None:
                return False
            job.lease_until = time.time() + lease_seconds
            self._write(job)
        return True

    def save_if_owned(self, job: Job, worker: str, lease_seconds: float) -> bool:
        """Write ``job`` (renewing the lease) only while ``worker`` holds it; False if it does not."""
        with self._transaction():
            if self._owned(job.id, worker) is None:
                return False
            job.worker = worker
            job.lease_until = time.time() + lease_seconds if job.state == RUNNING else None
            self._write(job)
        return True

    def release(self, job_id: str, worker: str, reason: str) -> bool:
        """Put a job back in the queue because its worker is stopping; the claim does not count."""
        with self._transaction():
            job = self._owned(job_id, worker)
            if job is None:
                return False
            released(job, reason)
            self._write(job)
        return True

    def expire_leases(self, now: float | None = None) -> list[Job]:
        """Requeue (or fail) every running worker job whose lease has run out."""
        now = time.time() if now is None else now
        changed = []
        with self._transaction():
            for job in self._select("state = ? AND train_on = ?", (RUNNING, WORKERS)):
                if job.lease_until is not None and job.lease_until < now:
                    lost_lease(job, now)
                    self._write(job)
                    changed.append(job)
        return changed

    def cancel(self, job_id: str, reason: str) -> Job | None:
        """Cancel a queued or running job; None if it is not active. A worker training it
        finds out at its next lease renewal and stops its trainer."""
        with self._transaction():
            jobs = self._select("id = ? AND state IN (?, ?)", (job_id, *ACTIVE_STATES))
            if not jobs:
                return None
            job = jobs[0]
            cancelled(job, reason)
            self._write(job)
        return job

    def _owned(self, job_id: str, worker: str) -> Job | None:
        jobs = self._select("id = ? AND state = ?", (job_id, RUNNING))
        return jobs[0] if jobs and jobs[0].worker == worker else None

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_dict(json.loads(row[0])) if row else None

    def list(self, style: str | None = None, limit: int = 100) -> list[Job]:
        sql, params = "SELECT body FROM jobs", []
        if style:
            sql, params = sql + " WHERE style = ?", [style]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*params, limit]).fetchall()
        return [Job.from_dict(json.loads(r[0])) for r in rows]

    def fail_interrupted(self, reason: str) -> list[Job]:
        """Mark every queued or running job of the server's own runner failed (the process that
        ran it is gone). Jobs for trainer workers are left to the workers and their leases."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM jobs WHERE state IN (?, ?) AND train_on = ?", (*ACTIVE_STATES, HERE)
            ).fetchall()
        failed = []
        for row in rows:
            job = Job.from_dict(json.loads(row[0]))
            job.error = f"{reason} (the job was {job.state})"
            job.state = FAILED
            job.finished_at = utc_now()
            self.save(job)
            failed.append(job)
        return failed

    def close(self) -> None:
        with self._lock:
            self._db.close()



class SqliteVersionTable:
    """The version rows and active pointers in the catalog's SQLite file."""

    def __init__(self, home: Path) -> None:
        self._lock = threading.Lock()
        self._db = connect(Path(home) / CATALOG_FILE)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(VERSIONS_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(model_versions)")}
        if "facts" not in columns:  # a table made before the facts column gains it on open
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it meanwhile
                self._db.execute(FACTS_COLUMN)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, v: ModelVersion) -> None:
        """Record a version; a version already recorded is left as it is."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO model_versions (style, version, path, source, job_id, created_at, metrics, facts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (v.style, v.version, v.path, v.source, v.job_id, v.created_at, json.dumps(v.metrics), json.dumps(v.facts)),
            )

    def trained(self, style: str) -> list[ModelVersion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM model_versions WHERE style = ? ORDER BY created_at, rowid", (style,)
            ).fetchall()
        return [
            ModelVersion(r["style"], r["version"], r["path"], r["source"], r["created_at"], r["job_id"],
                         json.loads(r["metrics"]), facts=json.loads(r["facts"] or "{}"))
            for r in rows
        ]

    def active_version(self, style: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT version FROM model_active WHERE style = ?", (style,)).fetchone()
        return row[0] if row else None

    def styles_with_active(self) -> dict[str, str]:
        with self._lock:
            rows = self._db.execute("SELECT style, version FROM model_active").fetchall()
        return {r[0]: r[1] for r in rows}

    def set_active(self, style: str, version: str | None) -> None:
        """Point ``style`` at ``version``; None points it back at the bundled model."""
        with self._lock:
            if version is None:
                self._db.execute("DELETE FROM model_active WHERE style = ?", (style,))
            else:
                self._db.execute(
                    "INSERT INTO model_active (style, version, activated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(style) DO UPDATE SET version = excluded.version, activated_at = excluded.activated_at",
                    (style, version, utc_now()),
                )


class SqliteStyleStore:
    """:class:`radio.style_file.StyleStore` in the catalog's SQLite file: one row per style
    created from the admin, its ``style.toml`` text and a revision bumped by every write."""

    def __init__(self, home: Path) -> None:
        self._lock = threading.Lock()
        self._db = connect(Path(home) / CATALOG_FILE)
        self._db.executescript(STYLES_SCHEMA)

    def put(self, name: str, text: str, *, new: bool = False) -> int | None:
        with self._lock:
            if new:
                row = self._db.execute(
                    "INSERT INTO styles (name, text, revision, updated_at) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT(name) DO NOTHING RETURNING revision", (name, text, utc_now())).fetchone()
            else:
                row = self._db.execute(
                    "INSERT INTO styles (name, text, revision, updated_at) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT(name) DO UPDATE SET text = excluded.text, revision = styles.revision + 1, "
                    "updated_at = excluded.updated_at RETURNING revision", (name, text, utc_now())).fetchone()
        return int(row[0]) if row else None

    def revisions(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT name, revision FROM styles").fetchall()
        return {str(name): revision if isinstance(revision, int) else -1 for name, revision in rows}

    def get(self, name: str) -> SharedStyle | None:
        with self._lock:
            row = self._db.execute("SELECT name, text, revision, updated_at FROM styles WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        if not isinstance(row[1], str) or not isinstance(row[2], int):
            raise StyleError(f"the shared style record {name!r} in {CATALOG_FILE} is malformed "
                             f"(text {type(row[1]).__name__}, revision {row[2]!r})")
        return SharedStyle(row[0], row[1], row[2], str(row[3]))

    def close(self) -> None:
        with self._lock:
            self._db.close()

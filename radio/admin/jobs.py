"""Training jobs and their persistence.

Jobs live in their own table of the catalog's SQLite file (``<home>/catalog.sqlite3``),
so they survive a restart. A job that was queued or running when the server stopped
is marked failed on the next start, with the reason, instead of staying "running".
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from radio.library.base import utc_now

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
ACTIVE_STATES = (QUEUED, RUNNING)
FINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)
LOG_TAIL_LINES = 40
DB_FILE = "catalog.sqlite3"

SCHEMA = """
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


@dataclass
class Job:
    id: str
    style: str
    state: str = QUEUED
    progress: float = 0.0
    epoch: int = 0
    epochs: int | None = None
    loss: float | None = None
    val_loss: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # one entry per epoch event
    options: dict[str, Any] = field(default_factory=dict)  # what the request asked for
    model_kind: str | None = None
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)  # the trainer's last stderr lines
    metrics: dict[str, Any] | None = None
    model_version: str | None = None  # the version the job registered
    activated: bool = False
    activation_reason: str | None = None
    pid: int | None = None  # the trainer's process (group) id while it runs
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None

    @classmethod
    def new(cls, style: str, options: dict[str, Any]) -> "Job":
        return cls(id=uuid.uuid4().hex[:12], style=style, options=dict(options))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def add_log(self, line: str) -> None:
        self.log_tail.append(line.rstrip()[:500])
        del self.log_tail[:-LOG_TAIL_LINES]

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class JobStore:
    """Jobs as JSON rows in SQLite; one connection guarded by a lock (called from threads)."""

    def __init__(self, home: Path) -> None:
        path = Path(home) / DB_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def save(self, job: Job) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, style, state, created_at, body) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body",
                (job.id, job.style, job.state, job.created_at, json.dumps(job.to_dict())),
            )

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
        """Mark every queued or running job failed (the process that ran it is gone)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM jobs WHERE state IN (?, ?)", ACTIVE_STATES
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

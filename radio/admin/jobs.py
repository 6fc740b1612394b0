"""Training jobs: the record, its states and the rules that move it between them.

Jobs persist in a :class:`JobStore`: their own table of the catalog's SQLite file
(``<home>/catalog.sqlite3``), or MongoDB when ``CONTINUO_MONGODB_URI`` is set
(:mod:`radio.admin.stores`), so they survive a restart. A job the server trains itself (``train_on == "here"``) that was queued or running
when the server stopped is marked failed on the next start, with the reason, instead of
staying "running".

A job for trainer workers (``train_on == "workers"``) waits in the store until a
``continuo worker`` claims it. The claim is atomic (one worker wins) and comes with a lease
that the worker renews while it trains; the worker can write the job only while it holds the
lease. A worker that dies stops renewing: once its lease has run out, any node requeues the
job (or marks it failed with the reason after ``max_attempts`` claims). Lease times are wall
clock seconds, so the machines' clocks must agree to well within a lease (NTP does).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Protocol

from radio.timestamps import utc_now

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
ACTIVE_STATES = (QUEUED, RUNNING)
FINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)
LOG_TAIL_LINES = 40
HERE, WORKERS = "here", "workers"
TRAIN_ON = (HERE, WORKERS)
DEFAULT_MAX_ATTEMPTS = 3

# What TensorFlow, absl and Python's warnings machinery print while the trainer starts up.
# An admin reading a job's log wants the training's own lines (epochs, losses, its errors);
# these are dropped from the log tail (the server's own log still shows the trainer's
# command and its failures).
FRAMEWORK_NOISE = re.compile(
    r"^WARNING: All log messages before absl::InitializeLog"
    r"|^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w./-]+:\d+\]"  # absl/glog: I0000 00:00:17.2 8591 port.cc:153]
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] (tensorflow|external|xla)/"  # older TensorFlow
    r"|oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized|To enable the following instructions|rebuild TensorFlow with"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|Could not find cuda drivers|TF-TRT Warning"
    r"|^\s*warnings\.warn\(|/site-packages/.*Warning:"
)
# An absolute filesystem path of at least two parts (not a URL's path): reduced to its last part,
# so that no server path reaches the page.
SERVER_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"`:,;()\[\]]+/)+([^\s/'\"`:,;()\[\]]*)")


def is_framework_noise(line: str) -> bool:
    return bool(FRAMEWORK_NOISE.search(line))


def hide_paths(text: str | None) -> str | None:
    """``text`` with every absolute server path cut down to its file name."""
    if not text:
        return text
    return SERVER_PATH.sub(lambda m: m.group(1) or "…", text)

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
    # Where training starts (radio.admin.starts): {"requested", "from": "active"|"base"|"scratch",
    # "version", "label", "passed_over", "compare_with"}; planned at submit, final once it runs.
    start: dict[str, Any] | None = None
    model_kind: str | None = None
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)  # the trainer's last stderr lines
    metrics: dict[str, Any] | None = None
    model_version: str | None = None  # the version the job registered
    activated: bool = False
    activation_reason: str | None = None
    # How training ended, from the model's header: "early stopping", "time budget" or "epochs".
    stopped_by: str | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None  # the epoch whose weights were kept (early stopping restores them)
    pid: int | None = None  # the trainer's process (group) id while it runs
    created_at: str = field(default_factory=utc_now)
    started_at: str | None = None
    finished_at: str | None = None
    train_on: str = HERE  # HERE: the server's own runner; WORKERS: a `continuo worker` claims it
    worker: str | None = None  # the worker holding the lease
    lease_until: float | None = None  # wall-clock time (epoch seconds) the lease runs out
    attempts: int = 0  # times a worker claimed it
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # claims before a lost lease fails the job
    style_spec: str | None = None  # style.toml text, for a style that exists only on the server

    @classmethod
    def new(cls, style: str, options: dict[str, Any]) -> "Job":
        return cls(id=uuid.uuid4().hex[:12], style=style, options=dict(options))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error"] = hide_paths(self.error)  # trainer errors may name files on the server
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Job":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def note_training(self, facts: dict[str, Any], metrics: dict[str, Any] | None) -> None:
        """How training ended, from the registered version's header facts (see
        radio.admin.versions.header_facts): the page explains an early stop with these."""
        self.stopped_by, self.best_epoch = facts.get("stopped_by"), facts.get("best_epoch")
        self.epochs_run = facts.get("epochs_run") or (metrics or {}).get("epochs_run") or self.epoch

    def add_log(self, line: str) -> None:
        if is_framework_noise(line):
            return
        self.log_tail.append(hide_paths(line.rstrip()[:500]) or "")
        del self.log_tail[:-LOG_TAIL_LINES]

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class JobWatchers:
    """The pages following jobs: each watcher is a queue that receives the job's dict after
    every change, until the page leaves.

    The in-process runner and the worker queue learn of changes differently (as they make them;
    by polling the shared store) but tell their watchers the same way. A snapshot equal to the
    last one a job's watchers got is not sent again, so a poller may send whatever it reads.
    """

    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue]] = {}
        self._last_sent: dict[str, dict[str, Any]] = {}

    def watch(self, job_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._watchers.setdefault(job_id, set()).add(queue)
        return queue

    def unwatch(self, job_id: str, queue: asyncio.Queue) -> None:
        queues = self._watchers.get(job_id, set())
        queues.discard(queue)
        if not queues:
            self._watchers.pop(job_id, None)
            self._last_sent.pop(job_id, None)

    def watched(self) -> list[str]:
        return list(self._watchers)

    def tell_watchers(self, job: Job) -> None:
        if job.id not in self._watchers:
            return
        snapshot = job.to_dict()
        if self._last_sent.get(job.id) == snapshot:
            return
        self._last_sent[job.id] = snapshot
        for queue in list(self._watchers[job.id]):
            queue.put_nowait(snapshot)


class JobStore(Protocol):
    """Where jobs persist: :class:`radio.admin.stores.sqlite.SqliteJobStore` or
    :class:`radio.admin.stores.mongo.MongoJobStore` (:func:`radio.admin.stores.open_job_store`).
    Called from threads (``in_store_thread``); both decide with the functions below."""

    # --- what the in-process runner uses
    def save(self, job: Job) -> None: ...
    def get(self, job_id: str) -> Job | None: ...
    def list(self, style: str | None = None, limit: int = 100) -> list[Job]: ...
    def fail_interrupted(self, reason: str) -> list[Job]: ...
    def close(self) -> None: ...

    # --- the queue for trainer workers (each atomic: one worker wins a claim)
    def add_if_idle(self, job: Job) -> Job | None: ...
    def active(self) -> list[Job]: ...
    def claim(self, worker: str, lease_seconds: float, styles: tuple[str, ...] = ()) -> Job | None: ...
    def renew(self, job_id: str, worker: str, lease_seconds: float) -> bool: ...
    def save_if_owned(self, job: Job, worker: str, lease_seconds: float) -> bool: ...
    def release(self, job_id: str, worker: str, reason: str) -> bool: ...
    def expire_leases(self, now: float | None = None) -> list[Job]: ...
    def cancel(self, job_id: str, reason: str) -> Job | None: ...


def lost_lease(job: Job, now: float) -> str:
    """Requeue or fail a job whose worker's lease ran out (the caller stores it); return what happened."""
    when = datetime.fromtimestamp(job.lease_until or now, timezone.utc).isoformat(timespec="seconds")
    why = f"worker {job.worker} stopped renewing its lease (it ran out at {when})"
    job.worker, job.lease_until, job.pid = None, None, None
    if job.attempts < job.max_attempts:
        job.state, job.error = QUEUED, f"{why}; queued again for attempt {job.attempts + 1} of {job.max_attempts}"
        job.started_at = None
    else:
        job.state, job.error, job.finished_at = FAILED, f"{why}; gave up after {job.attempts} attempts", utc_now()
    job.add_log(job.error)
    return job.state


# The state changes of the worker queue, shared by the SQLite and MongoDB stores.
def claimed(job: Job, worker: str, lease_seconds: float) -> None:
    job.state, job.worker = RUNNING, worker
    job.lease_until = time.time() + lease_seconds
    job.attempts += 1
    job.started_at, job.error, job.pid = utc_now(), None, None
    # A retry starts from scratch: the lost attempt's progress must not mix with this one's.
    job.progress, job.epoch, job.history, job.loss, job.val_loss = 0.0, 0, [], None, None
    job.add_log(f"claimed by worker {worker} (attempt {job.attempts} of {job.max_attempts})")


def released(job: Job, reason: str) -> None:
    job.add_log(f"worker {job.worker} gave the job back: {reason}")
    job.state, job.worker, job.lease_until, job.pid, job.started_at = QUEUED, None, None, None, None
    job.attempts = max(0, job.attempts - 1)


def cancelled(job: Job, reason: str) -> None:
    job.state, job.error, job.finished_at = CANCELLED, reason, utc_now()
    job.lease_until = None

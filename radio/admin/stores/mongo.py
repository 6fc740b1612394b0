"""The admin's jobs and model versions in MongoDB (chosen by ``CONTINUO_MONGODB_URI``).

They share the process's :class:`radio.library.mongo.MongoConnection` with the catalog.

Jobs: one document per job, its fields flat, ``_id`` = the job id, plus two fields of our own:
``active`` (queued or running), on which a partial unique index on ``style`` keeps one active
job per style even with several radio nodes, and ``rev``, bumped by every write. Every queue
operation (claim, renew, a worker's save, requeue, cancel) is a compare-and-swap on ``rev``: it
reads the job, decides in Python with the same functions the SQLite store uses, and writes only
if nobody wrote in between; otherwise it reads again. So exactly one worker wins a claim.

Versions: ``model_versions`` (``_id`` = ``<style>/<version>``; its metrics and its model header's
``facts``, so a node shows them before it has fetched the file) and ``model_active``
(``_id`` = the style; no document means the bundled model is active).

Styles created from the admin: ``styles`` (``_id`` = the style's name; ``text``, its
``style.toml``; ``revision``, bumped by every write with ``$inc``, which is what nodes poll).
"""

from __future__ import annotations

import time
from typing import Any, Callable

from radio.admin.errors import Conflict
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
from radio.errors import LibraryError, StyleError
from radio.library.mongo import MongoStore
from radio.style_file import SharedStyle
from radio.timestamps import utc_now

CAS_TRIES = 20  # a compare-and-swap that loses this often in a row is a bug, not contention
OWN_FIELDS = ("_id", "active", "rev", "inserted")


def job_doc(job: Job) -> dict[str, Any]:
    doc = job.to_dict()
    doc["active"] = job.state in ACTIVE_STATES
    return doc


def job_from(doc: dict[str, Any]) -> Job:
    return Job.from_dict({k: v for k, v in doc.items() if k not in OWN_FIELDS})


class MongoJobStore(MongoStore):
    """The same operations as :class:`radio.admin.stores.sqlite.SqliteJobStore`, over the ``jobs`` collection."""

    async def create_indexes(self) -> None:
        jobs = self.db.jobs
        await jobs.create_index([("state", 1), ("train_on", 1), ("created_at", 1)], name="queue")
        await jobs.create_index([("style", 1), ("created_at", -1)], name="style")
        await jobs.create_index([("created_at", -1), ("inserted", -1)], name="newest")
        await jobs.create_index([("style", 1)], name="one_active_job_per_style", unique=True,
                                partialFilterExpression={"active": True})

    # --- what the in-process runner uses -------------------------------------------------
    def save(self, job: Job) -> None:
        self.run(self._save, job)

    async def _save(self, job: Job) -> None:
        from pymongo.errors import DuplicateKeyError

        try:
            await self.db.jobs.update_one(
                {"_id": job.id},
                {"$set": job_doc(job), "$inc": {"rev": 1}, "$setOnInsert": {"inserted": time.time()}},
                upsert=True,
            )
        except DuplicateKeyError:
            # Another node queued one first: the admin's 409, not "the catalog is unavailable".
            raise Conflict(f"style {job.style!r} already has a queued or running job; cancel it or wait") from None

    def get(self, job_id: str) -> Job | None:
        return self.run(self._get, job_id)

    async def _get(self, job_id: str) -> Job | None:
        doc = await self.db.jobs.find_one({"_id": job_id})
        return job_from(doc) if doc else None

    def list(self, style: str | None = None, limit: int = 100) -> list[Job]:
        return self.run(self._list, style, limit)

    async def _list(self, style: str | None, limit: int) -> list[Job]:
        cursor = self.db.jobs.find({"style": style} if style else {})
        cursor = cursor.sort([("created_at", -1), ("inserted", -1)]).limit(limit)
        return [job_from(doc) async for doc in cursor]

    def fail_interrupted(self, reason: str) -> list[Job]:
        return self.run(self._fail_interrupted, reason)

    async def _fail_interrupted(self, reason: str) -> list[Job]:
        def fail(job: Job) -> bool:
            job.error = f"{reason} (the job was {job.state})"
            job.state, job.finished_at = FAILED, utc_now()
            return True

        return await self._update_each({"active": True, "train_on": HERE}, fail)

    # --- the queue for trainer workers ------------------------------------------------------
    def add_if_idle(self, job: Job) -> Job | None:
        return self.run(self._add_if_idle, job)

    async def _add_if_idle(self, job: Job) -> Job | None:
        from pymongo.errors import DuplicateKeyError

        doc = {**job_doc(job), "_id": job.id, "rev": 1, "inserted": time.time()}
        for _ in range(CAS_TRIES):
            try:
                await self.db.jobs.insert_one(doc)
                return None
            except DuplicateKeyError:
                busy = await self.db.jobs.find_one({"style": job.style, "active": True})
                if busy is not None:
                    return job_from(busy)
                # The busy job finished between the insert and the look-up: try again.
        raise LibraryError(f"cannot queue a job for {job.style!r}: the jobs collection keeps changing")

    def active(self) -> list[Job]:
        return self.run(self._active)

    async def _active(self) -> list[Job]:
        cursor = self.db.jobs.find({"active": True}).sort([("created_at", 1), ("inserted", 1)])
        return [job_from(doc) async for doc in cursor]

    def claim(self, worker: str, lease_seconds: float, styles: tuple[str, ...] = ()) -> Job | None:
        return self.run(self._claim, worker, lease_seconds, tuple(styles))

    async def _claim(self, worker: str, lease_seconds: float, styles: tuple[str, ...]) -> Job | None:
        query: dict[str, Any] = {"state": QUEUED, "train_on": WORKERS}
        if styles:
            query["style"] = {"$in": list(styles)}
        for _ in range(CAS_TRIES):
            doc = await self.db.jobs.find_one(query, sort=[("created_at", 1), ("inserted", 1)])
            if doc is None:
                return None
            job = job_from(doc)
            claimed(job, worker, lease_seconds)
            if await self._swap(doc, job):
                return job
            # Another worker took it first: look for the next one.
        return None

    def renew(self, job_id: str, worker: str, lease_seconds: float) -> bool:
        return self.run(self._renew, job_id, worker, lease_seconds)

    async def _renew(self, job_id: str, worker: str, lease_seconds: float) -> bool:
        for _ in range(CAS_TRIES):
            doc = await self.db.jobs.find_one({"_id": job_id, "state": RUNNING, "worker": worker})
            if doc is None:
                return False
            job = job_from(doc)
            job.lease_until = time.time() + lease_seconds
            if await self._swap(doc, job):
                return True
        return False

    def save_if_owned(self, job: Job, worker: str, lease_seconds: float) -> bool:
        return self.run(self._save_if_owned, job, worker, lease_seconds)

    async def _save_if_owned(self, job: Job, worker: str, lease_seconds: float) -> bool:
        for _ in range(CAS_TRIES):
            doc = await self.db.jobs.find_one({"_id": job.id, "state": RUNNING, "worker": worker})
            if doc is None:
                return False
            job.worker = worker
            job.lease_until = time.time() + lease_seconds if job.state == RUNNING else None
            if await self._swap(doc, job):
                return True
        return False

    def release(self, job_id: str, worker: str, reason: str) -> bool:
        return self.run(self._release, job_id, worker, reason)

    async def _release(self, job_id: str, worker: str, reason: str) -> bool:
        def give_back(job: Job) -> bool:
            released(job, reason)
            return True

        return bool(await self._update_each({"_id": job_id, "state": RUNNING, "worker": worker}, give_back))

    def expire_leases(self, now: float | None = None) -> list[Job]:
        return self.run(self._expire_leases, time.time() if now is None else now)

    async def _expire_leases(self, now: float) -> list[Job]:
        def expire(job: Job) -> bool:
            if job.lease_until is None or job.lease_until >= now:
                return False  # renewed meanwhile
            lost_lease(job, now)
            return True

        query = {"state": RUNNING, "train_on": WORKERS, "lease_until": {"$lt": now}}
        return await self._update_each(query, expire)

    def cancel(self, job_id: str, reason: str) -> Job | None:
        return self.run(self._cancel, job_id, reason)

    async def _cancel(self, job_id: str, reason: str) -> Job | None:
        def cancel(job: Job) -> bool:
            cancelled(job, reason)
            return True

        changed = await self._update_each({"_id": job_id, "active": True}, cancel)
        return changed[0] if changed else None

    # --- compare-and-swap ----------------------------------------------------------------
    async def _swap(self, doc: dict[str, Any], job: Job) -> bool:
        """Write ``job`` over ``doc`` if nobody has written the document since it was read."""
        result = await self.db.jobs.update_one(
            {"_id": doc["_id"], "rev": doc.get("rev")},
            {"$set": job_doc(job), "$inc": {"rev": 1}},
        )
        return result.modified_count == 1

    async def _update_each(self, query: dict[str, Any], change: Callable[[Job], bool]) -> list[Job]:
        """Apply ``change`` to every job matching ``query``, each by compare-and-swap."""
        changed = []
        ids = [doc["_id"] async for doc in self.db.jobs.find(query, {"_id": 1})]  # before changing any
        for job_id in ids:
            for _ in range(CAS_TRIES):
                current = await self.db.jobs.find_one({**query, "_id": job_id})
                if current is None:
                    break  # no longer matches
                job = job_from(current)
                if not change(job):
                    break
                if await self._swap(current, job):
                    changed.append(job)
                    break
        return changed


class MongoVersionTable(MongoStore):
    """The same operations as :class:`radio.admin.stores.sqlite.SqliteVersionTable`."""

    async def create_indexes(self) -> None:
        await self.db.model_versions.create_index([("style", 1), ("created_at", 1)], name="style")

    def insert(self, v: ModelVersion) -> None:
        self.run(self._insert, v)

    async def _insert(self, v: ModelVersion) -> None:
        doc = {"style": v.style, "version": v.version, "source": v.source, "job_id": v.job_id,
               "created_at": v.created_at, "metrics": dict(v.metrics or {}), "facts": dict(v.facts or {}), "inserted": time.time()}
        await self.db.model_versions.update_one({"_id": f"{v.style}/{v.version}"}, {"$setOnInsert": doc}, upsert=True)

    def trained(self, style: str) -> list[ModelVersion]:
        return self.run(self._trained, style)

    async def _trained(self, style: str) -> list[ModelVersion]:
        cursor = self.db.model_versions.find({"style": style}).sort([("created_at", 1), ("inserted", 1)])
        # The path is filled in by the registry: each node keeps its own copy of the file.
        return [ModelVersion(d["style"], d["version"], "", d["source"], d["created_at"], d.get("job_id"),
                             dict(d.get("metrics") or {}), facts=dict(d.get("facts") or {})) async for d in cursor]

    def active_version(self, style: str) -> str | None:
        return self.run(self._active_version, style)

    async def _active_version(self, style: str) -> str | None:
        doc = await self.db.model_active.find_one({"_id": style})
        return doc["version"] if doc else None

    def styles_with_active(self) -> dict[str, str]:
        return self.run(self._styles_with_active)

    async def _styles_with_active(self) -> dict[str, str]:
        return {d["_id"]: d["version"] async for d in self.db.model_active.find({})}

    def set_active(self, style: str, version: str | None) -> None:
        self.run(self._set_active, style, version)

    async def _set_active(self, style: str, version: str | None) -> None:
        if version is None:
            await self.db.model_active.delete_one({"_id": style})
        else:
            await self.db.model_active.replace_one(
                {"_id": style}, {"version": version, "activated_at": utc_now()}, upsert=True
            )


class MongoStyleStore(MongoStore):
    """The same operations as :class:`radio.admin.stores.sqlite.SqliteStyleStore`."""

    def put(self, name: str, text: str, *, new: bool = False) -> int | None:
        return self.run(self._put, name, text, new)

    async def _put(self, name: str, text: str, new: bool) -> int | None:
        from pymongo import ReturnDocument
        from pymongo.errors import DuplicateKeyError

        if new:
            try:
                await self.db.styles.insert_one({"_id": name, "text": text, "revision": 1, "updated_at": utc_now()})
            except DuplicateKeyError:
                return None
            return 1
        doc = await self.db.styles.find_one_and_update(
            {"_id": name}, {"$set": {"text": text, "updated_at": utc_now()}, "$inc": {"revision": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return int(doc["revision"])

    def revisions(self) -> dict[str, int]:
        return self.run(self._revisions)

    async def _revisions(self) -> dict[str, int]:
        return {str(d["_id"]): d["revision"] if isinstance(d.get("revision"), int) else -1
                async for d in self.db.styles.find({}, {"revision": 1})}

    def get(self, name: str) -> SharedStyle | None:
        return self.run(self._get, name)

    async def _get(self, name: str) -> SharedStyle | None:
        doc = await self.db.styles.find_one({"_id": name})
        if doc is None:
            return None
        text, revision = doc.get("text"), doc.get("revision")
        if not isinstance(text, str) or not isinstance(revision, int):
            raise StyleError(f"the shared style record {name!r} in MongoDB's styles collection is malformed "
                             f"(text {type(text).__name__}, revision {revision!r})")
        return SharedStyle(name, text, revision, str(doc.get("updated_at", "")))

"""The shared catalog: pieces and scrape records in MongoDB, through PyMongo's own async API.

``pymongo.AsyncMongoClient`` (PyMongo ≥ 4.13; Motor is deprecated and past its end of life)
is bound to the event loop it runs on. The library's interfaces are synchronous (the CLI calls
them directly, the server through ``asyncio.to_thread``), so each process runs one client on one
event loop in a daemon thread, :class:`MongoConnection`, and every call is a coroutine handed
to that loop. The catalog, the job store and the version table of a process share it.

Timeouts: ``serverSelectionTimeoutMS`` bounds the wait for an unreachable server, and
``timeoutMS`` bounds every operation (PyMongo sends it to the server as ``maxTimeMS``, so a
slow query is stopped there too). The calling thread's own wait is bounded as well
(:class:`LoopThread`, ``timeoutMS`` plus a margin): whatever stalls on the connection's loop,
the caller gets a :class:`LibraryError` and its thread back, and the operation is cancelled.
The server calls the stores from its own small executor (radio/library/store_threads.py), so
a stalled MongoDB never holds the threads that build MIDI files and blends. An unreachable
server is a :class:`LibraryError` naming the URI without its password.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import Counter
from dataclasses import fields
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import parse_qsl, urlsplit

from radio.errors import LibraryError
from radio.library.storage_config import DEFAULT_MONGODB_TIMEOUT_MS, redact_uri
from radio.library.base import PieceRecord, SourceRecord
from radio.timestamps import utc_now

T = TypeVar("T")
DEFAULT_DATABASE = "continuo"
SERVER_SELECTION_MS = 5_000
CONNECT_MS = 5_000
PIECE_FIELDS = [f.name for f in fields(PieceRecord)]
RECORD_FIELDS = [f.name for f in fields(SourceRecord)]

_connections: dict[tuple[str, int], "MongoConnection"] = {}
_connections_lock = threading.Lock()


WAIT_MARGIN_S = 5.0  # beyond timeoutMS, which PyMongo should have enforced by then


class LoopThread:
    """An event loop in a daemon thread, and a bounded wait for what it runs: the bridge between
    the stores' synchronous calls and PyMongo's asynchronous client."""

    def __init__(self, name: str, wait_seconds: float, what: str) -> None:
        self.wait_seconds = wait_seconds
        self.what = what  # named in the timeout's message ("MongoDB at mongodb://host")
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], wait_seconds: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it, at most ``wait_seconds`` (default: the
        bridge's); past that the operation is cancelled and LibraryError raised."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        limit = self.wait_seconds if wait_seconds is None else wait_seconds
        try:
            return future.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise LibraryError(f"{self.what} did not answer within {limit:g} s; the operation was cancelled") from None

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class MongoConnection:
    """One AsyncMongoClient on its own event-loop thread, shared by a process's Mongo stores."""

    def __init__(self, uri: str, timeout_ms: int = DEFAULT_MONGODB_TIMEOUT_MS) -> None:
        self.uri = uri
        self.safe_uri = redact_uri(uri)
        self.timeout_ms = timeout_ms
        self._password = urlsplit(uri).password
        self._users = 0
        self._bridge = LoopThread("continuo-mongodb", timeout_ms / 1000 + WAIT_MARGIN_S, f"MongoDB at {self.safe_uri}")
        self._loop = self._bridge.loop
        try:
            self.client, self.db = self.run(self._connect())
        except BaseException:
            self._stop_loop()
            raise

    async def _connect(self) -> tuple[Any, Any]:
        import pymongo
        from pymongo import AsyncMongoClient

        given = {key.lower(): value for key, value in parse_qsl(urlsplit(self.uri).query)}
        options: dict[str, Any] = {"appname": "continuo"}
        # Options written in the URI win over our defaults.
        if "serverselectiontimeoutms" not in given:
            options["serverSelectionTimeoutMS"] = SERVER_SELECTION_MS
        if "connecttimeoutms" not in given:
            options["connectTimeoutMS"] = CONNECT_MS
        if "timeoutms" not in given:
            options["timeoutMS"] = self.timeout_ms
        client = AsyncMongoClient(self.uri, **options)
        db = client.get_default_database(default=DEFAULT_DATABASE)
        try:
            # Fail now, clearly, rather than at the first query; timeoutMS would otherwise
            # stretch the wait for an unreachable server to the whole operation budget.
            selection_ms = float(given.get("serverselectiontimeoutms") or SERVER_SELECTION_MS)
            with pymongo.timeout(selection_ms / 1000):
                await db.command("ping")
        except BaseException:
            await client.close()
            raise
        return client, db

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the connection's loop and wait for it; PyMongo errors become LibraryErrors."""
        from pymongo.errors import ConnectionFailure, PyMongoError

        try:
            return self._bridge.run(coro)
        except ConnectionFailure as exc:  # includes ServerSelectionTimeoutError and network timeouts
            raise LibraryError(
                f"cannot reach MongoDB at {self.safe_uri}: {self._scrub(exc)} "
                "(check CONTINUO_MONGODB_URI and that the server is up)"
            ) from None
        except PyMongoError as exc:
            raise LibraryError(f"MongoDB at {self.safe_uri} refused the operation: {self._scrub(exc)}") from None

    def _scrub(self, exc: BaseException) -> str:
        # A server-selection error appends the whole topology description: keep the cause.
        text = str(exc).split(", Timeout:")[0]
        return text.replace(self._password, "***") if self._password else text

    def _stop_loop(self) -> None:
        self._bridge.stop()

    def close(self) -> None:
        try:
            self._bridge.run(self.client.close(), 5)
        finally:
            self._stop_loop()


def connect(uri: str, timeout_ms: int = DEFAULT_MONGODB_TIMEOUT_MS) -> MongoConnection:
    """The process's connection to ``uri`` (opened on first use); give it back with :func:`release`."""
    with _connections_lock:
        conn = _connections.get((uri, timeout_ms))
        if conn is None:
            conn = _connections[(uri, timeout_ms)] = MongoConnection(uri, timeout_ms)
        conn._users += 1
        return conn


def release(conn: MongoConnection) -> None:
    with _connections_lock:
        conn._users -= 1
        if conn._users > 0:
            return
        _connections.pop((conn.uri, conn.timeout_ms), None)
    conn.close()


class MongoStore:
    """Base of every Mongo-backed store: the shared connection and index set-up."""

    def __init__(self, uri: str, *, timeout_ms: int = DEFAULT_MONGODB_TIMEOUT_MS) -> None:
        self.conn = connect(uri, timeout_ms)
        self.db = self.conn.db
        try:
            self.conn.run(self.create_indexes())
        except BaseException:
            release(self.conn)
            raise
        self._closed = False

    async def create_indexes(self) -> None:
        """Create this store's indexes (idempotent: the server ignores one that exists)."""

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        if self._closed:
            raise LibraryError(f"the MongoDB store at {self.conn.safe_uri} is closed")
        return self.conn.run(fn(*args))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self.conn)


class MongoCatalog(MongoStore):
    """:class:`radio.library.base.Catalog` in two collections, ``pieces`` and ``records``.

    A piece's ``_id`` is its id; ``sha256`` has a unique index, so two writers adding the same
    bytes at once cannot both succeed. A record's ``_id`` is its URL."""

    async def create_indexes(self) -> None:
        from pymongo import ASCENDING

        pieces = self.db.pieces
        await pieces.create_index([("sha256", ASCENDING)], unique=True, name="sha256_unique")
        await pieces.create_index([("style", ASCENDING), ("added_at", ASCENDING)], name="style")
        await pieces.create_index([("composer", ASCENDING)], name="composer")
        await self.db.records.create_index([("status", ASCENDING), ("added_at", ASCENDING)], name="status")

    # pieces

    def add_piece(self, piece: PieceRecord) -> bool:
        return self.run(self._add_piece, piece)

    async def _add_piece(self, piece: PieceRecord) -> bool:
        from pymongo.errors import DuplicateKeyError

        doc = piece_doc(piece)
        doc["added_at"] = piece.added_at or utc_now()
        try:
            await self.db.pieces.insert_one(doc)
            return True
        except DuplicateKeyError:
            if await self.db.pieces.find_one({"sha256": piece.sha256}, {"_id": 1}) is not None:
                return False  # the same bytes are already a piece: change nothing
            raise LibraryError(
                f"cannot add piece {piece.id} ({piece.sha256}): another piece has the id {piece.id}"
            ) from None

    def get_piece(self, piece_id: str) -> PieceRecord | None:
        return self.run(self._find_piece, {"_id": piece_id})

    def find_by_sha256(self, sha256: str) -> PieceRecord | None:
        return self.run(self._find_piece, {"sha256": sha256})

    async def _find_piece(self, query: dict[str, Any]) -> PieceRecord | None:
        doc = await self.db.pieces.find_one(query)
        return piece_from(doc) if doc else None

    def list_pieces(self, style: str | None = None, composer: str | None = None) -> list[PieceRecord]:
        query: dict[str, Any] = {}
        if style is not None:
            query["style"] = style
        if composer is not None:
            query["composer"] = composer
        return self.run(self._list_pieces, query)

    async def _list_pieces(self, query: dict[str, Any]) -> list[PieceRecord]:
        cursor = self.db.pieces.find(query).sort([("style", 1), ("added_at", 1), ("_id", 1)])
        return [piece_from(doc) async for doc in cursor]

    def delete_piece(self, piece_id: str) -> bool:
        return self.run(self._delete_piece, piece_id)

    async def _delete_piece(self, piece_id: str) -> bool:
        return (await self.db.pieces.delete_one({"_id": piece_id})).deleted_count == 1

    def styles(self) -> list[str]:
        return self.run(self._styles)

    async def _styles(self) -> list[str]:
        return sorted(await self.db.pieces.distinct("style"))

    # metadata-only records

    def add_record(self, record: SourceRecord) -> bool:
        return self.run(self._add_record, record)

    async def _add_record(self, record: SourceRecord) -> bool:
        new = {name: getattr(record, name) for name in RECORD_FIELDS}
        new["extra"] = dict(record.extra or {})
        old = await self.db.records.find_one({"_id": record.url})
        if old is not None and all(old.get(k) == new[k] for k in RECORD_FIELDS if k != "added_at"):
            return False
        new["added_at"] = record.added_at or (old or {}).get("added_at") or utc_now()
        await self.db.records.replace_one({"_id": record.url}, {"_id": record.url, **new}, upsert=True)
        return True

    def list_records(self, status: str | None = None) -> list[SourceRecord]:
        return self.run(self._list_records, {} if status is None else {"status": status})

    async def _list_records(self, query: dict[str, Any]) -> list[SourceRecord]:
        cursor = self.db.records.find(query).sort([("added_at", 1), ("url", 1)])
        return [SourceRecord(**{k: doc.get(k) for k in RECORD_FIELDS}) async for doc in cursor]

    def stats(self) -> dict[str, Any]:
        return self.run(self._stats)

    async def _stats(self) -> dict[str, Any]:
        # Counted by the server: a catalog of many pieces never crosses the network whole.
        by_key = await (await self.db.pieces.aggregate([
            {"$group": {"_id": {"style": "$style", "key": "$original_key"},
                        "pieces": {"$sum": 1}, "beats": {"$sum": "$beats"}}},
        ])).to_list(None)
        by_composer = await (await self.db.pieces.aggregate([
            {"$match": {"composer": {"$ne": ""}}},
            {"$group": {"_id": "$style", "composers": {"$addToSet": "$composer"}}},
            {"$project": {"n": {"$size": "$composers"}}},
        ])).to_list(None)
        records = await (await self.db.records.aggregate([
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ])).to_list(None)
        styles: dict[str, dict[str, Any]] = {}
        keys: dict[str, Counter] = {}
        for row in sorted(by_key, key=lambda r: (r["_id"]["style"], r["_id"].get("key") or "")):
            style = row["_id"]["style"]
            entry = styles.setdefault(style, {"pieces": 0, "beats": 0})
            entry["pieces"] += row["pieces"]
            entry["beats"] += row["beats"]
            keys.setdefault(style, Counter())[row["_id"].get("key") or "unknown"] += row["pieces"]
        composers = {row["_id"]: row["n"] for row in by_composer}
        for style, entry in styles.items():
            entry["keys"] = dict(keys[style].most_common())
            entry["composers"] = composers.get(style, 0)
        return {
            "styles": dict(sorted(styles.items())),
            "records": {row["_id"]: row["n"] for row in sorted(records, key=lambda r: r["_id"])},
        }


def piece_doc(piece: PieceRecord) -> dict[str, Any]:
    doc = piece.to_dict()
    doc["_id"] = doc.pop("id")
    doc["extra"] = dict(piece.extra or {})
    return doc


def piece_from(doc: dict[str, Any]) -> PieceRecord:
    values = {k: doc.get(k) for k in PIECE_FIELDS if k != "id"}
    values["extra"] = dict(doc.get("extra") or {})
    return PieceRecord(id=doc["_id"], **values)

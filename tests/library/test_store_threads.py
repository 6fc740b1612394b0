"""A stalled store (MongoDB that stopped answering, a SQLite file held locked) ties up only the
store's own threads, for a bounded time: the default executor, which builds MIDI files and
blends for the mixer, stays free."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from radio.errors import LibraryError
from radio.library.mongo import LoopThread
from radio.library.store_threads import STORE_THREADS


def test_the_mongo_bridge_gives_up_on_a_stalled_operation_and_cancels_it():
    bridge = LoopThread("test-bridge", wait_seconds=0.3, what="MongoDB at mongodb://db")
    cancelled = threading.Event()

    async def stalled():
        try:
            await asyncio.sleep(3600)  # a server that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        t0 = time.perf_counter()
        with pytest.raises(LibraryError, match="MongoDB at mongodb://db did not answer within 0.3 s"):
            bridge.run(stalled())
        assert time.perf_counter() - t0 < 2.0
        assert cancelled.wait(2.0), "the stalled operation was left running on the loop"

        async def quick():
            return 42

        assert bridge.run(quick()) == 42  # the bridge still works
    finally:
        bridge.stop()


class StalledStore:
    """A job store whose reads hang until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = 0

    def get(self, job_id: str):
        self.waiting += 1
        self.release.wait(30)
        return None

    def list(self, style=None):
        return []

    def save(self, job) -> None:
        pass


async def test_a_stalled_store_leaves_the_default_executor_free(tmp_path):
    from radio.admin.errors import NotFound
    from radio.admin.runner import JobRunner

    store = StalledStore()

    async def never(job, done):
        raise AssertionError

    runner = JobRunner(store, tmp_path, on_done=never)
    calls = [asyncio.ensure_future(runner.get(f"job{i}")) for i in range(12)]  # the admin page, polling
    try:
        await asyncio.sleep(0.3)
        # MIDI builds and blend starts run on the default executor: they still get a thread.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "built"), 3.0) == "built"
        assert store.waiting <= STORE_THREADS  # the store holds its own few threads, no more
    finally:
        store.release.set()
        for call in calls:
            with pytest.raises(NotFound):
                await call

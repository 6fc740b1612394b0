"""The admin page's live feed (``/admin/events``): job changes and admin actions, pushed.

Each open feed is a bounded queue of ``(event, data)``: ``("job", job)`` after every change of
a job this server runs, ``("styles", None)`` when a style, its pieces or its versions changed,
and ``None`` when the feed ends. A page that stops reading is cut off (it reconnects), never
waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from radio.admin.jobs import FINAL_STATES, Job

FEED_QUEUE = 256  # events a slow admin page may fall behind before its feed is ended


class Watchable(Protocol):
    """What a job runner offers its followers (radio.admin.jobs.JobWatchers)."""

    def watch(self, job_id: str) -> asyncio.Queue: ...
    def unwatch(self, job_id: str, queue: asyncio.Queue) -> None: ...


class AdminFeed:
    def __init__(self) -> None:
        self._feeds: set[asyncio.Queue] = set()  # open /admin/events feeds
        self._forwarders: set[asyncio.Task] = set()  # one per job being followed for the feeds

    def subscribe(self) -> asyncio.Queue:
        feed: asyncio.Queue = asyncio.Queue(FEED_QUEUE)
        self._feeds.add(feed)
        return feed

    def unsubscribe(self, feed: asyncio.Queue) -> None:
        self._feeds.discard(feed)

    def publish(self, event: str, data: Any = None) -> None:
        for feed in list(self._feeds):
            try:
                feed.put_nowait((event, data))
            except asyncio.QueueFull:  # a page that stopped reading: end its feed, it reconnects
                self._end(feed)

    def _end(self, feed: asyncio.Queue) -> None:
        self._feeds.discard(feed)
        while True:
            try:
                feed.put_nowait(None)
                return
            except asyncio.QueueFull:
                feed.get_nowait()

    def follow(self, job: Job, runner: Watchable) -> None:
        """Forward every change of ``job`` to the feeds until it ends."""
        queue = runner.watch(job.id)
        self.publish("job", job.to_dict())

        async def forward() -> None:
            try:
                while True:
                    snapshot = await queue.get()
                    self.publish("job", snapshot)
                    if snapshot["state"] in FINAL_STATES:
                        self.publish("styles")
                        return
            finally:
                runner.unwatch(job.id, queue)

        task = asyncio.get_running_loop().create_task(forward())
        self._forwarders.add(task)
        task.add_done_callback(self._forwarders.discard)

    def end_feeds(self) -> None:
        """End every open feed (the server is stopping)."""
        for feed in list(self._feeds):
            self._end(feed)

    async def stop_following(self) -> None:
        for task in list(self._forwarders):
            task.cancel()
        for task in list(self._forwarders):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

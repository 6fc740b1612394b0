"""A channel's event feed: what its pages are told (pieces, notes, listener counts, where
their stream began), fanned out to one bounded queue per connected page.

The feed never waits for a page: an event goes into every queue at once, and a page whose
queue is full (it stopped reading) is cut off with an end marker. Listener counts are
coalesced, so a crowd joining at once is one event, not one per listener.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable

KNOWN_SIDS = 4096  # stream starts remembered for pages whose feed connects after their stream
EVENT_QUEUE = 1024  # events waiting for one page before it is cut off
LISTENERS_EVENT_SECONDS = 0.5  # listener-count events are coalesced over this long


@dataclass(frozen=True, eq=False)
class ChannelEvent:
    """One event of a channel's feed. The same object goes to every client, so its JSON
    is encoded once per channel, not once per listener."""

    name: str
    data: dict

    @cached_property
    def json(self) -> str:
        return json.dumps(self.data, separators=(",", ":"))


@dataclass(eq=False)
class EventSubscriber:
    """One SSE client: a bounded queue of :class:`ChannelEvent`; ``None`` means the feed ended."""

    sid: str | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(EVENT_QUEUE))


class EventFeed:
    """The per-page queues of one channel, the sid registry and the debounced listener count."""

    def __init__(self, listener_count: Callable[[], int]) -> None:
        self._listener_count = listener_count
        self._subscribers: set[EventSubscriber] = set()
        self._stream_starts: OrderedDict[str, float] = OrderedDict()
        self._listeners_flush: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, sid: str | None, backlog: Iterable[ChannelEvent]) -> EventSubscriber:
        """A new page's queue, primed with the listener count, its stream start (if its
        stream came first) and ``backlog`` (what it needs to draw the present), as room allows."""
        sub = EventSubscriber(sid)
        q = sub.queue
        q.put_nowait(ChannelEvent("listeners", {"listeners": self._listener_count()}))
        if sid is not None and sid in self._stream_starts:
            q.put_nowait(ChannelEvent("stream", {"sid": sid, "stream_start": self._stream_starts[sid]}))
        for event in backlog:
            if q.full():
                break
            q.put_nowait(event)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: EventSubscriber) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: ChannelEvent, sid: str | None = None) -> None:
        """Queue ``event`` for every page (only the page of ``sid`` when given)."""
        for sub in list(self._subscribers):
            if sid is not None and sub.sid != sid:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.end(sub)

    def stream_started(self, sid: str, stream_start: float) -> None:
        """Record where a sid's MP3 response began and tell its page."""
        self._stream_starts[sid] = stream_start
        self._stream_starts.move_to_end(sid)
        while len(self._stream_starts) > KNOWN_SIDS:
            self._stream_starts.popitem(last=False)
        self.publish(ChannelEvent("stream", {"sid": sid, "stream_start": round(stream_start, 4)}), sid=sid)

    def listeners_changed(self) -> None:
        if self._listeners_flush is None:
            loop = asyncio.get_running_loop()
            self._listeners_flush = loop.call_later(LISTENERS_EVENT_SECONDS, self._publish_listeners)

    def _publish_listeners(self) -> None:
        self._listeners_flush = None
        self.publish(ChannelEvent("listeners", {"listeners": self._listener_count()}))

    def end(self, sub: EventSubscriber) -> None:
        self._subscribers.discard(sub)
        while True:  # make room for the end marker
            try:
                sub.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                sub.queue.get_nowait()

    def close(self) -> None:
        """End every page's feed (the channel is stopping)."""
        if self._listeners_flush is not None:
            self._listeners_flush.cancel()
            self._listeners_flush = None
        for sub in list(self._subscribers):
            self.end(sub)

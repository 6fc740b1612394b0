"""The Icecast model: one shared queue of MP3 frames per channel, many listeners reading it.

The channel's encoder pushes whole frames ahead of time; a ticker on the event loop
releases them at the wall-clock rate and writes each release, as one batch, to every
listener. A listener is a cursor and byte counts: it gets a burst from just behind live
when it joins (starting on a frame boundary, so playback starts at once), then one write
per tick, never one per frame. A listener whose unsent backlog exceeds the limit is cut
off; nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from radio.broadcast.listener import Listener
from radio.metrics import StationMetrics
from radio.broadcast.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BroadcastSettings:
    burst_bytes: int = 64 * 1024  # sent at once to a new listener, from just behind live
    max_backlog_bytes: int = 512 * 1024  # unsent bytes beyond which a listener is dropped
    write_interval: float = 0.5  # seconds of audio per write to each listener
    icy_metaint: int = 16000  # audio bytes between ICY metadata blocks
    socket_sndbuf: int = 64 * 1024  # kernel send buffer per listener, so backlog shows up in user space
    underrun_grace: float = 0.25  # seconds the live edge may pass the encoder before it counts

    def __post_init__(self) -> None:
        for name in ("burst_bytes", "max_backlog_bytes", "icy_metaint", "socket_sndbuf"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive number of bytes, not {getattr(self, name)!r}")
        if not 0.01 <= self.write_interval <= 5:
            raise ValueError(f"write_interval {self.write_interval!r} must be between 0.01 and 5 seconds")


class StreamClock:
    """Channel stream time that the wall clock says should have been released by now.

    It starts with the first encoded frame; an underrun slips it so the stream resumes
    where it stopped instead of bursting to catch up.
    """

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._anchor: float | None = None

    @property
    def started(self) -> bool:
        return self._anchor is not None

    def start(self) -> None:
        if self._anchor is None:
            self._anchor = self._now()

    def position(self) -> float:
        return 0.0 if self._anchor is None else self._now() - self._anchor

    def slip(self, seconds: float) -> None:
        if self._anchor is not None:
            self._anchor += seconds


@dataclass
class _Batch:
    offset: int  # absolute byte offset of data[0]
    data: bytes
    first_index: int  # stream frame index of the first frame
    starts: list[int]  # absolute offset of every frame in the batch

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


class Broadcaster:
    """Fans one channel's MP3 frames out to its listeners, paced to the wall clock."""

    def __init__(
        self,
        channel: str,
        *,
        frame_seconds: float,
        settings: BroadcastSettings | None = None,
        metrics: StationMetrics | None = None,
        clock: StreamClock | None = None,
        on_listeners: Callable[[int], None] | None = None,
    ) -> None:
        self.channel = channel
        self.frame_seconds = frame_seconds
        self.settings = settings or BroadcastSettings()
        self.metrics = metrics
        self.clock = clock or StreamClock()
        self._on_listeners = on_listeners
        self.listeners: set[Listener] = set()
        self._pending: deque[tuple[bytes, str]] = deque()  # encoded, not yet released
        self._history: deque[_Batch] = deque()  # released, kept for bursts
        self._history_bytes = 0
        self._keep_bytes = 2 * self.settings.burst_bytes + 64 * 1024
        self._titles: list[tuple[int, str]] = []  # (offset where a title starts, ICY title)
        self.live_offset = 0  # bytes released so far
        self.frames_released = 0
        self.frames_pushed = 0
        self.underruns = 0
        self.drops = 0
        self.first_frame = asyncio.Event()
        self._task: asyncio.Task | None = None

    # --- the source side -------------------------------------------------------------
    def push(self, frames: list[bytes], title: str) -> None:
        """Queue encoded frames (on the event loop thread), all under one ICY title."""
        if not frames:
            return
        self._pending.extend((f, title) for f in frames)
        self.frames_pushed += len(frames)
        if not self.clock.started:
            self.clock.start()
            self.tick()

    @property
    def released_seconds(self) -> float:
        return self.frames_released * self.frame_seconds

    @property
    def ahead_seconds(self) -> float:
        """Encoded audio not yet due at the wall clock."""
        return self.frames_pushed * self.frame_seconds - self.clock.position()

    def heard_time(self) -> float:
        """Channel stream time a listener hears now: the start of a new listener's burst."""
        if not self._history:
            return 0.0
        return self._burst_start()[1] * self.frame_seconds

    # --- the ticker ------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"broadcast-{self.channel}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for listener in list(self.listeners):
            if listener.chunked and not listener.transport.is_closing():
                listener.transport.write(b"0\r\n\r\n")  # a clean end of the body: clients reconnect
            listener.transport.close()
            self._remove(listener, "server stopping")

    async def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the ticker must outlive any one bad write
                log.exception("%s: broadcast tick failed", self.channel)
            await asyncio.sleep(self.settings.write_interval)

    def tick(self) -> None:
        """Release the frames due by the wall clock (one interval ahead) and send them."""
        if not self.clock.started:
            return
        due_by = self.clock.position() + self.settings.write_interval
        n = 0
        while n < len(self._pending) and (self.frames_released + n) * self.frame_seconds < due_by:
            n += 1
        if n == 0:
            self._check_underrun()
            return
        frames = [self._pending.popleft() for _ in range(n)]
        starts, offset = [], self.live_offset
        for data, title in frames:
            if not self._titles or self._titles[-1][1] != title:
                self._titles.append((offset, title))
            starts.append(offset)
            offset += len(data)
        batch = _Batch(self.live_offset, b"".join(f for f, _ in frames), self.frames_released, starts)
        self._append(batch)
        self.frames_released += n
        self.live_offset = batch.end
        if not self.first_frame.is_set():
            self.first_frame.set()
        if self.metrics is None:
            self._send(batch)
            return
        self.metrics.buffer_ahead.labels(self.channel).set(max(0.0, self.ahead_seconds))
        t0 = time.perf_counter()
        self._send(batch)
        self.metrics.send_seconds.labels(self.channel).observe(time.perf_counter() - t0)

    def _check_underrun(self) -> None:
        behind = self.clock.position() - self.released_seconds
        if behind > self.settings.underrun_grace:
            self.underruns += 1
            self.clock.slip(behind)
            log.warning("%s: underrun, the encoder was %.2f s late", self.channel, behind)
            if self.metrics is not None:
                self.metrics.underruns.labels(self.channel).inc()

    def _append(self, batch: _Batch) -> None:
        self._history.append(batch)
        self._history_bytes += len(batch.data)
        while self._history_bytes - len(self._history[0].data) >= self._keep_bytes:
            old = self._history.popleft()
            self._history_bytes -= len(old.data)
        first = self._history[0].offset
        keep_from = bisect.bisect_right(self._titles, first, key=lambda t: t[0]) - 1
        if keep_from > 0:
            del self._titles[:keep_from]

    def _send(self, batch: _Batch) -> None:
        limit = self.settings.max_backlog_bytes
        sent = 0
        live_chunk: bytes | None = None  # the batch as one HTTP chunk: framed once, shared by listeners at live
        for listener in list(self.listeners):
            tr = listener.transport
            if tr.is_closing():
                self._remove(listener, "left")
                continue
            if tr.get_write_buffer_size() > limit:
                self.drops += 1
                if self.metrics is not None:
                    self.metrics.listener_drops.labels(self.channel).inc()
                tr.abort()
                self._remove(listener, f"dropped: more than {limit} bytes behind")
                continue
            data = batch.data if listener.cursor == batch.offset else self._slice(listener.cursor)
            before = listener.bytes_sent
            parts = listener.frame(data, self.title_at)
            if listener.chunked and len(parts) == 1 and parts[0] is batch.data:
                if live_chunk is None:
                    live_chunk = b"".join([b"%x\r\n" % len(batch.data), batch.data, b"\r\n"])
                tr.write(live_chunk)
            else:
                self._write(listener, parts)
            sent += listener.bytes_sent - before
        if sent and self.metrics is not None:
            self.metrics.bytes_sent.labels(self.channel).inc(sent)

    @staticmethod
    def _write(listener: Listener, parts: list[bytes | memoryview]) -> None:
        tr = listener.transport
        if listener.chunked:
            size = sum(len(p) for p in parts)
            tr.write(b"".join([b"%x\r\n" % size, *parts, b"\r\n"]))
        elif len(parts) == 1:
            tr.write(parts[0])
        else:
            tr.write(b"".join(parts))

    # --- listeners -------------------------------------------------------------------
    def title_at(self, offset: int) -> str:
        """The ICY title of the audio at absolute byte ``offset``."""
        i = bisect.bisect_right(self._titles, offset, key=lambda t: t[0]) - 1
        return self._titles[max(i, 0)][1] if self._titles else ""

    def _burst_start(self) -> tuple[int, int]:
        """(offset, frame index) of the first frame at most ``burst_bytes`` behind live."""
        target = self.live_offset - self.settings.burst_bytes
        for batch in self._history:
            i = bisect.bisect_left(batch.starts, target)
            if i < len(batch.starts):
                return batch.starts[i], batch.first_index + i
        last = self._history[-1]
        return last.starts[-1], last.first_index + len(last.starts) - 1

    def _slice(self, start: int) -> bytes:
        """Released bytes from ``start`` to live (``start`` must still be in the history)."""
        parts = []
        for batch in self._history:
            if batch.end <= start:
                continue
            parts.append(memoryview(batch.data)[max(0, start - batch.offset) :])
        return b"".join(parts)

    def subscribe(
        self, transport: asyncio.Transport, *, chunked: bool, icy: bool, peer: str = "", sid: str | None = None
    ) -> tuple[Listener, bytes]:
        """Add a listener; returns it and its burst (ICY-framed when asked), for the caller
        to write as the first body bytes. Call only after :attr:`first_frame` is set."""
        offset, index = self._burst_start()
        metaint = self.settings.icy_metaint if icy else 0
        listener = Listener(
            transport=transport,
            cursor=offset,
            stream_start=index * self.frame_seconds,
            chunked=chunked,
            metaint=metaint,
            meta_left=metaint,
            peer=peer,
            sid=sid,
            done=asyncio.get_running_loop().create_future(),
            joined=time.monotonic(),
        )
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.settings.socket_sndbuf)
            except OSError:
                pass  # not a TCP socket (tests on pipes); the backlog check still holds
        burst = b"".join(listener.frame(self._slice(offset), self.title_at))
        if self.metrics is not None:
            self.metrics.bytes_sent.labels(self.channel).inc(len(burst))  # the caller writes it
        self.listeners.add(listener)
        log.info(
            "listener joined %s from %s%s%s (%d listening)",
            self.channel, peer or "?", f" sid={sid}" if sid else "", " icy" if icy else "", len(self.listeners),
        )
        self._changed()
        return listener, burst

    def unsubscribe(self, listener: Listener) -> None:
        self._remove(listener, "left")

    def _remove(self, listener: Listener, why: str) -> None:
        if listener not in self.listeners:
            return
        self.listeners.discard(listener)
        if not listener.done.done():
            listener.done.set_result(why)
        log.info(
            "listener left %s from %s after %.1f s, %d bytes (%s; %d listening)",
            self.channel, listener.peer or "?", time.monotonic() - listener.joined, listener.bytes_sent, why,
            len(self.listeners),
        )
        self._changed()

    def _changed(self) -> None:
        if self.metrics is not None:
            self.metrics.listeners.labels(self.channel).set(len(self.listeners))
        if self._on_listeners is not None:
            self._on_listeners(len(self.listeners))

"""A listener load client: many concurrent HTTP/1.0 MP3 listeners on raw asyncio sockets.

Run it in its own process (``python -m bench.listener_load --url ... --count N``) so the
server's CPU is measured alone. It connects ``count`` listeners, staggered, spread over
the channels; once all are connected and settled it counts what each one receives in a
window of ``seconds`` and prints one JSON object with the results.

A byte is *on time* when it arrives before a player needs it: the player starts once it
holds ``prebuffer`` seconds of audio (1 s; the server's burst is about 4 s) and then
consumes the stream at its bitrate, so byte k is due at start + k / byte rate. A listener
is on time when at least ``on_time`` (0.99) of its bytes were, and the server did not cut
it off. The throughput over the window (bytes received / bytes due at the
bitrate) is reported beside it; it wobbles by one server write interval at the window's edges.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from radio.config import raise_fd_limit


@dataclass(eq=False)
class Listen(asyncio.Protocol):
    path: str
    host: str
    rate: float  # audio bytes per second
    prebuffer: int  # bytes a player holds before it starts
    started: float = 0.0
    first_byte: float | None = None
    playing_since: float | None = None
    bytes: int = 0
    late: int = 0
    header_done: bool = False
    closed: bool = False
    head: bytearray = field(default_factory=bytearray)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(f"GET {self.path} HTTP/1.0\r\nHost: {self.host}\r\nUser-Agent: continuo-load\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        if not self.header_done:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.header_done = True
            body = len(self.head) - end - 4
            self.head = bytearray()
            if body <= 0:
                return
            data_len = body
        else:
            data_len = len(data)
        now = time.perf_counter()
        if self.first_byte is None:
            self.first_byte = now - self.started
        if self.playing_since is not None and now > self.playing_since + self.bytes / self.rate:
            self.late += data_len
        self.bytes += data_len
        if self.playing_since is None and self.bytes >= self.prebuffer:
            self.playing_since = now

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def run(url: str, count: int, seconds: float, stagger_per_s: float, settle: float,
              styles: list[str], bitrate_kbps: int, on_time: float, prebuffer: float) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    listeners: list[Listen] = []
    transports = []
    failed_connects = 0
    t_begin = time.perf_counter()
    for i in range(count):
        style = styles[i % len(styles)]
        rate = bitrate_kbps * 1000 / 8
        proto = Listen(path=f"/stream/{style}.mp3", host=host, rate=rate, prebuffer=int(prebuffer * rate))
        proto.started = time.perf_counter()
        try:
            tr, _ = await loop.create_connection(lambda p=proto: p, host, port)
        except OSError:
            failed_connects += 1
            continue
        listeners.append(proto)
        transports.append(tr)
        due = t_begin + (i + 1) / stagger_per_s
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
    connect_seconds = time.perf_counter() - t_begin
    await asyncio.sleep(settle)
    start = {id(l): l.bytes for l in listeners}
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    window = time.perf_counter() - t0
    rate = bitrate_kbps * 1000 / 8
    got = [l.bytes - start[id(l)] for l in listeners]
    on_time_count = sum(1 for l in listeners if not l.closed and l.late <= (1 - on_time) * l.bytes)
    late_fraction = max((l.late / l.bytes for l in listeners if l.bytes), default=0.0)
    firsts = sorted(l.first_byte for l in listeners if l.first_byte is not None)
    for tr in transports:
        tr.close()
    ratios = sorted(g / (window * rate) for g in got)
    return {
        "count": count,
        "connected": len(listeners),
        "failed_connects": failed_connects,
        "closed_by_server": sum(1 for l in listeners if l.closed),
        "connect_seconds": round(connect_seconds, 2),
        "window_seconds": round(window, 2),
        "on_time": on_time_count,
        "all_on_time": on_time_count == count,
        "max_late_fraction": round(late_fraction, 4),
        "min_ratio": round(ratios[0], 4) if ratios else 0.0,
        "median_ratio": round(statistics.median(ratios), 4) if ratios else 0.0,
        "first_byte_ms_median": round(1000 * statistics.median(firsts), 2) if firsts else None,
        "first_byte_ms_p99": round(1000 * firsts[min(len(firsts) - 1, int(0.99 * len(firsts)))], 2) if firsts else None,
    }


async def hammer(url: str, seconds: float, concurrency: int, style: str) -> dict:
    """Open streams as fast as ``concurrency`` connections at a time allow, read each answer's
    status line and hang up: a client pushing past the listener cap."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counts = {"attempts": 0, "refused_503": 0, "retry_after": 0, "accepted": 0, "errors": 0}
    end = time.perf_counter() + seconds

    async def one() -> None:
        while time.perf_counter() < end:
            counts["attempts"] += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET /stream/{style}.mp3 HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                writer.close()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                counts["errors"] += 1
                continue
            status = head.split(b" ", 2)[1]
            if status == b"503":
                counts["refused_503"] += 1
                counts["retry_after"] += b"\r\nretry-after:" in head.lower()
            else:
                counts["accepted"] += 1

    await asyncio.gather(*(one() for _ in range(concurrency)))
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the station, e.g. http://127.0.0.1:8000")
    p.add_argument("--count", type=int, required=True, help="listeners to connect")
    p.add_argument("--seconds", type=float, default=20.0, help="measurement window (s)")
    p.add_argument("--stagger", type=float, default=400.0, help="connects per second")
    p.add_argument("--settle", type=float, default=3.0, help="seconds between the last connect and the window")
    p.add_argument("--styles", default="baroque", help="comma-separated channels to spread listeners over")
    p.add_argument("--bitrate", type=int, default=128)
    p.add_argument("--on-time", type=float, default=0.99)
    p.add_argument("--prebuffer", type=float, default=1.0, help="seconds of audio a player holds before playing")
    p.add_argument("--hammer", type=float, default=0.0, metavar="SECONDS",
                   help="instead: hammer the stream URL with new connections for this long (--count at a time)")
    a = p.parse_args(argv)
    if a.hammer:
        raise_fd_limit()
        print(json.dumps(asyncio.run(hammer(a.url, a.hammer, a.count, a.styles.split(",")[0]))))
        return 0
    if a.count < 1 or a.count > 20000:
        p.error("--count must be between 1 and 20000")
    limit = raise_fd_limit()
    if limit < a.count + 64:
        p.error(f"RLIMIT_NOFILE is {limit}, too low for {a.count} listeners")
    result = asyncio.run(run(a.url, a.count, a.seconds, a.stagger, a.settle, a.styles.split(","),
                             a.bitrate, a.on_time, a.prebuffer))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

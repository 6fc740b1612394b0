"""A listener load client: many concurrent HTTP/1.0 MP3 listeners, cheap enough that the
server, not the client, is what a listener benchmark saturates.

Run it in its own process (``python -m bench.listener_load --url ... --count N``) so the
server's CPU is measured alone. It connects ``count`` listeners, staggered, spread over
the channels; once all are connected and settled it counts what each one receives in a
window of ``seconds`` and prints one JSON object with the results, including its own CPU
time over the window (so a report can say whether the clients or the server ran out).

Why not asyncio: a Protocol per listener costs a selector event, a callback, a fresh
``bytes`` and a ``data_received`` call for every chunk, and at 15,000 listeners that made
the load clients, not the server, the first thing to saturate a 2-core box. Here one
process holds its sockets in one epoll set and wakes every ``read_interval`` (50 ms), the
way a player's audio thread refills its buffer: one ``epoll_wait`` returns every socket
with data, and each is drained with one ``recv_into`` into a shared 256 KB buffer, counting
bytes only. A socket with more data than that stays ready and is read again on the next
wake-up. 50 ms of unread data is a few KB per listener, far below the server's 512 KB
backlog limit and the kernel's receive buffer, so to the server this is a player that keeps
up.

A byte is *on time* when it arrives before a player needs it: the player starts once it
holds ``prebuffer`` seconds of audio (1 s; the server's burst is about 4 s) and then
consumes the stream at its bitrate, so byte k is due at start + k / byte rate. A chunk's
arrival time is the wake-up that read it, so arrivals are stamped up to one read interval
late: the measure errs against the server, never for it. A listener is on time when at
least ``on_time`` (0.99) of its bytes were, and the server did not cut it off. The
throughput over the window (bytes received / bytes due at the bitrate) is reported beside
it; it wobbles by one server write interval at the window's edges.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import select
import socket
import statistics
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from radio.config import raise_fd_limit

READ_BUFFER = 256 * 1024


@dataclass(eq=False, slots=True)
class Listen:
    """One listener's socket and counts."""

    sock: socket.socket
    request: bytes
    started: float
    connected: bool = False
    header_done: bool = False
    head: bytes = b""
    status: int = 0
    first_byte: float | None = None
    playing_since: float | None = None
    bytes: int = 0
    late: int = 0
    window_start_bytes: int = 0
    window_start_late: int = 0
    closed: bool = False  # by the server, after a 200 header
    failed: bool = False  # refused, reset before a header, or not a 200


def run(url: str, count: int, seconds: float, stagger_per_s: float, settle: float, styles: list[str],
        bitrate_kbps: int, on_time: float, prebuffer: float, read_interval: float = 0.05) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    address = (socket.gethostbyname(host), port)
    rate = bitrate_kbps * 1000 / 8
    prebuffer_bytes = int(prebuffer * rate)
    ep = select.epoll()
    by_fd: dict[int, Listen] = {}
    listeners: list[Listen] = []
    buf = bytearray(READ_BUFFER)
    view = memoryview(buf)
    IN, OUT, ERR = select.EPOLLIN, select.EPOLLOUT, select.EPOLLERR | select.EPOLLHUP

    def drop(lis: Listen, failed: bool) -> None:
        fd = lis.sock.fileno()
        if fd in by_fd:
            ep.unregister(fd)
            del by_fd[fd]
        lis.sock.close()
        if failed and not lis.header_done:
            lis.failed = True
        else:
            lis.closed = True

    def send_request(lis: Listen) -> None:
        lis.connected = True
        try:
            lis.sock.send(lis.request)  # a few dozen bytes into an empty send buffer: all of it
        except OSError:
            drop(lis, True)
            return
        ep.modify(lis.sock.fileno(), IN)

    def header(lis: Listen, data: bytes, now: float) -> int:
        """Feed bytes before the end of the header; returns how many body bytes ``data`` held."""
        lis.head += data
        end = lis.head.find(b"\r\n\r\n")
        if end < 0:
            if len(lis.head) > 65536:
                drop(lis, True)
            return 0
        lis.header_done = True
        try:
            lis.status = int(lis.head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            lis.status = 0
        body = len(lis.head) - end - 4
        lis.head = b""
        if lis.status != 200:
            lis.header_done = False  # counts as a failed connect, not a listener the server cut off
            drop(lis, True)
            return 0
        return body

    def read(events: list[tuple[int, int]], now: float) -> None:
        for fd, ev in events:
            lis = by_fd.get(fd)
            if lis is None:
                continue
            if not lis.connected:
                if ev & ERR:
                    drop(lis, True)
                else:
                    send_request(lis)
                continue
            try:
                n = lis.sock.recv_into(buf)
            except BlockingIOError:
                continue
            except OSError:
                drop(lis, True)
                continue
            if n == 0:
                drop(lis, True)
                continue
            if not lis.header_done:
                n = header(lis, bytes(view[:n]), now)
                if n <= 0:
                    continue
            if lis.first_byte is None:
                lis.first_byte = now - lis.started
            if lis.playing_since is not None:
                if now > lis.playing_since + lis.bytes / rate:  # the chunk's first byte was already due
                    lis.late += n
                lis.bytes += n
            else:
                lis.bytes += n
                if lis.bytes >= prebuffer_bytes:
                    lis.playing_since = now  # byte k is due at playing_since + k / rate

    def connect(i: int) -> None:
        style = styles[i % len(styles)]
        request = f"GET /stream/{style}.mp3 HTTP/1.0\r\nHost: {host}\r\nUser-Agent: continuo-load\r\n\r\n".encode()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        lis = Listen(sock=sock, request=request, started=time.perf_counter())
        listeners.append(lis)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            lis.failed = True
            return
        by_fd[sock.fileno()] = lis
        if err == 0:
            ep.register(sock.fileno(), IN)
            send_request(lis)
        else:
            ep.register(sock.fileno(), OUT)

    t_begin = time.perf_counter()
    opened = 0
    while opened < count:
        now = time.perf_counter()
        while opened < count and t_begin + opened / stagger_per_s <= now:
            connect(opened)
            opened += 1
        read(ep.poll(0), time.perf_counter())
        if opened < count:
            wait = t_begin + opened / stagger_per_s - time.perf_counter()
            if wait > 0:
                time.sleep(min(wait, read_interval))
    connect_seconds = time.perf_counter() - t_begin

    def pump(until: float) -> None:
        while True:
            now = time.perf_counter()
            if now >= until:
                return
            read(ep.poll(0), now)
            time.sleep(max(0.0, min(read_interval - (time.perf_counter() - now), until - time.perf_counter())))

    pump(time.perf_counter() + settle)
    for lis in listeners:
        lis.window_start_bytes, lis.window_start_late = lis.bytes, lis.late
    cpu0, t0, wall0 = time.process_time(), time.perf_counter(), time.time()
    pump(t0 + seconds)
    window = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    ok = [lis for lis in listeners if lis.header_done]
    got = [lis.bytes - lis.window_start_bytes for lis in ok]
    on_time_count = sum(1 for lis in ok if not lis.closed and lis.late <= (1 - on_time) * lis.bytes)
    # the same test over the window alone: a listener that fell behind while the crowd was joining
    # but was on time again once it settled passes here, not above
    on_time_window = sum(1 for lis, g in zip(ok, got)
                         if not lis.closed and g and lis.late - lis.window_start_late <= (1 - on_time) * g)
    late_fraction = max((lis.late / lis.bytes for lis in ok if lis.bytes), default=0.0)
    firsts = sorted(lis.first_byte for lis in ok if lis.first_byte is not None)
    statuses: dict[str, int] = {}
    for lis in listeners:
        if lis.failed and lis.status:
            statuses[str(lis.status)] = statuses.get(str(lis.status), 0) + 1
    for lis in listeners:
        if lis.sock.fileno() != -1:
            lis.sock.close()
    ep.close()
    ratios = sorted(g / (window * rate) for g in got)
    return {
        "count": count,
        "connected": len(ok),
        "failed_connects": sum(1 for lis in listeners if lis.failed),
        "refused_statuses": statuses,
        "closed_by_server": sum(1 for lis in ok if lis.closed),
        "connect_seconds": round(connect_seconds, 2),
        "window_seconds": round(window, 2),
        "window_start_unix": round(wall0, 3),
        "client_cpu_seconds": round(cpu, 3),
        "on_time_in_window": on_time_window,
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
    p.add_argument("--read-interval", type=float, default=0.05,
                   help="seconds between reads, as a player's buffer refills (arrivals are stamped this late at worst)")
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
    if not 0.001 <= a.read_interval <= 0.25:
        p.error("--read-interval must be between 0.001 and 0.25 s: rarer reads would make a fast server look late")
    result = run(a.url, a.count, a.seconds, a.stagger, a.settle, a.styles.split(","),
                 a.bitrate, a.on_time, a.prebuffer, a.read_interval)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

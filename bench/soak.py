"""The soak: every channel, with a churn of listeners, over hours of station time.

``make soak`` (``python -m bench.soak --minutes 12 --speed 10``) runs the real station
(bundled models, composer threads, synth, LAME, broadcaster, aiohttp on loopback) on an
accelerated clock: ``--speed`` station seconds pass per wall-clock second, so the composer,
synth and encoder do ``speed`` times the work of a live station, and every listener gets its
bytes ``speed`` times faster. Meanwhile clients come and go:

- steady listeners, connected from start to end, whose bytes are counted against the bytes
  the bitrate says they should get (delivered vs expected);
- short listeners that leave after a moment, and clients that disconnect mid-frame (a reset
  after an arbitrary byte count);
- slow readers that fall behind and must be cut off at the backlog limit;
- event-feed (SSE) pages that join and leave, HEAD requests and MIDI downloads.

It reports underruns (must be 0), RSS and open file descriptors at the start and the end
(after the churn, with only the steady listeners left: growth must stay under 5% and the fds
equal), and delivered vs expected bytes. ``tests/station/test_soak.py`` runs a short one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import random
import socket
import sys
import time
from dataclasses import asdict, dataclass, field

RATE_BITS = 128_000


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class SoakReport:
    channels: list[str]
    speed: float
    real_seconds: float = 0.0
    station_seconds: float = 0.0
    underruns: int = 0
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    fds_start: int = 0
    fds_end: int = 0
    steady_listeners: int = 0
    expected_bytes: int = 0
    delivered_bytes: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # clients by kind
    slow_cut_off: int = 0
    server_errors: int = 0  # 5xx answers seen by any client

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kb - self.rss_start_kb) / max(1, self.rss_start_kb)

    @property
    def delivered_ratio(self) -> float:
        return self.delivered_bytes / max(1, self.expected_bytes)

    @property
    def ok(self) -> bool:
        return (self.underruns == 0 and self.rss_growth < 0.05 and self.fds_end == self.fds_start
                and self.delivered_ratio >= 0.99 and self.server_errors == 0)

    def lines(self) -> list[str]:
        hours = self.station_seconds / 3600
        return [
            f"soak: {len(self.channels)} channels ({', '.join(self.channels)}) at {self.speed:g}x: "
            f"{hours:.2f} station hours per channel ({hours * len(self.channels):.1f} channel-hours) "
            f"in {self.real_seconds / 60:.1f} real minutes",
            f"  underruns: {self.underruns} (target 0)",
            f"  RSS: {self.rss_start_kb / 1024:.1f} MB at the start, {self.rss_end_kb / 1024:.1f} MB at the end "
            f"({100 * self.rss_growth:+.2f}%, target < 5%)",
            f"  open file descriptors: {self.fds_start} at the start, {self.fds_end} at the end (target equal)",
            f"  steady listeners: {self.steady_listeners}, delivered {self.delivered_bytes:,} of {self.expected_bytes:,} "
            f"expected bytes ({100 * self.delivered_ratio:.2f}%)",
            "  churn: " + ", ".join(f"{v} {k}" for k, v in sorted(self.counts.items()))
            + f"; slow readers cut off by the server: {self.slow_cut_off}; 5xx answers: {self.server_errors}",
            f"  verdict: {'PASS' if self.ok else 'FAIL'}",
        ]


class Soak:
    def __init__(self, host: str, port: int, channels: list[str], speed: float, rng: random.Random,
                 report: SoakReport) -> None:
        self.host, self.port, self.channels, self.speed, self.rng = host, port, channels, speed, rng
        self.report = report
        self.byte_rate = RATE_BITS / 8 * speed  # what a listener should receive per real second
        self.backlog_bytes = 256 * 1024
        self.tasks: set[asyncio.Task] = set()
        self.writers: list[asyncio.StreamWriter] = []  # churn connections, closed for sure at a settle

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def count(self, kind: str) -> None:
        self.report.counts[kind] = self.report.counts.get(kind, 0) + 1

    async def request(self, method: str, path: str, *, rcvbuf: int = 0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
        sock = socket.socket()
        if rcvbuf:  # a small receive window, so the server's backlog grows instead of the kernel's
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (self.host, self.port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
        self.writers.append(writer)
        writer.write(f"{method} {path} HTTP/1.0\r\nHost: soak\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status >= 500:
            self.report.server_errors += 1
        return reader, writer, status

    async def steady(self, path: str, stop: asyncio.Event, tally: list[int]) -> None:
        reader, writer, status = await self.request("GET", path)
        self.writers.remove(writer)  # open from start to end, not churn
        assert status == 200, status
        await asyncio.wait_for(reader.read(1), 10)
        # Count from the first byte after the burst: the window starts when the caller says.
        while not stop.is_set():
            chunk = await reader.read(1 << 16)
            if not chunk:
                raise ConnectionError(f"the server closed a steady listener of {path}")
            tally[0] += len(chunk)
        writer.close()

    async def short(self) -> None:
        self.count("short listeners")
        reader, writer, status = await self.request("GET", f"/stream/{self.rng.choice(self.channels)}.mp3")
        end = time.monotonic() + self.rng.uniform(0.1, 2.0)
        while time.monotonic() < end and await reader.read(1 << 16):
            pass
        writer.close()

    async def mid_frame(self) -> None:
        self.count("mid-frame disconnects")
        reader, writer, _ = await self.request("GET", f"/stream/{self.rng.choice(self.channels)}.mp3")
        want = self.rng.randint(1, 200_000)
        got = 0
        while got < want:
            chunk = await reader.read(min(1 << 16, want - got))
            if not chunk:
                break
            got += len(chunk)
        writer.transport.abort()  # a reset, wherever in a frame the count fell

    async def slow(self) -> None:
        """A client that stops reading after the headers: the server must cut it off once its
        backlog passes the limit, and nobody else may notice."""
        self.count("slow readers")
        reader, writer, _ = await self.request("GET", f"/stream/{self.rng.choice(self.channels)}.mp3", rcvbuf=4096)
        writer.transport.pause_reading()
        await asyncio.sleep(min(60.0, 2 * self.backlog_bytes / self.byte_rate + 2.0))
        writer.transport.resume_reading()
        try:
            while await asyncio.wait_for(reader.read(1 << 16), 3.0):
                pass
            self.report.slow_cut_off += 1  # the server closed it
        except ConnectionError:
            self.report.slow_cut_off += 1  # reset: cut off
        except asyncio.TimeoutError:
            pass  # still open: the server never dropped it
        writer.close()

    async def events(self) -> None:
        self.count("event feeds")
        reader, writer, _ = await self.request("GET", f"/api/channels/{self.rng.choice(self.channels)}/events")
        end = time.monotonic() + self.rng.uniform(0.2, 3.0)
        while time.monotonic() < end and await reader.read(1 << 14):
            pass
        writer.close()

    async def small(self) -> None:
        kind, path = self.rng.choice([
            ("HEAD requests", ("HEAD", f"/stream/{self.rng.choice(self.channels)}.mp3")),
            ("MIDI downloads", ("GET", f"/api/channels/{self.rng.choice(self.channels)}/current.mid")),
            ("API calls", ("GET", "/api/channels")),
        ])
        self.count(kind)
        reader, writer, _ = await self.request(*path)
        await reader.read()
        writer.close()

    async def guarded(self, coro) -> None:
        try:
            await coro
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
            pass  # a churn client the server cut off, or that cut itself off: that is the point


async def run_soak(*, real_seconds: float, speed: float, styles: list[str] | None = None, steady_per_channel: int = 2,
                   churn_per_second: float = 6.0, seed: int = 1, warmup_seconds: float = 3.0,
                   warmup_churn_seconds: float | None = None, quality: int = 2,
                   max_backlog_bytes: int = 256 * 1024, piece_minutes: float | None = 0.5) -> SoakReport:
    from aiohttp import web

    from radio.broadcast.broadcaster import BroadcastSettings
    from radio.station.channel import RECENT_PIECES, ChannelSettings
    from radio.station.station import Station
    from radio.styles import discover_styles
    from radio.web.app import create_app
    from radio.web.limits import Caps

    found = discover_styles()
    chosen = [found[s] for s in styles] if styles else list(found.values())
    if piece_minutes is not None:
        # Short pieces: many piece changes (titles, MIDI files, key changes) per station hour,
        # and the bounded history of recent pieces is full early, so RSS is measured at its plateau.
        chosen = [dataclasses.replace(s, piece_minutes=piece_minutes) for s in chosen]
    settings = ChannelSettings(
        quality=quality,
        # The production margin in real time (3 s kept ready), whatever the speed-up: at 2x that
        # is 6 s of station time. A thinner margin would measure the harness, not the station.
        ahead_seconds=min(60.0, ChannelSettings().ahead_seconds * speed),
        seed=seed,
        time_scale=speed,
        broadcast=BroadcastSettings(write_interval=0.1, max_backlog_bytes=max_backlog_bytes),
    )
    station = Station(settings)
    for style in chosen:
        await station.add_style(style)
    app = create_app(station, manage_station=True, admin=False, caps=Caps(max_listeners_per_client=0,
                                                                         max_event_clients_per_client=0))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    names = list(station.channels)
    report = SoakReport(channels=names, speed=speed)
    soak = Soak("127.0.0.1", port, names, speed, random.Random(seed), report)
    soak.backlog_bytes = max_backlog_bytes
    try:
        await asyncio.sleep(warmup_seconds)  # every channel fills its lead
        stop = asyncio.Event()
        tallies = [[0] for _ in range(steady_per_channel * len(names))]
        steady = [asyncio.get_running_loop().create_task(soak.steady(f"/stream/{names[i % len(names)]}.mp3", stop, t))
                  for i, t in enumerate(tallies)]
        report.steady_listeners = len(steady)
        kinds = [soak.short, soak.short, soak.mid_frame, soak.events, soak.small, soak.small, soak.slow]

        async def settle() -> None:
            """End every churn client and let the server notice each closed connection."""
            for task in list(soak.tasks):
                task.cancel()
            await asyncio.gather(*soak.tasks, return_exceptions=True)
            for writer in soak.writers:
                writer.transport.abort()
            soak.writers.clear()
            await asyncio.sleep(1.5)

        async def churn(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                soak.spawn(soak.guarded(soak.rng.choice(kinds)()))
                await asyncio.sleep(soak.rng.expovariate(churn_per_second))
                for task in steady:
                    if task.done():
                        task.result()  # a steady listener cut off is a failure: raise it

        # A first round of churn before the baseline: the first client of every kind fills
        # aiohttp's and the allocator's pools once; growth is what happens after that.
        # ...and until every channel holds its full history of recent pieces (a bounded cache
        # that grows until then), unless a fixed warm-up was asked for.
        warm_end = time.monotonic() + (warmup_churn_seconds if warmup_churn_seconds is not None
                                       else max(5.0, 0.25 * real_seconds))
        while time.monotonic() < warm_end or (warmup_churn_seconds is None and not all(
                len(c._pieces) == RECENT_PIECES for c in station.channels.values())
                and time.monotonic() < warm_end + real_seconds):
            await churn(1.0)
        await settle()
        for _ in range(3):
            gc.collect()
        report.rss_start_kb, report.fds_start = rss_kb(), open_fds()
        underruns_before = sum(c.broadcaster.underruns for c in station.channels.values())
        released_before = {n: c.broadcaster.released_seconds for n, c in station.channels.items()}
        start_bytes = [t[0] for t in tallies]
        t0 = time.monotonic()
        await churn(real_seconds)
        window = time.monotonic() - t0
        got = [t[0] - s for t, s in zip(tallies, start_bytes)]
        report.real_seconds = window
        report.station_seconds = min(c.broadcaster.released_seconds - released_before[n]
                                     for n, c in station.channels.items())
        report.expected_bytes = int(sum(window * soak.byte_rate for _ in got))
        report.delivered_bytes = sum(got)
        report.underruns = sum(c.broadcaster.underruns for c in station.channels.values()) - underruns_before
        await settle()
        for _ in range(3):
            gc.collect()
        report.rss_end_kb, report.fds_end = rss_kb(), open_fds()
        stop.set()
        for task in steady:
            task.cancel()
        await asyncio.gather(*steady, return_exceptions=True)
    finally:
        await runner.cleanup()
    return report


def main(argv: list[str] | None = None) -> int:
    from bench.run_all import machine

    p = argparse.ArgumentParser(description="Soak the station: every channel, listener churn, accelerated clock.")
    p.add_argument("--minutes", type=float, default=12.0, help="real minutes to run (default 12)")
    p.add_argument("--speed", type=float, default=10.0, help="station seconds per real second (default 10)")
    p.add_argument("--styles", default="", help="comma-separated channels (default: every bundled style)")
    p.add_argument("--steady", type=int, default=2, help="steady listeners per channel (default 2)")
    p.add_argument("--churn", type=float, default=6.0, help="churn clients started per real second (default 6)")
    p.add_argument("--quality", type=int, default=2, help="LAME quality of the channels (default 2, as served)")
    p.add_argument("--piece-minutes", type=float, default=0.5, help="piece length (default 0.5: many piece changes)")
    p.add_argument("--json", action="store_true", help="also print the report as JSON")
    a = p.parse_args(argv)
    print(f"machine: {machine(f'load average {os.getloadavg()[0]:.1f}')}")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        report = asyncio.run(run_soak(real_seconds=a.minutes * 60, speed=a.speed,
                                      styles=[s for s in a.styles.split(",") if s] or None,
                                      steady_per_channel=a.steady, churn_per_second=a.churn, quality=a.quality,
                                      piece_minutes=a.piece_minutes))
    print("\n".join(report.lines()))
    if a.json:
        print(json.dumps(asdict(report) | {"rss_growth": report.rss_growth, "delivered_ratio": report.delivered_ratio}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())

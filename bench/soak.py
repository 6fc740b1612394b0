"""The soak: every channel, with a churn of listeners, over hours of station time.

``make soak`` (``python -m bench.soak``: 24 real minutes at ``--speed 5``) runs the real station
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

It reports underruns (must be 0, each with its channel and moment), RSS and open file
descriptors at the start and the end (after the churn, with only the steady listeners left:
growth must stay under 5% and the fds equal), RSS samples along the run (a plateau or a
slope), and delivered vs expected bytes; and, to tell a starved render chain from a stall, the
CPU of the render threads and of the event loop, how late the loop woke, the longest full GC
and the least audio each channel kept ready. The baseline is taken once every bounded history
is full (the 610 s of frames kept for "record what you heard": two real minutes at 5x; the
twelve recent pieces). ``--diagnose`` adds tracemalloc: what grew, by allocating traceback.
``tests/station/test_soak.py`` runs a short one.

Why 5x: the five bundled channels together render at about 11.7x real time per core (CPU
time; compose + synth + LAME q2), so 5x asks for ~0.45 core of rendering, measured at
0.46-0.53 core for the whole process; 10x asks for a whole core, which a process on a shared
2-core box does not get, and that, not a stall, is what the underruns at 10x were.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import gc
import json
import logging
import os
import random
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass, field

RATE_BITS = 128_000
SHOWN_UNDERRUNS = 10  # listed one by one; the rest are counted by channel


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def malloc_info() -> dict[str, int] | None:
    """glibc's view of the C heap (``mallinfo2``), in KB: ``heap`` (main arena + other
    arenas), ``mmap`` (big blocks mapped on their own), ``used`` (handed out) and ``free``
    (held by the allocator but not in use: fragmentation, or room for the next allocation).
    None where the C library is not glibc >= 2.33."""
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in
                        ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                         "fordblks", "keepcost")]

        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return None
    return {"heap": m.arena // 1024, "mmap": m.hblkhd // 1024, "used": (m.uordblks + m.hblkhd) // 1024,
            "free": m.fordblks // 1024}


def malloc_trim() -> bool:
    """Diagnostic only: give the C heap's free pages back to the kernel (glibc)."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


@dataclass
class Sample:
    """One look at the process along the run (``t``: real seconds since the baseline)."""

    t: float  # real seconds since the soak started (the baseline comes after the warm-up)
    rss_kb: int
    malloc: dict[str, int] | None = None
    traced_kb: int | None = None  # tracemalloc's current total (--diagnose)
    recording_frames: int = 0  # every channel's "record what you heard" history, in frames
    piece_beats: int = 0  # beats held by every channel's recent pieces

    def line(self) -> str:
        extra = ""
        if self.malloc:
            extra += f", C heap {self.malloc['used'] / 1024:.1f} MB used + {self.malloc['free'] / 1024:.1f} MB free"
        if self.traced_kb is not None:
            extra += f", Python-traced {self.traced_kb / 1024:.1f} MB"
        return (f"    {self.t:7.0f} s  RSS {self.rss_kb / 1024:6.1f} MB{extra}; "
                f"{self.recording_frames:,} recorded frames, {self.piece_beats:,} piece beats")


@dataclass
class Underrun:
    channel: str
    t: float  # real seconds since the baseline (negative: in the warm-up)
    late_seconds: float  # station seconds the live edge had passed the encoder


class UnderrunLog(logging.Handler):
    """Catches the broadcaster's own underrun warnings, with the channel and how late."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.t0 = time.monotonic()
        self.seen: list[Underrun] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().find(": underrun, the encoder was ") < 0:
            return
        channel, late = record.args[0], float(record.args[1])
        self.seen.append(Underrun(channel, time.monotonic() - self.t0, late))


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
    load_average: float = 0.0  # the box's 1-minute load average when the soak started
    warmup_seconds: float = 0.0  # real seconds before the baseline
    caches_full_at_start: bool = False  # every bounded history was full at the baseline
    underrun_events: list[Underrun] = field(default_factory=list)  # in the window
    warmup_underruns: int = 0
    loop_lag_p99: float = 0.0  # seconds the event loop woke late, 99th percentile
    loop_lag_max: float = 0.0
    min_lead: dict[str, float] = field(default_factory=dict)  # least encoded audio ahead of live, real s
    gc_max_pause: float = 0.0  # longest full (generation 2) collection, seconds
    cpu_cores: float = 0.0  # the whole process's CPU time / real time, over the window
    render_cores: float = 0.0  # the channels' render threads (compose, synth, encode) together
    loop_cores: float = 0.0  # the event-loop thread (server and the soak's own clients)
    samples: list[Sample] = field(default_factory=list)
    rss_trimmed_kb: int = 0  # RSS after malloc_trim(0), taken after the end figure (0: not glibc)

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
            f"  underruns: {self.underruns} (target 0)"
            + "".join(f"\n    {u.channel} at {u.t:.1f} s, {u.late_seconds:.2f} station s late"
                      for u in self.underrun_events[:SHOWN_UNDERRUNS])
            + (f"\n    ... {len(self.underrun_events) - SHOWN_UNDERRUNS} more; by channel: "
               + ", ".join(f"{n} {sum(u.channel == n for u in self.underrun_events)}" for n in self.channels)
               if len(self.underrun_events) > SHOWN_UNDERRUNS else "")
            + (f"\n    (and {self.warmup_underruns} in the warm-up, before the baseline)" if self.warmup_underruns else ""),
            f"  CPU over the window: {self.cpu_cores:.2f} cores for the process, {self.render_cores:.2f} in the render "
            f"threads, {self.loop_cores:.2f} in the event loop (server + the soak's clients); "
            f"load average {self.load_average:.2f} at the start",
            f"  event loop woke late by {1000 * self.loop_lag_p99:.0f} ms at p99, {1000 * self.loop_lag_max:.0f} ms at most; "
            f"longest full GC {1000 * self.gc_max_pause:.0f} ms",
            "  least audio ready ahead of live (real s): "
            + ", ".join(f"{n} {v:.2f}" for n, v in self.min_lead.items()),
            f"  RSS: {self.rss_start_kb / 1024:.1f} MB at the start, {self.rss_end_kb / 1024:.1f} MB at the end "
            f"({100 * self.rss_growth:+.2f}%, target < 5%); baseline after {self.warmup_seconds:.0f} s of warm-up, "
            f"{'with' if self.caches_full_at_start else 'BEFORE'} every bounded history full",
            *([f"  after the end figure, malloc_trim(0) hands back free C heap: RSS {self.rss_trimmed_kb / 1024:.1f} MB "
               "(a diagnostic, not the figure above)"] if self.rss_trimmed_kb else []),
            "  RSS along the run (the baseline at the warm-up's end, the last sample at the end):",
            *(sample.line() + (" (warm-up)" if sample.t < self.warmup_seconds else "") for sample in self.samples),
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
        self.writers: set[asyncio.StreamWriter] = set()  # open churn connections, closed for sure at a settle

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
        self.writers.add(writer)
        # Forgotten when its client ends, whichever way: a list of every churn connection ever
        # made (with its reader's unread buffer) grew by megabytes over a long soak, and the
        # soak's own clients run in the measured process.
        task = asyncio.current_task()
        if task is not None and task in self.tasks:
            task.add_done_callback(lambda _: (writer.transport.abort(), self.writers.discard(writer)))
        writer.write(f"{method} {path} HTTP/1.0\r\nHost: soak\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status >= 500:
            self.report.server_errors += 1
        return reader, writer, status

    async def steady(self, path: str, stop: asyncio.Event, tally: list[int]) -> None:
        reader, writer, status = await self.request("GET", path)
        self.writers.discard(writer)  # open from start to end, not churn
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


def lag_p99_max(lags: "collections.Counter[int]") -> tuple[float, float]:
    """The 99th percentile and the largest of lags counted per millisecond, in seconds."""
    total, seen, p99 = sum(lags.values()), 0, None
    for ms in sorted(lags):
        seen += lags[ms]
        if p99 is None and seen >= 0.99 * total:
            p99 = ms
    return (p99 or 0) / 1000, max(lags, default=0) / 1000


def thread_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of every thread of this process, by native thread id."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


class Monitor:
    """Watches the run from the event loop: how late the loop wakes (a blocked loop delays
    every listener's write), how much encoded audio each channel keeps ahead of live (in real
    seconds: what stands between a slow chunk and an underrun), GC pauses, and a sample of
    RSS every ``sample_every`` real seconds."""

    TICK = 0.05

    def __init__(self, station, speed: float, sample_every: float) -> None:
        self.station, self.speed, self.sample_every = station, speed, sample_every
        self.origin = time.monotonic()  # samples count from here: the warm-up shows how RSS got to the baseline
        self._next_sample = self.origin
        self.samples: list[Sample] = []
        self.reset()
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def reset(self) -> None:
        """Start the window: lags, leads and GC pauses are measured from here."""
        # Lags counted per whole millisecond, not kept one by one: a list of every tick's lag
        # grew by ~1 MB over a 24-minute soak, in the very process whose RSS is measured.
        self.lags: collections.Counter[int] = collections.Counter()
        self.min_lead = {name: float("inf") for name in self.station.channels}
        self.gc_pauses: list[float] = []

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif info.get("generation") == 2:
            self.gc_pauses.append(time.perf_counter() - self._gc_started)

    def close(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)

    def sample(self) -> Sample:
        import tracemalloc

        channels = self.station.channels.values()
        out = Sample(
            t=round(time.monotonic() - self.origin, 1), rss_kb=rss_kb(), malloc=malloc_info(),
            traced_kb=tracemalloc.get_traced_memory()[0] // 1024 if tracemalloc.is_tracing() else None,
            recording_frames=sum(len(c.recording._frames) for c in channels),
            piece_beats=sum(len(p.beats) for c in channels for p in c._pieces),
        )
        self.samples.append(out)
        return out

    async def run(self, verbose: bool) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.TICK)
            now = time.monotonic()
            self.lags[int(1000 * max(0.0, now - before - self.TICK))] += 1
            for name, channel in self.station.channels.items():
                lead = channel.broadcaster.ahead_seconds / self.speed
                if lead < self.min_lead[name]:
                    self.min_lead[name] = lead
            if now >= self._next_sample:
                self._next_sample += self.sample_every
                sample = self.sample()
                if verbose:
                    print(sample.line(), flush=True)


async def run_soak(*, real_seconds: float, speed: float, styles: list[str] | None = None, steady_per_channel: int = 2,
                   churn_per_second: float = 6.0, seed: int = 1, warmup_seconds: float = 3.0,
                   warmup_churn_seconds: float | None = None, quality: int = 3,
                   max_backlog_bytes: int = 256 * 1024, piece_minutes: float | None = 0.5,
                   sample_every: float = 60.0, verbose: bool = False, diagnose: bool = False) -> SoakReport:
    from aiohttp import web

    from radio.broadcast.broadcaster import BroadcastSettings
    from radio.station.channel import RECENT_PIECES, ChannelSettings
    from radio.station.recording import HISTORY_SECONDS
    from radio.station.station import Station
    from radio.styles import discover_styles
    from radio.web.app import create_app
    from radio.music.form import FormPlan
    from radio.web.limits import Caps

    if diagnose:
        import tracemalloc

        tracemalloc.start(6)
    found = discover_styles()
    chosen = [found[s] for s in styles] if styles else list(found.values())
    if piece_minutes is not None:
        # Short pieces: many piece changes (titles, MIDI files, key changes) per station hour,
        # and the bounded history of recent pieces is full early, so RSS is measured at its plateau.
        # A form plan would set the pieces' length itself, so it is set aside.
        chosen = [dataclasses.replace(s, piece_minutes=piece_minutes, form=FormPlan()) for s in chosen]
    settings = ChannelSettings(
        quality=quality,
        # The production margin in real time (3 s kept ready), whatever the speed-up: at 2x that
        # is 6 s of station time. A thinner margin would measure the harness, not the station.
        ahead_seconds=min(60.0, ChannelSettings().ahead_seconds * speed),
        seed=seed,
        time_scale=speed,
        broadcast=BroadcastSettings(write_interval=0.1, max_backlog_bytes=max_backlog_bytes),
    )
    underrun_log = UnderrunLog()
    logging.getLogger("radio.broadcast").addHandler(underrun_log)
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
    report = SoakReport(channels=names, speed=speed, load_average=round(os.getloadavg()[0], 2))
    soak = Soak("127.0.0.1", port, names, speed, random.Random(seed), report)
    soak.backlog_bytes = max_backlog_bytes
    monitor = Monitor(station, speed, sample_every)
    monitor_task = asyncio.get_running_loop().create_task(monitor.run(verbose))
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
            for writer in list(soak.writers):
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

        def bounded_caches_full() -> bool:
            """Every bounded history holds all it will ever hold: the recent pieces (with their
            notes, for MIDI downloads) and the frames for "record what you heard"."""
            return all(len(c._pieces) == RECENT_PIECES and c.recording.total * c.recording.frame_seconds
                       >= HISTORY_SECONDS for c in station.channels.values())

        # A first round of churn before the baseline: the first clients of every kind fill
        # aiohttp's and the allocator's pools once; growth is what happens after that.
        # ...and until every bounded history is full (they grow until then: at 5x the 610 s of
        # recorded frames take two real minutes), unless a fixed warm-up was asked for.
        warm_end = time.monotonic() + (warmup_churn_seconds if warmup_churn_seconds is not None
                                       else min(60.0, real_seconds))
        while time.monotonic() < warm_end or (warmup_churn_seconds is None and not bounded_caches_full()
                                              and time.monotonic() < warm_end + real_seconds):
            await churn(1.0)
        await settle()
        for _ in range(3):
            gc.collect()
        report.warmup_seconds = round(time.monotonic() - monitor.origin, 1)
        report.caches_full_at_start = bounded_caches_full()
        report.rss_start_kb, report.fds_start = rss_kb(), open_fds()
        if verbose:
            print(f"  baseline: {monitor.sample().line().strip()}", flush=True)
        else:
            monitor.sample()
        snapshot_start = tracemalloc.take_snapshot() if diagnose else None
        underruns_before = sum(c.broadcaster.underruns for c in station.channels.values())
        released_before = {n: c.broadcaster.released_seconds for n, c in station.channels.items()}
        start_bytes = [t[0] for t in tallies]
        baseline_offset = time.monotonic() - underrun_log.t0
        monitor.reset()
        cpu0, threads0 = os.times(), thread_cpu_seconds()
        t0 = time.monotonic()
        await churn(real_seconds)
        window = time.monotonic() - t0
        cpu1, threads1 = os.times(), thread_cpu_seconds()
        got = [t[0] - s for t, s in zip(tallies, start_bytes)]
        report.real_seconds = window
        report.station_seconds = min(c.broadcaster.released_seconds - released_before[n]
                                     for n, c in station.channels.items())
        report.expected_bytes = int(sum(window * soak.byte_rate for _ in got))
        report.delivered_bytes = sum(got)
        report.underruns = sum(c.broadcaster.underruns for c in station.channels.values()) - underruns_before
        report.underrun_events = [dataclasses.replace(u, t=round(u.t - baseline_offset, 2)) for u in underrun_log.seen
                                  if u.t >= baseline_offset]
        report.warmup_underruns = len(underrun_log.seen) - len(report.underrun_events)
        report.loop_lag_p99, report.loop_lag_max = lag_p99_max(monitor.lags)
        report.min_lead = {n: round(v, 2) for n, v in monitor.min_lead.items()}
        report.gc_max_pause = max(monitor.gc_pauses, default=0.0)
        report.cpu_cores = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / window
        render = {c._thread.native_id for c in station.channels.values() if c._thread is not None}
        spent = {tid: threads1.get(tid, 0.0) - threads0.get(tid, 0.0) for tid in threads1}
        report.render_cores = sum(v for tid, v in spent.items() if tid in render) / window
        report.loop_cores = spent.get(threading.main_thread().native_id, 0.0) / window
        await settle()
        for _ in range(3):
            gc.collect()
        report.rss_end_kb, report.fds_end = rss_kb(), open_fds()
        monitor.sample()
        report.samples = monitor.samples
        # After the end figure, never before it: how much of RSS is free C heap that glibc
        # keeps (fragmentation, per-thread arenas) and would hand back if asked.
        if malloc_trim():
            report.rss_trimmed_kb = rss_kb()
        if diagnose:
            print_growth(snapshot_start, tracemalloc.take_snapshot())
        stop.set()
        for task in steady:
            task.cancel()
        await asyncio.gather(*steady, return_exceptions=True)
    finally:
        monitor_task.cancel()
        await asyncio.gather(monitor_task, return_exceptions=True)
        monitor.close()
        logging.getLogger("radio.broadcast").removeHandler(underrun_log)
        await runner.cleanup()
    return report


def print_growth(start, end, top: int = 12) -> None:
    """What Python allocated between the two tracemalloc snapshots, by allocating traceback."""
    import tracemalloc

    stats = end.compare_to(start, "traceback")  # (filter_traces is pure Python: minutes on a full history)
    total = sum(s.size_diff for s in stats)
    print(f"tracemalloc: Python-traced memory {total / 1024:+,.0f} KB between the baseline and the end; "
          f"the biggest changes by traceback:")
    for stat in sorted(stats, key=lambda s: -abs(s.size_diff))[:top]:
        print(f"  {stat.size_diff / 1024:+9,.0f} KB  {stat.count_diff:+7,d} blocks  (now {stat.size / 1024:,.0f} KB)")
        for line in stat.traceback.format(limit=4, most_recent_first=True):
            print(f"      {line.strip()}")


def main(argv: list[str] | None = None) -> int:
    from bench.run_all import machine

    p = argparse.ArgumentParser(description="Soak the station: every channel, listener churn, accelerated clock.")
    p.add_argument("--minutes", type=float, default=24.0,
                   help="real minutes measured, after the warm-up (default 24: two station hours per channel at 5x)")
    p.add_argument("--speed", type=float, default=5.0,
                   help="station seconds per real second (default 5: about half a core for five channels, "
                        "see docs/operations.md)")
    p.add_argument("--styles", default="", help="comma-separated channels (default: every bundled style)")
    p.add_argument("--steady", type=int, default=2, help="steady listeners per channel (default 2)")
    p.add_argument("--churn", type=float, default=6.0, help="churn clients started per real second (default 6)")
    p.add_argument("--quality", type=int, default=3, help="LAME quality of the channels (default 3, as served)")
    p.add_argument("--piece-minutes", type=float, default=0.5, help="piece length (default 0.5: many piece changes)")
    p.add_argument("--sample-every", type=float, default=60.0, help="real seconds between RSS samples (default 60)")
    p.add_argument("--diagnose", action="store_true",
                   help="trace Python allocations (tracemalloc: slow) and print what grew, by traceback")
    p.add_argument("--json", action="store_true", help="also print the report as JSON")
    a = p.parse_args(argv)
    print(f"machine: {machine(f'load average {os.getloadavg()[0]:.1f}')}")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        report = asyncio.run(run_soak(real_seconds=a.minutes * 60, speed=a.speed,
                                      styles=[s for s in a.styles.split(",") if s] or None,
                                      steady_per_channel=a.steady, churn_per_second=a.churn, quality=a.quality,
                                      piece_minutes=a.piece_minutes, sample_every=a.sample_every,
                                      verbose=True, diagnose=a.diagnose))
    print("\n".join(report.lines()))
    if a.json:
        print(json.dumps(asdict(report) | {"rss_growth": report.rss_growth, "delivered_ratio": report.delivered_ratio}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())

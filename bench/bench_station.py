"""Station figures: render-chain speed, channels per core, listeners, latency and memory.

``main()`` prints, in one run:
- the real-time factor of each stage (compose, synth, encode) and of the whole chain for one
  channel on one core (CPU time of the rendering thread, so other load on the box does not
  count against it; wall-clock figures are printed beside it);
- how many channels one core keeps ahead of real time (a real ``continuo serve`` pinned to
  one CPU, with N copies of a bundled style, zero underruns over the measured window);
- the largest number of concurrent 128 kbps listeners on loopback for which every listener
  still gets ≥ 99% of its bytes on time, in steps of 3,000 up to 18,000 (the server's own
  20,000 open files end the test there), and where on-time delivery first drops. The load
  clients (``bench/listener_load.py``, one epoll process per 8,000 listeners) cost about 1.3% of a
  core per 1,000 listeners, so the server is what the steps saturate. Each step prints, for the
  joins and for the window apart: the server's CPU and its event-loop thread's (average and
  busiest second), the broadcaster's write-loop time per tick (``continuo_broadcast_send_seconds``),
  the load clients' CPU and the whole box's; and peak RSS per listener, open fds and the box's
  TCP buffer memory. ``python -m bench.bench_station listeners`` runs only this and the cap;
- the listener cap holding: listeners under the cap keep ≥ 99% of their bytes on time while
  another process hammers the server past it (every extra connection gets 503 + Retry-After);
- process start → first audio byte, connect → first byte, RSS per channel and per 1,000
  listeners.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.run_all import machine

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AUDIO_SECONDS = 60.0  # of music per stage measurement
# Up to 18,000: the server's own open-files limit is 20,000 on the development box, so a
# step past that would measure the limit, not the server.
LISTENER_STEPS = (3000, 6000, 9000, 12000, 15000, 18000)
LISTENER_WINDOW = 15.0
# One epoll load process costs about 1.3% of a core per 1,000 listeners and may hold 20,000
# sockets; several spread the reading over both cores so the clients never queue behind the server.
LISTENERS_PER_PROCESS = 8000
CONNECTS_PER_SECOND = 1000.0  # all load processes together
NO_CAPS = ("--max-listeners", "0", "--max-listeners-per-client", "0",
           "--max-event-clients", "0", "--max-event-clients-per-client", "0")
CAP_LISTENERS = 1000  # the cap the cap-holding run sets, and fills
HAMMER_SECONDS = 20.0
CHANNEL_STEPS = (8, 16, 24, 32, 48, 64)
CHANNEL_WINDOW = 10.0
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


# --- stage speed ------------------------------------------------------------------------
def stage_speed(style_name: str = "baroque") -> float:
    from threadpoolctl import threadpool_limits

    from radio.audio.mp3 import FrameSplitter, Mp3Encoder
    from radio.audio.synth import Synth
    from radio.station.composer import Composer
    from radio.model import load_model
    from radio.styles import get_style

    style = get_style(style_name)
    model = load_model(style.model_path)
    hp = model.header.get("hyperparameters") or model.header.get("model") or {}
    print(f"model: {style.model_path.relative_to(REPO)} version {model.version} {json.dumps(hp)[:160]}")

    def timed(fn):
        c0, w0 = time.thread_time(), time.perf_counter()
        out = fn()
        return out, time.thread_time() - c0, time.perf_counter() - w0

    with threadpool_limits(limits=1):
        composer = Composer(style, model, seed=1)
        beats_needed = int(AUDIO_SECONDS / composer.beat_seconds)

        def compose():
            chunks = []
            while composer.beat < beats_needed:
                chunks.append(composer.next_chunk().beats)
            return chunks

        chunks, c_cpu, c_wall = timed(compose)
        audio_s = sum(len(c) for c in chunks) * composer.beat_seconds
        synth = Synth(style.timbre, bpm=style.tempo_bpm)
        pcms, s_cpu, s_wall = timed(lambda: [synth.render(c) for c in chunks])
        encoder = Mp3Encoder(bitrate_kbps=128, quality=2)
        _, e_cpu, e_wall = timed(lambda: [encoder.encode(p) for p in pcms])

        composer2 = Composer(style, model, seed=2)
        synth2 = Synth(style.timbre, bpm=style.tempo_bpm)
        encoder2, splitter = Mp3Encoder(bitrate_kbps=128, quality=2), FrameSplitter()

        def chain():
            while composer2.beat < beats_needed:
                splitter.feed(encoder2.encode(synth2.render(composer2.next_chunk().beats)))

        _, ch_cpu, ch_wall = timed(chain)
    print(f"stage real-time factors, one channel, one thread ({audio_s:.0f} s of music, chunks of "
          f"{composer.settings.chunk_beats} beats; CPU-time RT, wall-clock RT in brackets):")
    for name, cpu, wall in (("compose", c_cpu, c_wall), ("synth", s_cpu, s_wall), ("encode (LAME q2, 128k)", e_cpu, e_wall)):
        print(f"  {name:24s} {audio_s / cpu:8.0f}x   ({audio_s / wall:.0f}x)   {1000 * cpu / len(chunks):.2f} ms per chunk")
    rt = audio_s / ch_cpu
    print(f"  {'whole chain':24s} {rt:8.0f}x   ({audio_s / ch_wall:.0f}x)   target >= 60x")
    return rt


# --- running servers --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``continuo serve`` in a subprocess (optionally pinned to one CPU)."""

    def __init__(self, *args: str, styles_dir: Path | None = None, cpu: int | None = None) -> None:
        self.port = free_port()
        env = dict(ENV)
        if styles_dir is not None:
            env["CONTINUO_STYLES"] = str(styles_dir)
        env["CONTINUO_HOME"] = tempfile.mkdtemp(prefix="continuo-bench-home-")
        self._home = env["CONTINUO_HOME"]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "radio.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def first_audio_byte(self, style: str, timeout: float = 30.0) -> float:
        """Seconds from process start until the first audio byte of ``style`` arrives."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                    s.sendall(f"GET /stream/{style}.mp3 HTTP/1.0\r\n\r\n".encode())
                    data = b""
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise ConnectionError("closed before audio")
                        data += chunk
                        head, sep, body = data.partition(b"\r\n\r\n")
                        if sep and body:
                            return time.perf_counter() - self.started
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"continuo serve exited with {self.proc.returncode}")
                time.sleep(0.01)
        raise TimeoutError("no audio from continuo serve")

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read()

    def rss_kb(self) -> int:
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> float:
        t0 = time.perf_counter()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self._home, ignore_errors=True)
        return time.perf_counter() - t0


def underruns(server: Server) -> int:
    health = json.loads(server.get("/healthz"))
    return sum(c["underruns"] for c in health["channels"].values())


# --- channels per core ------------------------------------------------------------------
def channels_per_core(style: str = "baroque") -> int:
    cpu = sorted(os.sched_getaffinity(0))[-1]
    best = 0
    for n in CHANNEL_STEPS:
        with tempfile.TemporaryDirectory(prefix="continuo-bench-styles-") as tmp:
            for i in range(n):
                shutil.copytree(REPO / "styles" / style, Path(tmp) / f"{style}-{i}")
            server = Server(styles_dir=Path(tmp), cpu=cpu)
            try:
                server.first_audio_byte(f"{style}-{n - 1}", timeout=60)
                time.sleep(3.0)  # every channel has filled its lead
                before, c0 = underruns(server), server.cpu_seconds()
                time.sleep(CHANNEL_WINDOW)
                after, c1 = underruns(server), server.cpu_seconds()
                health = json.loads(server.get("/healthz"))
            finally:
                server.stop()
        lowest_ahead = min(c["buffer_ahead_seconds"] for c in health["channels"].values())
        ok = after == before and lowest_ahead > 0
        print(f"  {n:3d} channels on CPU {cpu}: {after - before} underruns in {CHANNEL_WINDOW:.0f} s, "
              f"lowest buffer ahead {lowest_ahead:.2f} s, {100 * (c1 - c0) / CHANNEL_WINDOW:.0f}% of the core "
              f"-> {'kept up' if ok else 'fell behind'}")
        if not ok:
            break
        best = n
    return best


# --- listeners --------------------------------------------------------------------------
def connect_first_byte(server: Server, style: str, n: int = 50) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.sendall(f"GET /stream/{style}.mp3 HTTP/1.0\r\n\r\n".encode())
            data = b""
            while True:
                data += s.recv(65536)
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep and body:
                    break
        times.append(time.perf_counter() - t0)
    return sorted(times)


@dataclass
class Sample:
    """One look at the server, the load processes and the box, taken every second of a step."""

    unix: float
    server_cpu: float  # CPU seconds of the whole server process
    loop_cpu: float  # of its main thread: the event loop that accepts, parses and writes
    clients_cpu: float  # of every load process together
    rss_kb: int
    fds: int
    tcp_mem_kb: int  # kernel memory in every TCP socket buffer on the box (loopback: both ends)
    box_busy: float  # jiffies, all cores
    box_total: float
    send: dict[str, float]  # broadcast write-loop histogram, summed over channels: sum, count, le=...


def _cpu_seconds(pid: int, tid: int | None = None) -> float:
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        fields = open(path).read().rsplit(")", 1)[1].split()
    except OSError:  # a load process that has just exited
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tcp_mem_kb() -> int:
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def _box_jiffies() -> tuple[float, float]:
    values = [float(v) for v in open("/proc/stat").readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _send_histogram(server: Server) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in server.get("/metrics").decode().splitlines():
        if not line.startswith("continuo_broadcast_send_seconds_"):
            continue
        name, value = line.rsplit(" ", 1)
        if "_bucket{" in name:
            key = "le=" + name.split('le="', 1)[1].split('"', 1)[0]
        else:
            key = name.split("{", 1)[0].rsplit("_", 1)[1]  # sum / count / created
        out[key] = out.get(key, 0.0) + float(value)
    return out


def sample(server: Server, clients: list[int]) -> Sample:
    pid = server.proc.pid
    busy, total = _box_jiffies()
    return Sample(
        unix=time.time(), server_cpu=server.cpu_seconds(), loop_cpu=_cpu_seconds(pid, pid),
        clients_cpu=sum(_cpu_seconds(c) for c in clients),
        rss_kb=server.rss_kb(), fds=len(os.listdir(f"/proc/{pid}/fd")), tcp_mem_kb=_tcp_mem_kb(),
        box_busy=busy, box_total=total, send=_send_histogram(server),
    )


@dataclass
class Phase:
    """Averages between two samples: the joins (connects and settle) or the window."""

    seconds: float
    server_core: float  # the server process, fraction of one core
    loop_core: float  # its event-loop thread
    loop_peak: float  # the busiest second of the event-loop thread
    clients_core: float  # every load process together
    box_cores: float  # the whole box, in cores
    send_ms: float  # mean write-loop time per broadcast tick (wall clock)
    send_share: float  # fraction of the time the event loop spent in write loops
    send_worst_le: str  # the histogram bucket holding the slowest tick

    @classmethod
    def between(cls, samples: list[Sample]) -> "Phase":
        a, b = samples[0], samples[-1]
        span = max(1e-6, b.unix - a.unix)
        ticks = b.send.get("count", 0) - a.send.get("count", 0)
        spent = b.send.get("sum", 0) - a.send.get("sum", 0)
        buckets = sorted((k for k in b.send if k.startswith("le=")), key=lambda k: float(k[3:]))
        worst = next((k[3:] for k in buckets if b.send[k] - a.send.get(k, 0) >= ticks), "+Inf")
        cores = os.cpu_count() or 1
        return cls(
            seconds=span, server_core=(b.server_cpu - a.server_cpu) / span, loop_core=(b.loop_cpu - a.loop_cpu) / span,
            loop_peak=max(((y.loop_cpu - x.loop_cpu) / max(1e-6, y.unix - x.unix)
                           for x, y in zip(samples, samples[1:])), default=0.0),
            clients_core=(b.clients_cpu - a.clients_cpu) / span,
            box_cores=cores * (b.box_busy - a.box_busy) / max(1.0, b.box_total - a.box_total),
            send_ms=1000 * spent / ticks if ticks else 0.0, send_share=spent / span, send_worst_le=worst,
        )

    def line(self) -> str:
        return (f"server {100 * self.server_core:.0f}% of a core (event loop {100 * self.loop_core:.0f}%, busiest "
                f"second {100 * self.loop_peak:.0f}%; write loops {100 * self.send_share:.0f}% of the time, "
                f"{self.send_ms:.1f} ms per tick, slowest <= {self.send_worst_le} s), load clients "
                f"{100 * self.clients_core:.0f}%, box {self.box_cores:.2f} of {os.cpu_count()} cores")

    def limit(self) -> str:
        """What ran out: the server's event-loop thread, the box's cores, or neither on average."""
        cores = os.cpu_count() or 1
        if self.loop_peak >= 0.85:
            return (f"the server's event-loop thread (busiest second {100 * self.loop_peak:.0f}% of a core, "
                    f"{100 * self.loop_core:.0f}% on average, write loops {100 * self.send_share:.0f}% of the time)")
        if self.box_cores >= 0.9 * cores:
            return (f"the box's {cores} cores ({self.box_cores:.2f} busy: server {self.server_core:.2f}, load clients "
                    f"{self.clients_core:.2f}, the rest other work)")
        return (f"no core on average (box {self.box_cores:.2f} of {cores} busy, server event loop "
                f"{100 * self.loop_core:.0f}%, busiest second {100 * self.loop_peak:.0f}%): bursts ran out")


def run_load(server: Server, count: int, styles: list[str], processes: int, pids: list[int] | None = None) -> dict:
    """``count`` listeners from ``processes`` load processes at once; their results merged.
    The processes' ids go into ``pids`` as they start, for a sampler to watch."""
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    loads = [subprocess.Popen(
        [PYTHON, "-m", "bench.listener_load", "--url", server.url, "--count", str(n), "--seconds", str(LISTENER_WINDOW),
         "--styles", ",".join(styles), "--stagger", str(CONNECTS_PER_SECOND / processes), "--settle", "5"],
        env=ENV, cwd=REPO, stdout=subprocess.PIPE, text=True) for n in shares if n]
    if pids is not None:
        pids.extend(load.pid for load in loads)
    outs = [load.communicate()[0] for load in loads]
    results = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    merged = {k: sum(r[k] for r in results) for k in (
        "count", "connected", "failed_connects", "closed_by_server", "on_time", "on_time_in_window",
        "client_cpu_seconds")}
    merged["all_on_time"] = merged["on_time"] == count
    merged["max_late_fraction"] = max(r["max_late_fraction"] for r in results)
    merged["min_ratio"] = min(r["min_ratio"] for r in results)
    merged["median_ratio"] = statistics.median(r["median_ratio"] for r in results)
    merged["first_byte_ms_median"] = statistics.median(r["first_byte_ms_median"] or 0 for r in results)
    merged["first_byte_ms_p99"] = max(r["first_byte_ms_p99"] or 0 for r in results)
    merged["window_start_unix"] = min(r["window_start_unix"] for r in results)
    merged["window_seconds"] = min(r["window_seconds"] for r in results)
    return merged


@dataclass
class Step:
    """What one listener step measured."""

    count: int
    processes: int
    result: dict
    joins: Phase  # from the first connect to the window: every listener joining, then settling
    window: Phase  # everyone connected
    rss_peak_kb: int  # over the whole step
    fds_peak: int
    tcp_mem_peak_kb: int

    @property
    def held(self) -> bool:
        return bool(self.result["all_on_time"])

    def limit(self) -> str:
        """Where delivery fell behind (steady or while the crowd joined) and what ran out then."""
        if self.result["on_time_in_window"] < self.result["count"]:
            return f"late with everyone connected; what ran out: {self.window.limit()}"
        return (f"late only while {self.count:,} listeners joined at {CONNECTS_PER_SECOND:.0f}/s (on time again "
                f"once settled); what ran out then: {self.joins.limit()}")


def measure_step(server: Server, count: int, styles: list[str]) -> Step:
    processes = max(1, -(-count // LISTENERS_PER_PROCESS))
    samples: list[Sample] = []
    pids: list[int] = []
    done = threading.Event()

    def sampler() -> None:
        while True:
            samples.append(sample(server, list(pids)))
            if done.wait(1.0):
                return

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        result = run_load(server, count, styles, processes, pids)
    finally:
        done.set()
        thread.join()
    begin = result["window_start_unix"]
    end = begin + result["window_seconds"]
    before = [s for s in samples if s.unix <= begin + 0.5]
    inside = [s for s in samples if begin - 0.5 <= s.unix <= end + 0.5]
    return Step(
        count=count, processes=processes, result=result,
        joins=Phase.between(before if len(before) > 1 else samples),
        window=Phase.between(inside if len(inside) > 1 else samples),
        rss_peak_kb=max(s.rss_kb for s in samples), fds_peak=max(s.fds for s in samples),
        tcp_mem_peak_kb=max(s.tcp_mem_kb for s in samples),
    )


def listener_capacity(server: Server, styles: list[str]) -> tuple[int, Step | None, Step | None]:
    """Step the listener count up until on-time delivery first drops.

    Returns the idle RSS, the last step that held, and the step where delivery dropped (or None).
    """
    idle_rss = server.rss_kb()
    best: Step | None = None
    for count in LISTENER_STEPS:
        try:
            step = measure_step(server, count, styles)
        except (IndexError, json.JSONDecodeError, KeyError) as exc:
            print(f"  {count:5d} listeners: a load client failed ({exc!r})")
            return idle_rss, best, None
        r = step.result
        print(
            f"  {count:5d} listeners ({step.processes} load process{'es' if step.processes > 1 else ''}): "
            f"{r['on_time']}/{count} on time, {r['on_time_in_window']} over the window alone (worst "
            f"{100 * r['max_late_fraction']:.1f}% late; window throughput min {100 * r['min_ratio']:.1f}% / median "
            f"{100 * r['median_ratio']:.1f}%); {r['failed_connects']} failed connects, {r['closed_by_server']} cut off; "
            f"first byte median {r['first_byte_ms_median']:.0f} ms / p99 {r['first_byte_ms_p99']:.0f} ms\n"
            f"         joining ({step.joins.seconds:.0f} s): {step.joins.line()}\n"
            f"         window ({step.window.seconds:.0f} s): {step.window.line()}\n"
            f"         peaks: RSS +{(step.rss_peak_kb - idle_rss) / count:.1f} KB per listener, {step.fds_peak} fds, "
            f"TCP buffers (box) {step.tcp_mem_peak_kb / 1024:.0f} MB"
        )
        if not step.held:
            print(f"  on-time delivery first drops at {count:,} listeners: {step.limit()}")
            return idle_rss, best, step
        best = step
    return idle_rss, best, None


def cap_holds(style: str = "baroque") -> None:
    """A server capped at CAP_LISTENERS, filled to the cap; a second process hammers it."""
    server = Server("--styles", style, "--max-listeners", str(CAP_LISTENERS), "--max-listeners-per-client", "0")
    try:
        server.first_audio_byte(style)
        load = subprocess.Popen(
            [PYTHON, "-m", "bench.listener_load", "--url", server.url, "--count", str(CAP_LISTENERS - 1),
             "--seconds", str(HAMMER_SECONDS), "--styles", style, "--stagger", "500", "--settle", "3"],
            env=ENV, cwd=REPO, stdout=subprocess.PIPE, text=True)
        time.sleep((CAP_LISTENERS - 1) / 500 + 4)  # connected and settled: the window begins
        hammer = subprocess.Popen(
            [PYTHON, "-m", "bench.listener_load", "--url", server.url, "--count", "64", "--styles", style,
             "--hammer", str(HAMMER_SECONDS - 2)], env=ENV, cwd=REPO, stdout=subprocess.PIPE, text=True)
        hammered = json.loads(hammer.communicate()[0].strip().splitlines()[-1])
        held = json.loads(load.communicate()[0].strip().splitlines()[-1])
    finally:
        server.stop()
    print(f"cap holding (--max-listeners {CAP_LISTENERS}): {held['on_time']}/{held['count']} listeners under the cap "
          f"on time (worst {100 * held['max_late_fraction']:.2f}% late, min window throughput "
          f"{100 * held['min_ratio']:.1f}%) while a second process made {hammered['attempts']} connection attempts "
          f"in {HAMMER_SECONDS - 2:.0f} s: {hammered['refused_503']} got 503 ({hammered['retry_after']} with "
          f"Retry-After), {hammered['accepted']} got in (slots freed meanwhile), {hammered['errors']} errors")


def listener_section(server: Server, names: list[str]) -> None:
    """The listener steps on ``server`` (caps off), and what they mean for the caps' defaults."""
    from radio.config import raise_fd_limit
    from radio.web.limits import DEFAULT_MAX_LISTENERS

    print(f"listeners (128 kbps over {len(names)} channels, caps off; joins at {CONNECTS_PER_SECOND:.0f}/s, "
          f"5 s settle, {LISTENER_WINDOW:.0f} s window; one epoll load process per {LISTENERS_PER_PROCESS:,} "
          f"listeners, reading every 50 ms):")
    idle_rss, best, broke = listener_capacity(server, names)
    held = best.count if best else 0
    top = broke is None and held == LISTENER_STEPS[-1]
    print(f"largest listener count with every listener >= 99% on time: {held}{'+' if top else ''} (target >= 5,000)")
    if top:
        print(f"on-time delivery did not drop up to {held:,}, the top step: past it the server's open-files "
              f"limit ({raise_fd_limit():,} here, per process), not its speed, would be measured")
    if best:
        print(f"RSS per listener at {held}: {(best.rss_peak_kb - idle_rss) / held:.1f} KB (target <= 20 KB); "
              f"underruns during the listener runs: {underruns(server)}")
        print(f"cap default (radio/web/limits.py): {DEFAULT_MAX_LISTENERS} listeners, "
              f"{100 * DEFAULT_MAX_LISTENERS / held:.0f}% of the last step that held here")


def listeners_only() -> None:
    """``python -m bench.bench_station listeners``: only the listener capacity and the cap."""
    server = Server(*NO_CAPS)
    try:
        server.first_audio_byte("baroque")
        listener_section(server, [c["style"] for c in json.loads(server.get("/api/channels"))])
    finally:
        server.stop()
    cap_holds()


def main(argv: list[str] | None = None) -> None:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {machine(f'load average {load} (a shared machine)')}")
    print("note: other agents share these 2 cores; wall-clock figures move with their load")
    if argv and argv[0] == "listeners":
        listeners_only()
        return
    rt = stage_speed()
    print(f"channels one core keeps ahead of real time: about {rt:.0f} by CPU arithmetic; measured:")
    best_channels = channels_per_core()
    print(f"channels per core (measured, zero underruns): {best_channels}"
          f"{'+' if best_channels == CHANNEL_STEPS[-1] else ''}")

    starts = []
    for _ in range(3):
        server = Server()
        try:
            starts.append(server.first_audio_byte("baroque"))
        finally:
            server.stop()
    print(f"process start -> first audio byte (continuo serve, all styles): median {statistics.median(starts):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in starts)}; target <= 2 s)")

    one = Server("--styles", "baroque")
    try:
        one.first_audio_byte("baroque")
        time.sleep(4)
        rss_one = one.rss_kb()
    finally:
        one.stop()
    server = Server(*NO_CAPS)
    try:
        server.first_audio_byte("baroque")
        styles = json.loads(server.get("/api/channels"))
        names = [c["style"] for c in styles]
        time.sleep(4)
        rss_all = server.rss_kb()
        per_channel = (rss_all - rss_one) / max(1, len(names) - 1) / 1024
        print(f"RSS: {rss_one / 1024:.0f} MB with 1 channel, {rss_all / 1024:.0f} MB with {len(names)} "
              f"-> {per_channel:.1f} MB per channel")
        firsts = connect_first_byte(server, "baroque")
        print(f"connect -> first byte (idle server, {len(firsts)} connects): median {1000 * statistics.median(firsts):.1f} ms, "
              f"max {1000 * firsts[-1]:.1f} ms (target <= 50 ms)")
        listener_section(server, names)
    finally:
        took = server.stop()
    print(f"SIGTERM -> exit took {took:.2f} s")
    cap_holds()


if __name__ == "__main__":
    main(sys.argv[1:])

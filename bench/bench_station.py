"""Station figures: render-chain speed, channels per core, listeners, latency and memory.

``main()`` prints, in one run:
- the real-time factor of each stage (compose, synth, encode) and of the whole chain for one
  channel on one core (CPU time of the rendering thread, so other load on the box does not
  count against it; wall-clock figures are printed beside it);
- how many channels one core keeps ahead of real time (a real ``continuo serve`` pinned to
  one CPU, with N copies of a bundled style, zero underruns over the measured window);
- the largest number of concurrent 128 kbps listeners on loopback for which every listener
  still gets ≥ 99% of its bytes on time, pushed toward 15,000 with several load processes
  (``bench/listener_load.py``), and where on-time delivery first drops;
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
import time
import urllib.request
from pathlib import Path

from bench.run_all import machine

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AUDIO_SECONDS = 60.0  # of music per stage measurement
LISTENER_STEPS = (1000, 3000, 6000, 9000, 12000, 15000)
LISTENER_WINDOW = 15.0
LOAD_PROCESSES = 3  # one client process tops out well below the server: spread the sockets
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


def run_load(server: Server, count: int, styles: list[str], processes: int) -> dict:
    """``count`` listeners from ``processes`` load processes at once; their results merged."""
    shares = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    loads = [subprocess.Popen(
        [PYTHON, "-m", "bench.listener_load", "--url", server.url, "--count", str(n), "--seconds", str(LISTENER_WINDOW),
         "--styles", ",".join(styles), "--stagger", str(600 / processes), "--settle", "5"],
        env=ENV, cwd=REPO, stdout=subprocess.PIPE, text=True) for n in shares if n]
    outs = [load.communicate()[0] for load in loads]
    results = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    merged = {k: sum(r[k] for r in results) for k in ("count", "connected", "failed_connects", "closed_by_server", "on_time")}
    merged["all_on_time"] = merged["on_time"] == count
    merged["max_late_fraction"] = max(r["max_late_fraction"] for r in results)
    merged["min_ratio"] = min(r["min_ratio"] for r in results)
    merged["median_ratio"] = statistics.median(r["median_ratio"] for r in results)
    merged["first_byte_ms_median"] = statistics.median(r["first_byte_ms_median"] or 0 for r in results)
    merged["first_byte_ms_p99"] = max(r["first_byte_ms_p99"] or 0 for r in results)
    return merged


def listener_capacity(server: Server, styles: list[str]) -> tuple[int, int, dict]:
    """Step the listener count up until on-time delivery first drops; returns the last good step."""
    idle_rss = server.rss_kb()
    best, best_rss, best_result = 0, 0, {}
    for count in LISTENER_STEPS:
        c0 = server.cpu_seconds()
        t0 = time.perf_counter()
        processes = 1 if count <= 3000 else LOAD_PROCESSES
        peak = [idle_rss]
        import threading

        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                peak[0] = max(peak[0], server.rss_kb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            result = run_load(server, count, styles, processes)
        except (IndexError, json.JSONDecodeError, KeyError) as exc:
            print(f"  {count:5d} listeners: a load client failed ({exc!r})")
            break
        finally:
            done.set()
        cpu = (server.cpu_seconds() - c0) / (time.perf_counter() - t0)
        per_1000 = (peak[0] - idle_rss) / count * 1000 / 1024
        print(
            f"  {count:5d} listeners ({processes} load process{'es' if processes > 1 else ''}): "
            f"{result['on_time']}/{count} on time (worst {100 * result['max_late_fraction']:.1f}% late; "
            f"window throughput min {100 * result['min_ratio']:.1f}% / median {100 * result['median_ratio']:.1f}%), "
            f"{result['failed_connects']} failed connects, {result['closed_by_server']} cut off, first byte median "
            f"{result['first_byte_ms_median']} ms / p99 {result['first_byte_ms_p99']} ms, server {100 * cpu:.0f}% of a "
            f"core, RSS +{per_1000:.1f} MB per 1,000"
        )
        if not result["all_on_time"]:
            why = "the server's one event-loop core is saturated" if cpu > 0.9 else "the load clients or the box"
            print(f"  on-time delivery first drops at {count} listeners (server at {100 * cpu:.0f}% of a core: {why})")
            break
        best, best_rss, best_result = count, peak[0], result
    return best, best_rss - idle_rss, best_result


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


def listeners_only() -> None:
    """``python -m bench.bench_station listeners``: only the listener capacity and the cap."""
    server = Server(*NO_CAPS)
    try:
        server.first_audio_byte("baroque")
        names = [c["style"] for c in json.loads(server.get("/api/channels"))]
        print(f"listeners (128 kbps over {len(names)} channels, {LISTENER_WINDOW:.0f} s windows, caps off):")
        best, rss_delta, _ = listener_capacity(server, names)
        print(f"largest listener count with every listener >= 99% on time: {best}"
              f"{'+' if best == LISTENER_STEPS[-1] else ''}")
        if best:
            print(f"RSS per listener at {best}: {rss_delta / best:.1f} KB; underruns meanwhile: {underruns(server)}")
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
        print(f"listeners (128 kbps, spread over {len(names)} generating channels, {LISTENER_WINDOW:.0f} s windows, "
              "load client in its own process):")
        best, rss_delta, result = listener_capacity(server, names)
        underrun_total = underruns(server)
    finally:
        took = server.stop()
    print(f"largest listener count with every listener >= 99% on time: {best}"
          f"{'+' if best == LISTENER_STEPS[-1] else ''} (target >= 5,000)")
    if best:
        print(f"RSS per listener at {best}: {rss_delta / best:.1f} KB (target <= 20 KB); "
              f"underruns during the listener runs: {underrun_total}; SIGTERM -> exit took {took:.2f} s")
    cap_holds()


if __name__ == "__main__":
    main(sys.argv[1:])

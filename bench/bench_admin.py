"""Retraining while on air: do the channels keep playing while a training job runs?

Starts ``continuo serve`` (every bundled style, as deployed) on a scratch data dir with a
few folk pieces, connects one listener per channel, starts a short retrain of folk through
the admin API and follows it to the end. Printed per channel: buffer underruns counted by
the station (``continuo_underruns_total`` on /metrics) during the job, and what the
listener got: audio seconds received against wall-clock seconds connected, the smallest
client-side buffer (received audio minus time elapsed; below zero a player would stall)
and the longest pause between arrivals.

Run: ``python -m bench.bench_admin [--epochs N] [--hidden N] [--pieces N] [--styles a,b]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("CONTINUO_CORPUS", REPO.parent / "shared" / "corpus"))
TOKEN = "bench-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class ListenerLog:
    style: str
    connected_at: float = 0.0
    first_arrival: float = 0.0
    audio_seconds: float = 0.0
    min_buffer: float = float("inf")
    max_gap: float = 0.0
    last_arrival: float = 0.0
    bytes: int = 0
    ontime_bytes: int = 0

    def arrived(self, now: float, chunk: bytes, splitter, frame_duration) -> None:
        self.bytes += len(chunk)
        if not self.first_arrival:
            self.first_arrival = now
        # A player that starts with the first byte needs these bytes when it reaches their position.
        if now - self.first_arrival <= self.audio_seconds:
            self.ontime_bytes += len(chunk)
        self.audio_seconds += sum(frame_duration(f) for f in splitter.feed(chunk))
        self.max_gap = max(self.max_gap, now - (self.last_arrival or self.connected_at))
        self.last_arrival = now
        self.min_buffer = min(self.min_buffer, self.audio_seconds - (now - self.first_arrival))


async def listen(session, base: str, log: ListenerLog, stop: asyncio.Event) -> None:
    from radio.audio.mp3 import FrameSplitter, frame_duration

    splitter = FrameSplitter()
    async with session.get(f"{base}/stream/{log.style}.mp3") as response:
        log.connected_at = time.monotonic()
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(response.content.readany(), 1.0)
            except asyncio.TimeoutError:
                continue
            if not chunk:
                break
            log.arrived(time.monotonic(), chunk, splitter, frame_duration)


def underruns(metrics_text: str) -> dict[str, float]:
    found = {}
    for m in re.finditer(r'^continuo_underruns_total\{channel="([^"]+)"\} ([0-9.e+]+)$', metrics_text, re.M):
        found[m.group(1)] = float(m.group(2))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_library(home: Path, count: int) -> int:
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    files = sorted((CORPUS / "folk").glob("*.mid"), key=lambda f: f.stat().st_size)[:count]
    library = open_library(home)
    try:
        for f in files:
            ingest_midi(library, f.read_bytes(), style="folk", title=f.stem)
    finally:
        library.close()
    return len(files)


async def run(args: argparse.Namespace, home: Path) -> None:
    import aiohttp

    pieces = fill_library(home, args.pieces)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CONTINUO_HOME=str(home), CONTINUO_ADMIN_TOKEN=TOKEN, OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "radio.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if args.styles:
        cmd += ["--styles", args.styles]
    log_path = home / "serve.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as session:
            for _ in range(300):
                try:
                    async with session.get(f"{base}/api/channels") as r:
                        channels = [c["style"] for c in await r.json()]
                        break
                except (aiohttp.ClientError, ValueError):
                    if server.poll() is not None:
                        raise SystemExit(f"continuo serve exited: {log_path.read_text()[-2000:]}")
                    await asyncio.sleep(0.3)
            else:
                raise SystemExit("continuo serve did not start within 90 s")
            await asyncio.sleep(args.warmup)
            stop = asyncio.Event()
            logs = [ListenerLog(style) for style in channels]
            tasks = [asyncio.create_task(listen(session, base, log, stop)) for log in logs]
            await asyncio.sleep(2.0)  # past the connect burst
            async with session.get(f"{base}/metrics") as r:
                before = underruns(await r.text())
            started = time.monotonic()
            body = {"epochs": args.epochs, "hyperparameters": {"hidden": args.hidden}, "force": True}
            async with session.post(f"{base}/admin/styles/folk/retrain", json=body, headers=AUTH) as r:
                job = await r.json()
                assert r.status == 202, job
            while job["state"] in ("queued", "running"):
                await asyncio.sleep(1.0)
                async with session.get(f"{base}/admin/jobs/{job['id']}", headers=AUTH) as r:
                    job = await r.json()
            job_seconds = time.monotonic() - started
            await asyncio.sleep(args.after)  # the swap to the new model happens on air too
            async with session.get(f"{base}/metrics") as r:
                after = underruns(await r.text())
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"channels on air: {len(channels)} ({', '.join(channels)}); retrain of folk on {pieces} pieces, "
          f"{args.epochs} epochs, {args.hidden} units, niced, 1 TF thread")
    print(f"job {job['id']}: {job['state']} in {job_seconds:.1f} s"
          f"{'; ' + str(job.get('error')) if job.get('error') else ''}; new version {job.get('model_version')}"
          f" activated={job.get('activated')}")
    total = 0.0
    print(f"{'channel':<12} {'underruns':>9} {'listened s':>10} {'audio s':>8} {'audio/wall':>10} "
          f"{'on-time bytes':>13} {'min buffer s':>12} {'max gap s':>9}")
    for log in logs:
        delta = after.get(log.style, 0.0) - before.get(log.style, 0.0)
        total += delta
        listened = (log.last_arrival or log.connected_at) - log.connected_at
        ratio = log.audio_seconds / listened if listened else 0.0
        ontime = log.ontime_bytes / log.bytes if log.bytes else 0.0
        print(f"{log.style:<12} {delta:>9.0f} {listened:>10.1f} {log.audio_seconds:>8.1f} {ratio:>9.1%} "
              f"{ontime:>12.2%} {log.min_buffer:>12.2f} {log.max_gap:>9.2f}")
    print(f"buffer underruns during the retrain, all channels: {total:.0f}")
    print(f"load average after: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, {platform.node()})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--pieces", type=int, default=12)
    parser.add_argument("--styles", default="", help="channels to run (default: every bundled style)")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--after", type=float, default=5.0)
    args = parser.parse_args(argv if argv is not None else [])
    if not (CORPUS / "folk").is_dir():
        print(f"skipped: no corpus at {CORPUS}")
        return
    with tempfile.TemporaryDirectory(prefix="bench-admin-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main(sys.argv[1:])

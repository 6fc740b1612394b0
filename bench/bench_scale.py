"""Scale-out figures: the S3 store, the worker queue, and a model's way from a worker to the air.

``main()`` prints, in one run, against a real S3 API server (moto in server mode, on loopback):
- S3 store: milliseconds per put/get of a MIDI-sized blob (8 KB) and seconds per model file
  (4 MB, streamed), beside the disk store;
- the worker queue on SQLite: milliseconds per atomic claim (with 4 workers racing) and per
  lease renewal;
- upload → on air: a trainer worker (its own data dir, the same catalog and bucket) uploads a
  new model version and moves the active pointer, while a radio node (the real app, a listener
  connected) follows it. Timed per round: the upload and registration, pointer → swap
  scheduled on the node (poll + download + check), swap scheduled → heard at the live edge,
  and the total. ``CONTINUO_SWAP_SECONDS=0``; with the default (next piece boundary) add up to
  one piece;
- S3 down for 10 s mid-play with an activation pending: the listener's longest pause between
  arrivals, audio received against time connected, and the time from S3's return to the new
  version on air.

Run: ``python -m bench.bench_scale [--rounds N] [--poll SECONDS]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.run_all import machine

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-scale-token-0123456789"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}


class Moto:
    """moto's S3 server as a subprocess on a loopback port (stoppable: an outage)."""

    def __init__(self, port: int | None = None) -> None:
        if port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port, self.endpoint, self.proc = port, f"http://127.0.0.1:{port}", None

    def start(self) -> "Moto":
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **CREDENTIALS})
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).close()
                return self
            time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    def bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(Bucket=name)
        return name


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


def bench_stores(moto: Moto, tmp: Path) -> None:
    from radio.library.disk_blobs import DiskBlobStore
    from radio.library.s3_blobs import S3BlobStore

    s3 = S3BlobStore(moto.bucket("bench-store"), endpoint_url=moto.endpoint)
    disk = DiskBlobStore(tmp / "blobs")
    midi = os.urandom(8 * 1024)
    model = tmp / "model.npz"
    model.write_bytes(os.urandom(4 << 20))
    for name, store in (("disk", disk), ("s3", s3)):
        puts, gets = [], []
        for i in range(100):
            t = time.perf_counter()
            store.put(f"midi/{i:02x}/{i}.mid", midi)
            puts.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.get(f"midi/{i:02x}/{i}.mid")
            gets.append(time.perf_counter() - t)
        up, down = [], []
        for i in range(3):
            t = time.perf_counter()
            store.put_file(f"models/folk/{i}.npz", model)
            up.append(time.perf_counter() - t)
            t = time.perf_counter()
            store.get_to(f"models/folk/{i}.npz", tmp / f"copy-{i}.npz")
            down.append(time.perf_counter() - t)
        print(f"{name:>4} store, 8 KB MIDI blob: put {ms(puts)}; get (sha256 checked) {ms(gets)}")
        print(f"{name:>4} store, 4 MB model file: upload {ms(up)}; download {ms(down)}")


def bench_queue(tmp: Path) -> None:
    from radio.admin.jobs import WORKERS, Job
    from radio.admin.stores.sqlite import SqliteJobStore

    store = SqliteJobStore(tmp / "queue")
    for i in range(200):
        job = Job.new(f"style-{i}", {})
        job.train_on = WORKERS
        store.add_if_idle(job)
    claims: list[float] = []
    won: list[Job] = []

    def worker(name: str) -> None:
        while True:
            t = time.perf_counter()
            job = store.claim(name, 60)
            claims.append(time.perf_counter() - t)
            if job is None:
                return
            won.append(job)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    renewals = []
    for job in won[:100]:
        t = time.perf_counter()
        store.renew(job.id, job.worker, 60)
        renewals.append(time.perf_counter() - t)
    ids = [j.id for j in won]
    print(f"job queue (SQLite, 200 jobs, 4 racing workers): claim {ms(claims)}; renew {ms(renewals)}; "
          f"claimed {len(ids)}, each once: {len(set(ids)) == len(ids) == 200}")
    store.close()


def model_variants(n: int, tmp: Path) -> list[Path]:
    """``n`` distinct, valid model files (the bundled baroque model with a marker in its header)."""
    from radio.model.modelfile import read_model_file, write_model_file

    header, arrays, _ = read_model_file(REPO / "styles" / "baroque" / "model.npz")
    paths = []
    for i in range(n):
        path = tmp / f"variant-{i}.npz"
        write_model_file(path, arrays, {**header, "bench_variant": i})
        paths.append(path)
    return paths


async def bench_on_air(moto: Moto, tmp: Path, rounds: int, poll: float) -> None:
    import aiohttp
    from aiohttp.test_utils import TestClient, TestServer

    from radio.admin.versions import VersionRegistry, model_key

    from radio.admin.stores.sqlite import SqliteVersionTable
    from radio.audio.mp3 import FrameSplitter, frame_duration
    from radio.station.channel import ChannelSettings
    from radio.library.s3_blobs import S3BlobStore
    from radio.station.station import Station
    from radio.styles import get_style
    from radio.web.app import create_app

    bucket = moto.bucket("bench-on-air")
    home = tmp / "radio-home"
    os.environ.update(CREDENTIALS, CONTINUO_S3_BUCKET=bucket, CONTINUO_S3_ENDPOINT_URL=moto.endpoint,
                      CONTINUO_ADMIN_TOKEN=TOKEN, CONTINUO_ACTIVE_POLL_SECONDS=str(poll))
    station = Station(ChannelSettings(seed=3))
    await station.add_style(get_style("folk"))
    client = TestClient(TestServer(create_app(station, manage_station=True, home=home, swap_seconds=0.0)))
    await client.start_server()
    channel = station.channels["folk"]
    worker = VersionRegistry(tmp / "worker-home", table=SqliteVersionTable(home),
                             shared=S3BlobStore(bucket, endpoint_url=moto.endpoint))
    variants = model_variants(rounds + 1, tmp)

    arrivals: list[tuple[float, float]] = []  # (when, audio seconds so far)
    response = await client.get("/stream/folk.mp3")
    connected = time.monotonic()

    async def listen() -> None:
        splitter, audio = FrameSplitter(), 0.0
        with contextlib.suppress(aiohttp.ClientError, asyncio.CancelledError):
            async for chunk in response.content.iter_any():
                audio += sum(frame_duration(f) for f in splitter.feed(chunk))
                arrivals.append((time.monotonic(), audio))

    listener = asyncio.get_running_loop().create_task(listen())

    async def until(check, timeout: float = 60.0) -> float:
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                raise RuntimeError("timed out")
            await asyncio.sleep(0.02)
        return time.monotonic()

    await asyncio.sleep(3)
    upload, scheduled, heard, total = [], [], [], []
    for path in variants[:rounds]:
        t0 = time.monotonic()
        version, _ = await asyncio.to_thread(worker.register, "folk", path, {}, "bench")
        await asyncio.to_thread(worker.set_active, "folk", version)
        t1 = time.monotonic()
        t2 = await until(lambda: channel.upcoming_model_version == version.version)
        t3 = await until(lambda: channel.model_version == version.version)
        upload.append(t1 - t0)
        scheduled.append(t2 - t1)
        heard.append(t3 - t2)
        total.append(t3 - t0)
        await asyncio.sleep(1)
    print(f"upload → on air ({rounds} rounds, node polls every {poll:g} s, swap within 0 s):")
    print(f"  worker uploads 4 MB and registers: {ms(upload)}")
    print(f"  pointer moved → swap scheduled on the node (poll, S3 download, check): {ms(scheduled)}")
    print(f"  swap scheduled → heard at the live edge: {ms(heard)}")
    print(f"  total, upload start → on air: {ms(total)}")

    # S3 goes down with an activation pending; it comes back 10 s later.
    pending = variants[rounds]
    version, _ = await asyncio.to_thread(worker.register, "folk", pending, {}, "bench")
    mark = len(arrivals)
    # Starting and stopping the server block: in a thread, or they would stall the station's loop.
    await asyncio.to_thread(moto.stop)
    down_at = time.monotonic()
    await asyncio.to_thread(worker.set_active, "folk", version)  # the catalog (SQLite) still works
    await asyncio.sleep(10)
    still = channel.model_version != version.version
    back = await asyncio.to_thread(Moto(moto.port).start)
    await asyncio.to_thread(back.bucket, bucket)
    back_at = time.monotonic()
    await asyncio.to_thread(worker.shared.put_file, model_key("folk", version.version), pending)
    on_air = await until(lambda: channel.model_version == version.version, timeout=120)
    await asyncio.sleep(2)
    listener.cancel()
    await listener
    window = [a for a in arrivals[mark:] if a[0] >= down_at]
    gaps = [b[0] - a[0] for a, b in zip(window, window[1:])]
    # A player that started with the first byte: audio received minus audio played so far.
    first = arrivals[0][0]
    buffer = min(audio - (when - first) for when, audio in window)
    print(f"S3 down for {back_at - down_at:.1f} s with an activation pending: old model kept playing: {still}; "
          f"longest pause between arrivals {max(gaps):.2f} s; smallest client buffer {buffer:.1f} s")
    print(f"  S3 back → pending version on air: {on_air - back_at:.1f} s "
          f"(the node retries with pauses doubling from {poll:g} s up to 60 s)")
    listened = arrivals[-1][0] - connected
    print(f"listener over the whole run: {arrivals[-1][1]:.1f} s of audio in {listened:.1f} s connected")
    await client.close()
    worker.close()
    back.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--poll", type=float, default=2.0, help="the node's poll interval (default 2 s, as deployed)")
    args = parser.parse_args(argv if argv is not None else [])
    print(f"machine: {machine('moto S3 server on loopback')}")
    saved = dict(os.environ)
    os.environ.update(CREDENTIALS)  # moto takes any; real ones must not be used
    moto = Moto().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            bench_stores(moto, Path(tmp))
            bench_queue(Path(tmp))
            asyncio.run(bench_on_air(moto, Path(tmp), args.rounds, args.poll))
    finally:
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Helpers for the admin tests: a real Station and the real app, served in-process on
loopback by aiohttp's test server, and small valid MIDI pieces."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from pathlib import Path

import aiohttp
import miniaudio
from aiohttp.test_utils import TestClient, TestServer

from radio.audio.mp3 import FrameSplitter, frame_duration

from radio.station.channel import ChannelSettings
from radio.music.midi_io import write_midi
from radio.station.station import Station
from radio.styles import get_style
from radio.web.app import create_app

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def tune(seed: int, beats: int = 64) -> bytes:
    """A small, valid single-line MIDI piece, different for every seed."""
    rng = random.Random(seed)
    notes, pitch = [], 60
    while len(notes) < beats:
        pitch = max(48, min(84, pitch + rng.choice([-2, -1, 1, 2, 3, -3])))
        length = rng.choice([1, 2, 4])
        notes += [[(pitch, "b")]] + [[(pitch, "s")]] * (length - 1)
    return write_midi(notes[:beats], bpm=100)


def add_tunes(home: Path, seeds, *, beats: int, style: str = "folk") -> None:
    """File one ``tune(seed, beats)`` per seed under ``style`` in the library at ``home``."""
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    library = open_library(home)
    try:
        for seed in seeds:
            ingest_midi(library, tune(seed, beats=beats), style=style, title=f"tune {seed}")
    finally:
        library.close()


@contextlib.asynccontextmanager
async def admin_client(home: Path, styles=("folk",), *, start: bool = False, **options):
    """The station's real app with the given channels; ``start`` runs the channels."""
    station = Station(ChannelSettings(seed=7, ahead_seconds=2.0))
    for name in styles:
        await station.add_style(get_style(name))
    app = create_app(station, manage_station=start, home=home, **options)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        if not start:
            await station.stop()


class Listener:
    """Reads one channel's MP3 stream for as long as it runs, noting when bytes arrive."""

    def __init__(self, client: TestClient, style: str) -> None:
        self.client, self.style = client, style
        self.chunks: list[tuple[float, int]] = []
        self.data = bytearray()
        self.task: asyncio.Task | None = None
        self.connected_at = 0.0

    async def __aenter__(self) -> "Listener":
        response = await self.client.get(f"/stream/{self.style}.mp3")
        assert response.status == 200, await response.text()
        self.connected_at = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._read(response))
        return self

    async def _read(self, response) -> None:
        async for chunk in response.content.iter_any():
            self.chunks.append((time.monotonic(), len(chunk)))
            self.data += chunk

    async def __aexit__(self, *exc) -> None:
        self.listened = time.monotonic() - self.connected_at
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await self.task

    def check_continuous(self, max_gap: float = 2.0) -> dict:
        """Decode everything received; the audio must cover the time listened, with no
        long pause between arrivals and no undecodable frame."""
        frames = FrameSplitter().feed(bytes(self.data))
        frame_seconds = sum(frame_duration(f) for f in frames)
        decoded = miniaudio.decode(bytes(self.data), nchannels=1, sample_rate=44100)
        decoded_seconds = decoded.num_frames / decoded.sample_rate
        times = [t for t, _ in self.chunks]
        gaps = [b - a for a, b in zip([self.connected_at, *times], times)]
        figures = {"listened_s": self.listened, "decoded_s": decoded_seconds, "frames_s": frame_seconds,
                   "max_gap_s": max(gaps), "bytes": len(self.data)}
        assert max(gaps) < max_gap, figures
        # A listener hears at least the wall-clock time it was connected (plus the burst).
        assert decoded_seconds >= self.listened - max_gap, figures
        assert abs(decoded_seconds - frame_seconds) < 0.1, figures
        return figures


async def channel_version(client: TestClient, style: str) -> str:
    r = await client.get(f"/api/channels/{style}")
    return (await r.json())["model_version"]


async def wait_for_version(client: TestClient, style: str, version: str, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await channel_version(client, style) == version:
            return time.monotonic() - start
        await asyncio.sleep(0.25)
    raise AssertionError(f"{style} still plays {await channel_version(client, style)}, not {version}, after {timeout} s")


def fill_library(home: Path, corpus: Path, style: str = "folk", count: int = 6) -> list[str]:
    """Import the ``count`` shortest pieces of a corpus style: a tiny, fast training set."""
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    files = sorted((corpus / style).glob("*.mid"), key=lambda f: f.stat().st_size)[:count]
    library = open_library(home)
    try:
        return [ingest_midi(library, f.read_bytes(), style=style, title=f.stem).piece.id for f in files]
    finally:
        library.close()


async def job_events(client: TestClient, job_id: str, timeout: float = 150.0) -> list[dict]:
    """Every job snapshot the SSE feed sends, until the job finishes."""
    r = await client.get(f"/admin/jobs/{job_id}/events", headers=AUTH)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    events, buffer = [], ""
    async with asyncio.timeout(timeout):
        async for chunk in r.content.iter_any():
            buffer += chunk.decode()
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
                if data:
                    assert "event: job" in block
                    events.append(json.loads("\n".join(data)))
    return events


async def wait_for_state(client: TestClient, job_id: str, states: tuple[str, ...], timeout: float = 60.0) -> dict:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        job = await (await client.get(f"/admin/jobs/{job_id}", headers=AUTH)).json()
        if job["state"] in states:
            return job
        await asyncio.sleep(0.2)
    raise AssertionError(f"job {job_id} is {job['state']}, not one of {states}, after {timeout} s")

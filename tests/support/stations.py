"""Station test helpers: small beat sources standing in for a trained model, a style with
short pieces, and an in-process server with fast pacing knobs. A fixture plugin (registered in
tests/conftest.py) for the station, web and command tests."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from radio.audio.mp3 import FrameSplitter
from radio.broadcast.broadcaster import BroadcastSettings
from radio.station.channel import ChannelSettings
from radio.station.composer import ComposerSettings
from radio.station.station import Station
from radio.styles import Style, Timbre

BYTES_PER_SECOND = 128_000 / 8


class DroneSampler:
    """A held chord, re-struck every bar: never silent, so any gap in the audio shows."""

    def __init__(self, pitch: int) -> None:
        self.pitch = pitch
        self.beat = 0

    def next_beats(self, n: int) -> list:
        out = []
        for _ in range(n):
            tie = "b" if self.beat % 16 == 0 else "s"
            out.append([(self.pitch, tie), (self.pitch + 7, tie)])
            self.beat += 1
        return out


@dataclass
class DroneModel:
    version: str = "drone-aaaaaa"
    pitch: int = 57

    def sampler(self, *, temperature: float = 1.0, seed: int | None = None, top_p: float = 1.0) -> DroneSampler:
        return DroneSampler(self.pitch)


@dataclass
class FlakyModel:
    """Raises on every ``fail_every``-th call of next_beats (counted across samplers)."""

    version: str = "flaky-bbbbbb"
    fail_every: int = 3
    calls: list = field(default_factory=lambda: [0])

    def sampler(self, *, temperature: float = 1.0, seed: int | None = None, top_p: float = 1.0):
        model = self

        class Sampler(DroneSampler):
            def next_beats(self, n: int) -> list:
                model.calls[0] += 1
                if model.calls[0] % model.fail_every == 0:
                    raise FloatingPointError("the LSTM produced NaN")
                return super().next_beats(n)

        return Sampler(60)


@dataclass
class SilentModel:
    version: str = "silent-cccccc"

    def sampler(self, *, temperature: float = 1.0, seed: int | None = None, top_p: float = 1.0):
        class Sampler:
            def next_beats(self, n: int) -> list:
                return [[] for _ in range(n)]

        return Sampler()


def make_style(name: str = "test", *, piece_seconds: float = 3.0, folder: Path = Path("/nonexistent")) -> Style:
    return Style(
        name=name,
        display_name=name.title(),
        description=f"The {name} channel.",
        tempo_bpm=120.0,
        temperature=1.0,
        piece_minutes=piece_seconds / 60.0,
        folder=folder,
        timbre=Timbre(),
    )


def fast_settings(**broadcast: object) -> ChannelSettings:
    """Pacing knobs that make a test see a few seconds of radio in a few seconds."""
    opts = dict(burst_bytes=16 * 1024, max_backlog_bytes=256 * 1024, write_interval=0.1, icy_metaint=4000)
    opts.update(broadcast)
    return ChannelSettings(
        ahead_seconds=0.6,
        seed=1234,
        composer=ComposerSettings(chunk_beats=4, breath_beats=1, lookahead_beats=8, silence_limit_seconds=1.0),
        broadcast=BroadcastSettings(**opts),
    )


@dataclass
class Running:
    url: str
    station: Station
    app: web.Application | None = None


@pytest.fixture
async def radio(continuo_home):
    """``await radio({"test": DroneModel()}, settings)`` → a running station on a free port."""
    runners: list[web.AppRunner] = []

    async def start(models: dict, settings: ChannelSettings | None = None, *, piece_seconds: float = 3.0,
                    **app_options) -> Running:
        from radio.web.app import create_app

        station = Station(settings or fast_settings())
        for name, model in models.items():
            await station.add_style(make_style(name, piece_seconds=piece_seconds), model)
        app = create_app(station, manage_station=True, **app_options)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return Running(f"http://127.0.0.1:{runner.addresses[0][1]}", station, app)

    yield start
    for runner in runners:
        await runner.cleanup()


async def read_for(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything ``reader`` receives within ``seconds`` (less if the peer closes first)."""
    data = bytearray()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), left)
        except asyncio.TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


class RawStream:
    """An HTTP/1.0 stream read off a plain socket, so the body bytes are exactly what the
    server wrote (no chunked framing in the way)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: dict[str, str]) -> None:
        self.reader, self.writer, self.headers = reader, writer, headers

    @classmethod
    async def open(cls, url: str, path: str, *, headers: dict[str, str] | None = None):
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), limit=2**20)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{extra}\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parsed = {"status": lines[0].split()[1]}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                parsed[k.strip().lower()] = v.strip()
        return cls(reader, writer, parsed)

    async def read_for(self, seconds: float) -> bytes:
        """Everything that arrives within ``seconds``."""
        return await read_for(self.reader, seconds)

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
def raw_stream():
    opened: list[RawStream] = []

    async def open_stream(url: str, path: str, **kw) -> RawStream:
        s = await RawStream.open(url, path, **kw)
        opened.append(s)
        return s

    yield open_stream
    for s in opened:
        s.close()


def split_frames(data: bytes) -> tuple[list[bytes], int, int]:
    """(whole frames, bytes skipped as not-a-frame, bytes left over at the end)."""
    splitter = FrameSplitter()
    frames = splitter.feed(data)
    return frames, splitter.skipped, splitter.pending


def decode_mono(data: bytes) -> np.ndarray:
    import miniaudio

    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1, sample_rate=44100)
    return np.frombuffer(decoded.samples, dtype=np.float32)


def longest_quiet_run(samples: np.ndarray, threshold: float = 1e-3) -> int:
    """Longest run of consecutive samples below ``threshold`` in magnitude."""
    quiet = np.abs(samples) < threshold
    if not quiet.any():
        return 0
    padded = np.concatenate(([False], quiet, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


async def eventually(condition, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``condition()`` until it is true; fail after ``timeout`` seconds (instead of a
    fixed sleep that is too short on a busy machine and too long on an idle one)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.02)


async def wait_for_line(stream: asyncio.StreamReader, pattern: str, seconds: float, seen: list[str]) -> re.Match:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        line = await asyncio.wait_for(stream.readline(), end - loop.time())
        if not line:
            break
        seen.append(line.decode(errors="replace"))
        if m := re.search(pattern, seen[-1]):
            return m
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


@pytest.fixture
def helpers():
    """The module-level helpers, for test files (importlib mode cannot import conftest)."""

    class H:
        DroneModel = DroneModel
        FlakyModel = FlakyModel
        SilentModel = SilentModel
        make_style = staticmethod(make_style)
        fast_settings = staticmethod(fast_settings)
        split_frames = staticmethod(split_frames)
        decode_mono = staticmethod(decode_mono)
        longest_quiet_run = staticmethod(longest_quiet_run)
        eventually = staticmethod(eventually)
        wait_for_line = staticmethod(wait_for_line)
        read_for = staticmethod(read_for)
        BYTES_PER_SECOND = BYTES_PER_SECOND

    return H

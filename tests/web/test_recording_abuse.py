"""Recordings under abuse: one address asking for 10-minute recordings it never reads costs the
server little memory, and a listener on another address stays on time throughout.

Measured before the fix (issue 20): 300 such requests on a station 70 s old grew the server's
RSS by 312 MB (each built its whole body, then held it while the client did not read).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import time

import aiohttp
import pytest

from radio.station.recording import FrameHistory
from radio.web.limits import LIMITS

ABUSE_REQUESTS = 300
RSS_GROWTH_LIMIT = 100 * 2**20
OTHER_ADDRESS = "127.0.0.2"  # all of 127/8 is loopback on Linux: another client to the server


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


def fill_history(channel, seconds: float) -> None:
    """``seconds`` of history without waiting for them: the channel's real frames, repeated
    before stream time 0 (the frame numbers below 0 stand for a past the test did not wait for),
    so that a recording of the whole history is as big as on a station 10 minutes old."""
    old = channel.recording
    real = old.frames(old.first, old.total)
    filled = FrameHistory(old.frame_seconds)
    need = round(seconds / old.frame_seconds) - len(real)
    filled.add([real[i % len(real)] for i in range(need)] + real)
    filled.total = old.total  # the real frames keep their numbers
    channel.recording = filled  # one step on the event loop: the next delivery lands in it


async def listen(url: str, samples: list[tuple[float, int]], stop: asyncio.Event) -> None:
    """A listener on another address, noting (time, bytes so far) as the audio arrives."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(OTHER_ADDRESS, 0))
    writer.write(f"GET /stream/test.mp3 HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    got = 0
    try:
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 0.1)
            except asyncio.TimeoutError:
                chunk = None  # nothing this tenth of a second: noted as such
            if chunk == b"":
                break  # the server dropped the listener: every later moment counts as late
            got += len(chunk or b"")
            samples.append((time.perf_counter(), got))
    finally:
        writer.close()


async def never_read(url: str, path: str) -> socket.socket:
    """Send one request and never read the answer (a small receive buffer, so it stalls soon)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def on_time_share(samples: list[tuple[float, int]], since: float, until: float, rate: float, slack: float) -> float:
    """The share of moments in [since, until] at which the listener had all the audio due by
    then (live rate from ``since``), give or take ``slack`` seconds of it."""
    base = next(b for t, b in samples if t >= since)
    moments = [(t, b - base) for t, b in samples if since <= t <= until]
    ok = sum(1 for t, b in moments if b >= (t - since - slack) * rate)
    return ok / max(1, len(moments))


async def heard(channel, seconds: float, timeout: float = 20.0) -> None:
    """Wait until listeners have heard ``seconds`` of the channel."""
    deadline = time.perf_counter() + timeout
    while channel.broadcaster.heard_time() < seconds:
        assert time.perf_counter() < deadline, "the channel never played"
        await asyncio.sleep(0.05)


async def test_recordings_nobody_reads_cost_little_and_a_listener_elsewhere_plays_on(radio, helpers, monkeypatch):
    import radio.web.recordings as recordings

    monkeypatch.setattr(recordings, "RECORDING_WRITE_SECONDS", 2.0)  # the stalled ones end soon
    r = await radio({"test": helpers.DroneModel()})
    channel = r.station.channels["test"]
    await heard(channel, 1.0)
    fill_history(channel, 605.0)
    samples: list[tuple[float, int]] = []
    stop = asyncio.Event()
    listener = asyncio.get_running_loop().create_task(listen(r.url, samples, stop))
    await asyncio.sleep(1.5)  # past the listener's burst
    gc.collect()
    before = rss_bytes()
    t0 = time.perf_counter()
    socks = []
    try:
        for _ in range(ABUSE_REQUESTS):
            socks.append(await never_read(r.url, "/api/channels/test/recording.mp3?seconds=600"))
        burst = time.perf_counter() - t0
        await asyncio.sleep(3.0)  # every one of them answered (or sending), the stalled ones at their deadline
        grown = rss_bytes() - before
        t1 = time.perf_counter()
        limits = r.app[LIMITS]
        # The two a client may hold were sent until they stalled; the rest were refused at once.
        # On a loaded machine the burst can outlast the write deadline, and each cut-off pair
        # frees its two slots for later requests: still never more than two at a time.
        rounds = 1 + int(burst // recordings.RECORDING_WRITE_SECONDS)
        assert limits.recordings.refused >= ABUSE_REQUESTS - 2 * rounds, (limits.recordings.refused, burst)
        # The stalled ones are cut at their write deadline and give their slots back.
        deadline = time.perf_counter() + 15
        while limits.recordings.total:
            assert time.perf_counter() < deadline, "a recording nobody reads was never cut off"
            await asyncio.sleep(0.1)
    finally:
        for sock in socks:
            sock.close()
        stop.set()
        await listener
    share = on_time_share(samples, t0, t1, helpers.BYTES_PER_SECOND, slack=1.0)
    print(f"\n{ABUSE_REQUESTS} unread 10-minute recordings: RSS grew {grown / 2**20:.1f} MB; "
          f"the listener elsewhere was on time {share:.1%} of the time")
    assert grown < RSS_GROWTH_LIMIT, f"RSS grew {grown / 2**20:.0f} MB"
    assert share >= 0.95, f"the listener on another address was on time only {share:.0%} of the time"

    # Someone who does read gets the whole 10 minutes: every byte the Content-Length promised.
    connector = aiohttp.TCPConnector(local_addr=(OTHER_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=600") as resp:
            assert resp.status == 200
            body = await resp.read()
            assert len(body) == resp.content_length
            seconds = float(resp.headers["X-Recording-Seconds"])
    assert seconds == pytest.approx(600.0, abs=0.03)
    frames, skipped, leftover = helpers.split_frames(body[body.index(b"\xff\xfb"):])  # after the ID3 tag
    assert len(frames) == round(seconds / (1152 / 44100)) and skipped == 0 and not leftover


async def test_past_the_recording_caps_a_client_gets_503_with_retry_after(radio, helpers):
    from radio.web.limits import Caps

    r = await radio({"test": helpers.DroneModel()}, caps=Caps(max_recordings=3, max_recordings_per_client=1))
    channel = r.station.channels["test"]
    await heard(channel, 1.0)
    fill_history(channel, 300.0)
    held = [await never_read(r.url, "/api/channels/test/recording.mp3?seconds=300")]
    limits = r.app[LIMITS]
    while limits.recordings.total < 1:
        await asyncio.sleep(0.05)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=60") as resp:
                assert resp.status == 503 and int(resp.headers["Retry-After"]) > 0
                assert "recordings" in (await resp.json())["error"]
        # Another address still gets its recording.
        connector = aiohttp.TCPConnector(local_addr=(OTHER_ADDRESS, 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=60") as resp:
                assert resp.status == 200 and len(await resp.read()) == resp.content_length
    finally:
        for sock in held:
            sock.close()

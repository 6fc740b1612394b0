"""Listeners over real HTTP: valid continuous MP3, bursts, slow readers, ICY metadata,
restarts and hot swaps, all against an in-process station with fast pacing."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import aiohttp

from radio.audio.mp3 import parse_header

FRAME_SECONDS = 1152 / 44100


async def test_stream_is_continuous_valid_mp3(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    s = await raw_stream(r.url, "/stream/test.mp3")
    assert s.headers["status"] == "200" and s.headers["content-type"] == "audio/mpeg"
    body = await s.read_for(4.0)
    frames, skipped, leftover = helpers.split_frames(body)
    assert skipped == 0, "every byte belongs to a whole MP3 frame, from the first one"
    assert sum(map(len, frames)) + leftover == len(body)
    assert len(frames) * FRAME_SECONDS > 3.0
    samples = helpers.decode_mono(b"".join(frames))
    assert abs(len(samples) - len(frames) * 1152) <= 2 * 1152
    # The drone never stops sounding, so a gap between chunks (an encoder restarted, a
    # frame lost) would show up as a run of silence. Skip the encoder's start-up delay.
    assert helpers.longest_quiet_run(samples[4096:]) < 64


async def test_burst_on_connect_starts_on_a_frame_and_arrives_at_once(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    live = r.station.channels["test"].broadcaster
    burst_bytes = r.station.settings.broadcast.burst_bytes
    await helpers.eventually(lambda: live.live_offset > 1.5 * burst_bytes, what="more than a burst going live")
    t0 = time.perf_counter()
    s = await raw_stream(r.url, "/stream/test.mp3")
    first = await s.reader.read(1)
    first_byte = time.perf_counter() - t0
    burst = first + await s.read_for(0.05)
    assert parse_header(burst) is not None, "the burst starts on an MP3 frame header"
    assert first_byte < 0.5
    assert burst_bytes - 420 <= len(burst) <= burst_bytes + 20_000
    _, skipped, _ = helpers.split_frames(burst)
    assert skipped == 0


async def open_stalled_client(url: str, path: str) -> socket.socket:
    """A client that sends its request and then never reads, with a tiny receive window."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, int(port)))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    return sock


async def drain_socket(sock: socket.socket, seconds: float) -> tuple[int, bool]:
    """(bytes read, whether the server closed) within ``seconds``."""
    loop = asyncio.get_running_loop()
    total = 0
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), left)
        except asyncio.TimeoutError:
            return total, False
        except ConnectionError:
            return total, True
        if not data:
            return total, True
        total += len(data)
    return total, False


async def test_slow_reader_is_dropped_while_others_stay_on_time(radio, raw_stream, helpers):
    settings = helpers.fast_settings(max_backlog_bytes=24 * 1024, socket_sndbuf=4096)
    r = await radio({"test": helpers.DroneModel()}, settings)
    channel = r.station.channels["test"]
    burst = settings.broadcast.burst_bytes
    await helpers.eventually(lambda: channel.broadcaster.live_offset > 1.5 * burst, what="a burst's worth going live")
    slow = await open_stalled_client(r.url, "/stream/test.mp3")
    try:
        normal = await raw_stream(r.url, "/stream/test.mp3")
        await helpers.eventually(lambda: channel.listeners == 2, 5, "both listeners joining")
        t0 = time.perf_counter()
        got = await normal.read_for(6.0)
        elapsed = time.perf_counter() - t0
        assert channel.broadcaster.drops == 1 and channel.listeners == 1
        on_time = burst + (elapsed - 0.3) * helpers.BYTES_PER_SECOND
        assert len(got) >= on_time, f"the normal listener got {len(got)} bytes in {elapsed:.1f} s, expected {on_time:.0f}"
        assert len(got) <= burst + (elapsed + 1.0) * helpers.BYTES_PER_SECOND, "paced to the wall clock"
        leftover, closed = await drain_socket(slow, 2.0)
        assert closed, "the slow reader's connection was cut off"
        assert leftover < burst + 24 * 1024 + 256 * 1024
    finally:
        slow.close()


def parse_icy(body: bytes, metaint: int) -> tuple[bytes, list[bytes]]:
    """Split an ICY body into audio bytes and metadata payloads, checking the framing."""
    audio = bytearray()
    blocks = []
    pos = 0
    while pos + metaint < len(body):
        audio += body[pos : pos + metaint]
        pos += metaint
        length = body[pos] * 16
        block = body[pos + 1 : pos + 1 + length]
        if len(block) < length:
            break
        if length:
            assert re.fullmatch(rb"StreamTitle='[^']*';\x00*", block), block
            assert not block.endswith(b"\x00" * 16), "padding is shorter than one 16-byte unit"
        blocks.append(block)
        pos += 1 + length
    return bytes(audio), blocks


async def test_icy_metadata_framing_is_exact(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.5)
    s = await raw_stream(r.url, "/stream/test.mp3", headers={"Icy-MetaData": "1"})
    metaint = int(s.headers["icy-metaint"])
    assert metaint == r.station.settings.broadcast.icy_metaint
    body = await s.read_for(5.0)
    audio, blocks = parse_icy(body, metaint)
    assert len(blocks) >= 10
    titles = [re.match(rb"StreamTitle='(.*)';", b).group(1).decode() for b in blocks if b]
    assert titles[0].endswith(" — Test") and " No. " in titles[0]
    assert len(set(titles)) >= 2, "the title changes with the piece"
    # A title goes out only when it changes; in between, a metadata block is empty.
    assert len(titles) < len(blocks), "unchanged titles are sent as empty blocks"
    assert all(a != b for a, b in zip(titles, titles[1:])), "a title block is sent only when the title changed"
    _, skipped, _ = helpers.split_frames(audio)
    assert skipped == 0, "the audio between metadata blocks is an unbroken MP3 stream"
    # The same framing inside HTTP/1.1 chunked transfer encoding (what browsers get).
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/stream/test.mp3", headers={"Icy-MetaData": "1"}) as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            chunked_body = await resp.content.readexactly(3 * (metaint + 1 + 255 * 16))
    audio, blocks = parse_icy(chunked_body, metaint)
    assert len(blocks) >= 3 and blocks[0].startswith(b"StreamTitle='")
    assert helpers.split_frames(audio)[1] == 0
    # A client that did not ask gets no metadata at all.
    plain = await raw_stream(r.url, "/stream/test.mp3")
    assert "icy-metaint" not in plain.headers
    _, skipped, _ = helpers.split_frames(await plain.read_for(1.0))
    assert skipped == 0


async def test_a_raising_model_is_restarted_while_the_listener_keeps_listening(radio, raw_stream, helpers):
    r = await radio({"test": helpers.FlakyModel(fail_every=4)})
    s = await raw_stream(r.url, "/stream/test.mp3")
    t0 = time.perf_counter()
    body = await s.read_for(4.0)
    elapsed = time.perf_counter() - t0
    channel = r.station.channels["test"]
    assert channel.composer.restarts >= 2
    assert channel.listeners == 1, "still connected"
    assert len(body) >= (elapsed - 0.5) * helpers.BYTES_PER_SECOND
    frames, skipped, _ = helpers.split_frames(body)
    assert skipped == 0
    samples = helpers.decode_mono(b"".join(frames))
    rest = int(4 * 0.125 * 44100)  # at most the composer's short rest (chunk + breath) plus a release
    assert helpers.longest_quiet_run(samples[4096:]) < rest * 1.5
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/metrics") as resp:
            text = await resp.text()
    assert re.search(r'continuo_composer_restarts_total\{channel="test",reason="exception"\} [1-9]', text)


async def test_hot_swap_keeps_the_stream_continuous(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel(version="old-000000")}, piece_seconds=30.0)
    channel = r.station.channels["test"]
    s = await raw_stream(r.url, "/stream/test.mp3")
    first = await s.read_for(1.0)
    channel.swap_model(helpers.DroneModel(version="new-111111", pitch=62), within_seconds=0.5)
    rest = await s.read_for(3.5)
    body = first + rest
    frames, skipped, _ = helpers.split_frames(body)
    assert skipped == 0
    samples = helpers.decode_mono(b"".join(frames))
    assert helpers.longest_quiet_run(samples[4096:]) < 64, "no gap at the swap"
    assert channel.model_version == "new-111111"
    assert channel.now_playing()["model_version"] == "new-111111"
    assert channel.listeners == 1


async def test_an_unexpected_render_failure_costs_a_rest_not_the_channel(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    channel = r.station.channels["test"]
    s = await raw_stream(r.url, "/stream/test.mp3")
    await s.read_for(0.5)
    real = channel.composer.next_chunk
    broken = [True]

    def next_chunk_once_broken():
        if broken[0]:
            broken[0] = False
            raise RuntimeError("a bug outside the model")
        return real()

    channel.composer.next_chunk = next_chunk_once_broken
    t0 = time.perf_counter()
    body = await s.read_for(4.0)
    elapsed = time.perf_counter() - t0
    assert not broken[0], "the failure was injected"
    assert channel.running and channel.listeners == 1
    assert len(body) >= (elapsed - 1.0) * helpers.BYTES_PER_SECOND, "audio kept coming after the failure"
    assert "a bug outside the model" in channel.status()["last_error"]

"""Faults on the streaming side, each with a check that nothing is lost: a synth that yields
NaN or raises, a malformed request, an oversized header and a slowloris trickle. (The model
raising is in test_stream.py; SIGTERM on the server is in test_serve.py.)"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from radio.audio.synth import Synth


async def test_a_synth_yielding_nan_or_raising_costs_a_rest_not_the_stream(radio, raw_stream, helpers, monkeypatch):
    real = Synth.render
    calls = [0]

    def faulty(self, beats):
        calls[0] += 1
        if calls[0] % 5 == 0:
            return np.full(len(beats) * 5512, np.nan, dtype=np.float32)
        if calls[0] % 7 == 0:
            raise FloatingPointError("overflow in the envelope")
        return real(self, beats)

    monkeypatch.setattr(Synth, "render", faulty)
    r = await radio({"test": helpers.DroneModel()})
    s = await raw_stream(r.url, "/stream/test.mp3")
    t0 = time.perf_counter()
    body = await s.read_for(4.0)
    elapsed = time.perf_counter() - t0
    channel = r.station.channels["test"]
    assert calls[0] >= 10 and channel.running and channel.listeners == 1
    assert channel.broadcaster.underruns == 0
    assert len(body) >= (elapsed - 0.5) * helpers.BYTES_PER_SECOND, "the stream kept its rate"
    frames, skipped, _ = helpers.split_frames(body)
    assert skipped == 0
    samples = helpers.decode_mono(b"".join(frames))
    assert np.isfinite(samples).all() and np.abs(samples).max() < 0.99, "no full-scale clicks from NaN"
    restarts = r.station.metrics.composer_restarts.labels("test", "render")._value.get()
    assert restarts >= 2


async def open_raw(url: str):
    host, port = url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def test_malformed_requests_and_oversized_headers_get_4xx_and_listeners_play_on(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    listener = await raw_stream(r.url, "/stream/test.mp3")
    await listener.read_for(0.3)
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",  # TLS to a plain port
                 b"GET /stream/test.mp3 HTTP/9.9\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
                 b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"):
        reader, writer = await open_raw(r.url)
        writer.write(junk)
        try:
            answer = await asyncio.wait_for(reader.read(200), 5)
        except ConnectionError:
            answer = b""  # dropped outright is a fine answer too
        writer.close()
        if answer:
            status = int(answer.split()[1])
            assert 400 <= status < 500, answer
    t0 = time.perf_counter()
    got = await listener.read_for(1.0)
    assert len(got) >= (time.perf_counter() - t0 - 0.5) * helpers.BYTES_PER_SECOND
    assert r.station.channels["test"].listeners == 1


async def test_malformed_requests_log_one_line_each_rate_limited(radio, helpers, caplog):
    import logging

    from radio.web.logs import LINES_PER_WINDOW

    r = await radio({"test": helpers.DroneModel()})
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    for _ in range(40):
        reader, writer = await open_raw(r.url)
        writer.write(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")  # a 9 KB request line
        try:
            await asyncio.wait_for(reader.read(200), 5)
        except ConnectionError:
            pass
        writer.close()
    records = [rec for rec in caplog.records if rec.name == "aiohttp.server"]
    assert 1 <= len(records) <= LINES_PER_WINDOW, [rec.getMessage()[:100] for rec in records]
    for rec in records:
        text = rec.getMessage()
        assert rec.exc_info is None and rec.levelno == logging.WARNING and "\n" not in text, text
        assert text.startswith("bad request from 127.0.0.1: LineTooLong") and len(text) < 300, text
    assert sum(len(rec.getMessage()) for rec in records) < 3000  # 40 tracebacks were ~40 KB


def test_the_bad_request_filter_passes_other_errors_whole_and_says_what_it_left_out():
    import logging
    import sys

    from aiohttp.http_exceptions import BadStatusLine

    from radio.web.logs import BadRequestLog

    now = [0.0]
    log_filter = BadRequestLog(per_window=2, window_seconds=60.0, clock=lambda: now[0])

    def record(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            info = sys.exc_info()
        return logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
                                 ("203.0.113.9",), info)

    crash = record(RuntimeError("a handler bug"))
    assert log_filter.filter(crash) and crash.exc_info is not None and crash.levelno == logging.ERROR
    kept = [log_filter.filter(r) for r in (record(BadStatusLine("\x16\x03")) for _ in range(5))]
    assert kept == [True, True, False, False, False] and log_filter.left_out == 3
    now[0] = 61.0
    later = record(BadStatusLine("junk"))
    assert log_filter.filter(later) and later.getMessage().endswith("; 3 more not logged")


async def test_a_slowloris_trickle_is_closed_at_the_idle_timeout(helpers, continuo_home):
    from radio.commands.serve import start_site
    from radio.station.station import Station
    from radio.web.app import create_app

    station = Station(helpers.fast_settings())
    await station.add_style(helpers.make_style("test"), helpers.DroneModel())
    runner = await start_site(create_app(station, manage_station=True), "127.0.0.1", 0, 1.0)  # as `serve` does
    try:
        await _slowloris(f"http://127.0.0.1:{runner.addresses[0][1]}", helpers)
    finally:
        await runner.cleanup()


async def _slowloris(url, helpers):
    listener, listener_w = await open_raw(url)
    listener_w.write(b"GET /stream/test.mp3 HTTP/1.0\r\n\r\n")
    await helpers.read_for(listener, 0.3)
    reader, writer = await open_raw(url)
    closed_after = None
    t0 = time.perf_counter()
    request = b"GET /stream/test.mp3 HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: y\r\n" * 50
    for byte in request:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            closed_after = time.perf_counter() - t0
            break
        if reader.at_eof():
            closed_after = time.perf_counter() - t0
            break
        try:
            if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                closed_after = time.perf_counter() - t0
                break
        except asyncio.TimeoutError:
            pass
    writer.close()
    assert closed_after is not None and closed_after < 4, "the trickling connection was never closed"
    await helpers.read_for(listener, 0.2)  # what piled up meanwhile
    t1 = time.perf_counter()
    got = await helpers.read_for(listener, 1.0)
    listener_w.close()
    assert len(got) >= (time.perf_counter() - t1 - 0.5) * helpers.BYTES_PER_SECOND, "the real listener was not cut"

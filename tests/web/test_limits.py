"""Caps on listeners and event feeds (503 + Retry-After, nobody else touched), the client
address behind a trusted proxy only, SSE write deadlines and the MIDI cache."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import aiohttp
import pytest

from radio.web.limits import LIMITS, Caps, parse_proxies


async def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """One HTTP/1.0 request; the status, headers and the first bytes of the body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n{extra}\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)}
    body = await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    return int(lines[0].split()[1]), parsed, body


async def test_past_the_total_listener_cap_a_client_gets_503_and_the_others_play_on(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()}, caps=Caps(max_listeners=2, max_listeners_per_client=0))
    first = await raw_stream(r.url, "/stream/test.mp3")
    second = await raw_stream(r.url, "/stream/test.mp3")
    await first.read_for(0.3)
    status, headers, body = await raw_get(r.url, "/stream/test.mp3")
    assert status == 503
    assert headers["retry-after"] == "30" and headers["content-type"].startswith("application/json")
    assert "2 listeners is the most" in json.loads(body)["error"]
    # The two already listening keep getting audio at the live rate, and the refusal cost nothing.
    t0 = time.perf_counter()
    got = await first.read_for(1.5), await second.read_for(0.2)
    assert len(got[0]) >= (time.perf_counter() - t0 - 0.6) * helpers.BYTES_PER_SECOND
    assert r.station.channels["test"].listeners == 2
    limits = r_limits(r)
    assert limits.listeners.total == 2 and limits.listeners.refused == 1
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/metrics") as resp:
            assert 'continuo_refused_total{what="listeners"} 1.0' in await resp.text()
    # A slot that frees up is taken again.
    first.close()
    for _ in range(50):
        if limits.listeners.total < 2:
            break
        await asyncio.sleep(0.05)
    third = await raw_stream(r.url, "/stream/test.mp3")
    assert third.headers["status"] == "200"


def r_limits(r):
    return r.app[LIMITS]


async def test_the_per_client_cap_counts_one_address(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()}, caps=Caps(max_listeners_per_client=2))
    for _ in range(2):
        await raw_stream(r.url, "/stream/test.mp3")
    status, headers, body = await raw_get(r.url, "/stream/test.mp3")
    assert status == 503 and "Retry-After" in {k.title(): v for k, v in headers.items()}
    assert "127.0.0.1 already has 2 listeners" in json.loads(body)["error"]
    # X-Forwarded-For from a client that is not a trusted proxy changes nothing.
    status, _, _ = await raw_get(r.url, "/stream/test.mp3", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 503
    # HEAD costs no slot.
    async with aiohttp.ClientSession() as http:
        async with http.head(f"{r.url}/stream/test.mp3") as resp:
            assert resp.status == 200


async def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()},
                    caps=Caps(max_listeners_per_client=1, trusted_proxies=parse_proxies("127.0.0.1")))
    a = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.1"})
    assert a.headers["status"] == "200"
    # Another address behind the same proxy has its own slot...
    b = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "203.0.113.2"})
    assert b.headers["status"] == "200"
    # ...and the same one does not (the right-most untrusted hop is the client).
    status, _, body = await raw_get(r.url, "/stream/test.mp3", {"X-Forwarded-For": "10.9.9.9, 203.0.113.1"})
    assert status == 503 and "203.0.113.1 already has 1" in json.loads(body)["error"]
    listener_peers = {l.peer for l in r.station.channels["test"].broadcaster.listeners}
    assert listener_peers == {"203.0.113.1", "203.0.113.2"}


def test_forwarded_entries_that_are_not_bare_addresses():
    from radio.web.limits import forwarded_address

    assert forwarded_address(" 203.0.113.9:5555 ") == forwarded_address("203.0.113.9") == "203.0.113.9"
    assert forwarded_address("[2001:db8::1]:443") == forwarded_address("[2001:DB8::1]") == "2001:db8::1"
    assert forwarded_address("2001:db8::1") == "2001:db8::1"
    for junk in ("unknown", "_hidden", "", "203.0.113.9:x:y", "[::1", "a.b.c.d:80", "999.1.1.1"):
        assert forwarded_address(junk) is None, junk


async def test_a_forwarded_port_or_junk_cannot_make_a_fresh_client(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()},
                    caps=Caps(max_listeners_per_client=1, trusted_proxies=parse_proxies("127.0.0.1")))
    a = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "203.0.113.9:5555"})
    assert a.headers["status"] == "200"
    # The same client from another port is the same client.
    status, _, body = await raw_get(r.url, "/stream/test.mp3", {"X-Forwarded-For": "203.0.113.9:5556"})
    assert status == 503 and "203.0.113.9 already has 1" in json.loads(body)["error"]
    # "unknown" is no address: the proxy could not say, so the proxy itself is the client.
    u = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "unknown"})
    assert u.headers["status"] == "200"
    status, _, body = await raw_get(r.url, "/stream/test.mp3", {"X-Forwarded-For": "unknown-2"})
    assert status == 503 and "127.0.0.1 already has 1" in json.loads(body)["error"]
    assert {l.peer for l in r.station.channels["test"].broadcaster.listeners} == {"203.0.113.9", "127.0.0.1"}


async def test_an_ipv6_client_is_its_64_and_cannot_walk_round_the_per_client_cap(radio, raw_stream, helpers):
    from radio.web.limits import cap_key

    assert cap_key("2001:db8:1:2::1") == cap_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert cap_key("2001:db8:1:3::1") != cap_key("2001:db8:1:2::1")
    assert cap_key("::ffff:198.51.100.7") == "198.51.100.7" and cap_key("198.51.100.7") == "198.51.100.7"
    r = await radio({"test": helpers.DroneModel()},
                    caps=Caps(max_listeners_per_client=1, trusted_proxies=parse_proxies("127.0.0.1")))
    a = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "2001:db8:1:2::1"})
    assert a.headers["status"] == "200"
    status, _, body = await raw_get(r.url, "/stream/test.mp3", {"X-Forwarded-For": "2001:db8:1:2::beef"})
    assert status == 503 and "2001:db8:1:2::/64 already has 1" in json.loads(body)["error"]
    b = await raw_stream(r.url, "/stream/test.mp3", headers={"X-Forwarded-For": "2001:db8:1:3::1"})
    assert b.headers["status"] == "200"  # another /64 is another client


def test_bad_trusted_proxies_are_named():
    assert parse_proxies(" 10.0.0.1, ::1 ") == {"10.0.0.1", "::1"}
    with pytest.raises(ValueError, match="'proxy.local'"):
        parse_proxies("10.0.0.1,proxy.local")
    with pytest.raises(ValueError, match="max_listeners"):
        Caps(max_listeners=-1)


async def test_event_feeds_are_capped_too(radio, helpers):
    r = await radio({"test": helpers.DroneModel()}, caps=Caps(max_event_clients=1))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels/test/events") as feed:
            assert feed.status == 200
            await feed.content.readline()
            async with http.get(f"{r.url}/api/channels/test/events") as refused:
                assert refused.status == 503 and refused.headers["Retry-After"] == "30"
                assert "event feeds" in (await refused.json())["error"]
        # The first feed closed: its slot is free again.
        for _ in range(50):
            async with http.get(f"{r.url}/api/channels/test/events") as again:
                if again.status == 200:
                    break
            await asyncio.sleep(0.05)
        assert again.status == 200


async def test_a_stalled_event_feed_is_closed_at_its_write_deadline(radio, helpers, monkeypatch):
    import radio.web.responses as responses

    monkeypatch.setattr(responses, "SSE_WRITE_SECONDS", 0.5)
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.0)
    channel = r.station.channels["test"]
    host, port = r.url.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # it never reads: the server's writes back up
    stalled.sendall(f"GET /api/channels/test/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    try:
        for _ in range(100):
            if len(channel.events):
                break
            await asyncio.sleep(0.05)
        assert len(channel.events) == 1
        # Feed it far more than any socket buffer holds, quickly; the write waits, then times out.
        from radio.station.events import ChannelEvent

        big = ChannelEvent("notes", {"pad": "x" * 60_000})
        limits = r_limits(r)
        deadline = time.monotonic() + 15
        while len(channel.events) and time.monotonic() < deadline:
            channel.events.publish(big)
            await asyncio.sleep(0.05)
        assert len(channel.events) == 0, "the stalled feed is still subscribed"
        for _ in range(100):
            if limits.event_feeds.total == 0:
                break
            await asyncio.sleep(0.05)
        assert limits.event_feeds.total == 0, "its slot was given back"
    finally:
        stalled.close()


@pytest.fixture
def midi_builds(monkeypatch) -> list[str]:
    """The name of the thread each MIDI file is built on, one entry per build."""
    import radio.music.midi_io as midi_io

    built_on: list[str] = []
    real = midi_io.write_midi

    def spy(beats, bpm):
        built_on.append(threading.current_thread().name)
        return real(beats, bpm)

    monkeypatch.setattr(midi_io, "write_midi", spy)
    return built_on


async def test_midi_downloads_are_built_once_off_the_event_loop(radio, helpers, midi_builds):
    built_on = midi_builds
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.0)
    channel = r.station.channels["test"]
    for _ in range(100):
        if len(channel.recent_pieces()) >= 2:
            break
        await asyncio.sleep(0.1)
    finished = channel.recent_pieces()[0]
    async with aiohttp.ClientSession() as http:
        bodies = []
        for _ in range(20):
            async with http.get(f"{r.url}/api/channels/test/pieces/{finished.piece_id}.mid") as resp:
                assert resp.status == 200
                bodies.append(await resp.read())
        results = await asyncio.gather(*(http.get(f"{r.url}/api/channels/test/current.mid") for _ in range(20)))
        for resp in results:
            assert resp.status == 200
            resp.release()
    assert len(set(bodies)) == 1
    assert len(built_on) <= 3, f"{len(built_on)} builds for 40 downloads"
    assert threading.main_thread().name not in built_on, "a MIDI file was built on the event loop's thread"


async def test_recording_midi_is_built_off_the_event_loop_and_shared(radio, helpers, midi_builds):
    from radio.music.midi_io import read_midi

    built_on = midi_builds
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.0)
    channel = r.station.channels["test"]
    await helpers.eventually(lambda: channel.broadcaster.heard_time() > 3.0, 20, "three seconds heard")
    at = channel.broadcaster.heard_time()
    async with aiohttp.ClientSession() as http:
        results = await asyncio.gather(*(http.get(f"{r.url}/api/channels/test/recording.mid?seconds=2&at={at}")
                                         for _ in range(20)))
        bodies = []
        for resp in results:
            assert resp.status == 200
            bodies.append(await resp.read())
    assert len(set(bodies)) == 1 and read_midi(bodies[0]).notes
    assert len(built_on) == 1, f"{len(built_on)} builds for 20 identical downloads"
    assert threading.main_thread().name not in built_on, "a recording's MIDI was built on the event loop's thread"

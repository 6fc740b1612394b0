"""The HTTP API around the streams: channel JSON, SSE events, MIDI, errors, health, metrics."""

from __future__ import annotations

import asyncio
import json

import re

import aiohttp

from radio.music.midi_io import read_midi

NOW_PLAYING_KEYS = {"title", "key", "style", "started_at", "piece_id", "model_version"}


async def test_channels_json_describes_every_channel(radio, helpers):
    r = await radio({"one": helpers.DroneModel(version="v1-aaaaaaaa"), "two": helpers.DroneModel(version="v2")})
    await helpers.eventually(lambda: all(c.now_playing() for c in r.station.channels.values()), what="both playing")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels") as resp:
            assert resp.status == 200
            channels = await resp.json()
        async with http.get(f"{r.url}/api/channels/one") as resp:
            one = await resp.json()
    assert [c["style"] for c in channels] == ["one", "two"]
    assert set(one) == {"style", "name", "description", "now_playing", "listeners", "model_version", "model_kind",
                        "stream_url", "blend"}
    assert one["model_kind"] is None  # the stand-in model has no encoding; a real one says e.g. "token"
    assert one["blend"] is None  # a style's own channel; a blend's names its parents' weights
    assert one["stream_url"] == "/stream/one.mp3" and one["model_version"] == "v1-aaaaaaaa"
    assert one["name"] == "One" and one["listeners"] == 0
    np = one["now_playing"]
    assert set(np) == NOW_PLAYING_KEYS
    assert np["style"] == "one" and np["model_version"] == "v1-aaaaaaaa"
    assert np["title"].endswith(np["key"]) and " No. " in np["title"]
    assert abs(np["started_at"] - __import__("time").time()) < 5


async def test_unknown_styles_are_404_json_and_streams_take_only_get_and_head(radio, helpers):
    r = await radio({"test": helpers.DroneModel()})
    async with aiohttp.ClientSession() as http:
        for path in (
            "/stream/nope.mp3",
            "/api/channels/nope",
            "/api/channels/nope/events",
            "/api/channels/nope/current.mid",
            "/api/channels/test/pieces/nope-1.mid",
        ):
            async with http.get(f"{r.url}{path}") as resp:
                assert resp.status == 404, path
                assert resp.content_type == "application/json"
                assert "error" in await resp.json()
        for method in ("POST", "PUT", "DELETE"):
            async with http.request(method, f"{r.url}/stream/test.mp3") as resp:
                assert resp.status == 405
                assert "GET" in resp.headers["Allow"]
        async with http.head(f"{r.url}/stream/test.mp3") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "audio/mpeg"
            assert resp.headers["Cache-Control"].startswith("no-cache")
            assert resp.headers["icy-name"] == "Test" and resp.headers["icy-br"] == "128"
            assert resp.headers["icy-description"] == "The test channel."
            assert await resp.read() == b""
        async with http.get(f"{r.url}/stream/test.mp3?sid=bad%20sid") as resp:
            assert resp.status == 400
    assert r.station.channels["test"].listeners == 0


async def read_events(resp: aiohttp.ClientResponse, until: set[str], seconds: float) -> list[tuple[str, dict]]:
    """SSE events until every name in ``until`` has been seen (or time runs out)."""
    events: list[tuple[str, dict]] = []
    name = None
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while until - {e for e, _ in events} and loop.time() < end:
        line = await asyncio.wait_for(resp.content.readline(), end - loop.time())
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            name = text[7:]
        elif text.startswith("data: ") and name:
            events.append((name, json.loads(text[6:])))
            name = None
    return events


async def test_events_feed_gives_stream_start_pieces_and_notes(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.5)
    channel = r.station.channels["test"]
    await helpers.eventually(lambda: channel.now_playing() and channel.broadcaster.released_seconds > 0.5,
                             what="the first piece playing")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels/test/events?sid=page-1") as events:
            assert events.status == 200 and events.content_type == "text/event-stream"
            first = await read_events(events, {"listeners", "piece", "notes"}, 5)
            stream = await raw_stream(r.url, "/stream/test.mp3?sid=page-1")
            later = await read_events(events, {"stream", "listeners"}, 5)
            more = await read_events(events, {"piece"}, 5)  # the next piece, announced ahead
    names = {n for n, _ in first}
    assert {"listeners", "piece", "notes"} <= names
    piece = next(d for n, d in first if n == "piece")
    assert set(piece) == {"piece_id", "title", "key", "style", "model_version", "t"}
    notes = [d for n, d in first if n == "notes"]
    assert all(set(d) == {"t", "beat_seconds", "beats"} for d in notes)
    assert notes[0]["beat_seconds"] == 60 / (120 * 4)
    ts = [d["t"] for d in notes]
    assert ts == sorted(ts)
    beat = next(b for d in notes for b in d["beats"] if b)
    assert all(isinstance(p, int) and t in ("b", "s") for p, t in beat)
    started = dict(later)["stream"]
    assert started["sid"] == "page-1"
    listener = next(iter(r.station.channels["test"].broadcaster.listeners))
    assert started["stream_start"] == round(listener.stream_start, 4)
    assert 0 <= started["stream_start"] <= r.station.channels["test"].broadcaster.released_seconds
    assert dict(later)["listeners"] == {"listeners": 1}
    new_piece = dict(more)["piece"]
    assert new_piece["piece_id"] != piece["piece_id"] and new_piece["t"] > piece["t"]
    stream.close()


async def test_stream_event_arrives_even_when_the_stream_came_first(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    stream = await raw_stream(r.url, "/stream/test.mp3?sid=early")
    await stream.read_for(0.2)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels/test/events?sid=early") as events:
            got = dict(await read_events(events, {"stream"}, 3))
    assert got["stream"]["sid"] == "early"


async def test_midi_download_of_the_current_and_a_recent_piece(radio, helpers):
    r = await radio({"test": helpers.DroneModel()}, piece_seconds=1.0)
    channel = r.station.channels["test"]
    await helpers.eventually(lambda: len(channel.recent_pieces()) >= 2, 15, "a finished piece and a current one")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels/test/current.mid") as resp:
            assert resp.status == 200 and resp.content_type == "audio/midi"
            assert "attachment" in resp.headers["Content-Disposition"]
            current = read_midi(await resp.read())
        old = channel.recent_pieces()[0]
        async with http.get(f"{r.url}/api/channels/test/pieces/{old.piece_id}.mid") as resp:
            assert resp.status == 200
            finished = read_midi(await resp.read())
    assert current.notes and any(current.notes)
    assert finished.tempo_bpm == 120
    breath = channel.settings.composer.breath_beats
    assert len(old.beats) - breath <= len(finished.notes) <= len(old.beats)
    assert finished.notes == old.beats[: len(finished.notes)], "the piece as played, in the playback key"


async def test_healthz_and_metrics(radio, raw_stream, helpers):
    r = await radio({"test": helpers.DroneModel()})
    s = await raw_stream(r.url, "/stream/test.mp3")
    received = len(await s.read_for(0.6))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/healthz") as resp:
            assert resp.status == 200
            health = await resp.json()
        async with http.get(f"{r.url}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    assert health["status"] == "ok" and health["channels"]["test"]["running"] is True
    for name in (
        'continuo_listeners{channel="test"} 1.0',
        'continuo_bytes_sent_total{channel="test"}',
        'continuo_buffer_ahead_seconds{channel="test"}',
        'continuo_underruns_total{channel="test"} 0.0',
        'continuo_stage_seconds_count{channel="test",stage="compose"}',
        'continuo_stage_seconds_count{channel="test",stage="synth"}',
        'continuo_stage_seconds_count{channel="test",stage="encode"}',
        'continuo_listener_drops_total{channel="test"} 0.0',
        'continuo_audio_seconds_total{channel="test"}',
    ):
        assert name in text, name
    sent = float(re.search(r'continuo_bytes_sent_total\{channel="test"\} (\S+)', text).group(1))
    assert sent >= 0.95 * received, "the connect burst counts as bytes sent"
    ticks = float(re.search(r'continuo_broadcast_send_seconds_count\{channel="test"\} (\S+)', text).group(1))
    spent = float(re.search(r'continuo_broadcast_send_seconds_sum\{channel="test"\} (\S+)', text).group(1))
    assert ticks >= 1 and 0 < spent < ticks * 0.5, "each tick's write loop is timed, and took under an interval"


async def test_a_multiline_description_still_streams(radio, helpers):
    import dataclasses

    r = await radio({"test": helpers.DroneModel()})
    channel = r.station.channels["test"]
    channel.style = dataclasses.replace(channel.style, description="Line one.\r\nLine\ttwo.", display_name="Te\nst")
    async with aiohttp.ClientSession() as http:
        async with http.head(f"{r.url}/stream/test.mp3") as resp:
            assert resp.status == 200
            assert resp.headers["icy-description"] == "Line one. Line two."
            assert resp.headers["icy-name"] == "Te st"

"""Blend channels: parsing and quantising weights, the blend's settings, one shared channel
per blend, the --max-blends cap (503) and the reaping of blends nobody listens to.

The model side (radio.model.blend) has its own tests; here a stand-in blend records what it
was asked to mix, so these tests see the mixer's decisions only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from radio.station.blends import BlendError, BlendSpec, UnknownStyle, blend_style, parse_blend, quantise
from radio.station.station import Station
from radio.styles import Timbre

STYLES = ["baroque", "classical", "folk", "medieval"]


def test_weights_are_normalised_and_quantised_to_tenths():
    assert parse_blend({"baroque": "0.7", "folk": "0.3"}, STYLES).parts == (("baroque", 7), ("folk", 3))
    assert parse_blend({"folk": "1", "baroque": "2"}, STYLES).parts == (("baroque", 7), ("folk", 3))
    assert parse_blend({"baroque": "0.68", "folk": "0.32"}, STYLES).name == "mix-baroque70-folk30"
    three = parse_blend({"baroque": "1", "classical": "1", "folk": "1"}, STYLES)
    assert sum(t for _, t in three.parts) == 10 and sorted(t for _, t in three.parts) == [3, 3, 4]
    assert quantise({"a": 0.5, "b": 0.5}) == [("a", 5), ("b", 5)]


def test_weights_that_round_to_one_style_name_that_style():
    assert parse_blend({"baroque": "0.97", "folk": "0.03"}, STYLES) == "baroque"
    assert parse_blend({"folk": "1"}, STYLES) == "folk"


def test_the_sid_parameter_is_not_a_weight():
    assert parse_blend({"baroque": "1", "folk": "1", "sid": "abc"}, STYLES).styles == ["baroque", "folk"]


@pytest.mark.parametrize(
    "query, message",
    [
        ({"baroque": "0.5", "jazz": "0.5"}, "no style named 'jazz'"),
        ({"baroque": "-1", "folk": "1"}, "finite number"),
        ({"baroque": "nan", "folk": "1"}, "finite number"),
        ({"baroque": "lots", "folk": "1"}, "must be a number"),
        ({}, "two or three styles"),
        ({"baroque": "0", "folk": "0"}, "two or three styles"),
        ({"baroque": "1", "classical": "1", "folk": "1", "medieval": "1"}, "at most 3"),
    ],
)
def test_bad_blends_are_refused_with_the_reason(query, message):
    with pytest.raises(BlendError, match=message):
        parse_blend(query, STYLES)
    if "jazz" in query:
        with pytest.raises(UnknownStyle):
            parse_blend(query, STYLES)


def test_the_blend_style_mixes_the_parents_settings_by_weight(helpers):
    a = helpers.make_style("baroque")
    b = helpers.make_style("folk")
    a = type(a)(**{**a.__dict__, "tempo_bpm": 80.0, "temperature": 0.9, "top_p": 0.9, "loudness_gain_db": 4.0,
                   "timbre": Timbre(partials=(1.0, 0.5), attack=0.01, level=0.5)})
    b = type(b)(**{**b.__dict__, "tempo_bpm": 120.0, "temperature": 1.1, "loudness_gain_db": 10.0,
                   "timbre": Timbre(partials=(1.0, 0.5, 0.2), attack=0.03, level=0.7)})
    spec = BlendSpec((("baroque", 7), ("folk", 3)))
    style = blend_style(spec, {"baroque": a, "folk": b})
    assert style.name == "mix-baroque70-folk30"
    assert style.display_name == "Baroque 70% · Folk 30%"
    assert style.tempo_bpm == pytest.approx(92.0)
    assert style.temperature == pytest.approx(0.96)
    assert style.top_p == pytest.approx(0.93)  # folk's 1.0 by default
    assert style.loudness_gain_db == pytest.approx(5.8)
    assert style.timbre.partials == pytest.approx((1.0, 0.5, 0.06))
    assert style.timbre.attack == pytest.approx(0.016) and style.timbre.level == pytest.approx(0.56)


# --- on a running station ---------------------------------------------------------------


@dataclass
class BlendCall:
    versions: list[str]
    weights: list[float]


@pytest.fixture
async def mix_radio(continuo_home, helpers):
    """A station with drone channels a, b, c and a stand-in blend, on a free port."""
    runners: list[web.AppRunner] = []

    async def start(*, max_blends: int = 2, grace: float = 0.6, caps=None):
        from radio.web.app import create_app

        station = Station(helpers.fast_settings(), max_blends=max_blends, blend_grace_seconds=grace)
        for i, name in enumerate(["a", "b", "c"]):
            await station.add_style(helpers.make_style(name), helpers.DroneModel(version=f"{name}-000000", pitch=50 + i))
        calls: list[BlendCall] = []

        def fake_blend(models, weights):
            calls.append(BlendCall([m.version for m in models], list(weights)))
            if any(m.version.startswith("c") for m in models):
                raise ValueError("models of encodings 'continuo' and 'token' cannot be blended")
            return helpers.DroneModel(version="blend-" + "+".join(m.version[0] for m in models), pitch=62)

        station.mixer.blend = fake_blend
        runner = web.AppRunner(create_app(station, manage_station=True, caps=caps), shutdown_timeout=1.0)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}", station, calls

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_blend_is_one_shared_channel_with_an_honest_name(mix_radio, raw_stream):
    url, station, calls = await mix_radio()
    s1 = await raw_stream(url, "/stream/mix.mp3?a=0.7&b=0.3", headers={"Icy-MetaData": "1"})
    s2 = await raw_stream(url, "/stream/mix.mp3?b=3&a=7")  # the same blend, asked differently
    assert s1.headers["status"] == "200" and s2.headers["status"] == "200"
    assert s1.headers["icy-name"].encode("latin-1").decode() == "A 70% · B 30%"  # sent as UTF-8
    body = await s1.read_for(1.5)
    await s2.read_for(0.3)
    assert b"StreamTitle='" in body and "A 70% · B 30%".encode() in body
    assert list(station.blends) == ["mix-a70-b30"]
    assert station.blends["mix-a70-b30"].listeners == 2
    assert calls == [BlendCall(["a-000000", "b-000000"], [0.7, 0.3])]  # one model, one encoder
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/channels/mix-a70-b30") as resp:
            info = await resp.json()
        assert info["name"] == "A 70% · B 30%" and info["blend"] == {"a": 0.7, "b": 0.3}
        assert info["stream_url"] == "/stream/mix.mp3?a=0.7&b=0.3"
        assert info["model_version"] == "blend-a+b"
        async with http.get(f"{url}/api/channels") as resp:
            assert [c["style"] for c in await resp.json()] == ["a", "b", "c"]  # the fixed channels only
        async with http.get(f"{url}/healthz") as resp:
            health = await resp.json()
        assert list(health["channels"]) == ["a", "b", "c"] and list(health["blends"]) == ["mix-a70-b30"]
        assert health["blends"]["mix-a70-b30"]["running"] and health["blends"]["mix-a70-b30"]["listeners"] == 2


async def test_weights_that_round_to_one_style_redirect_to_it(mix_radio):
    url, station, _ = await mix_radio()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/stream/mix.mp3?a=0.98&b=0.02&sid=x1", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/stream/a.mp3?sid=x1"
    assert not station.blends


async def test_bad_blend_urls_get_clear_errors(mix_radio):
    url, station, _ = await mix_radio()
    async with aiohttp.ClientSession() as http:
        for query, status, words in [
            ("a=0.5&jazz=0.5", 404, "no style named 'jazz'"),
            ("a=x&b=1", 400, "must be a number"),
            ("", 400, "two or three styles"),
            ("a=1&c=1", 409, "cannot be blended"),
        ]:
            async with http.get(f"{url}/stream/mix.mp3?{query}") as resp:
                assert resp.status == status, query
                assert words in (await resp.json())["error"]
    assert not station.blends


async def test_past_the_cap_a_listener_gets_503_then_idle_blends_are_reaped(mix_radio, raw_stream):
    url, station, _ = await mix_radio(max_blends=1, grace=0.6)
    s1 = await raw_stream(url, "/stream/mix.mp3?a=0.5&b=0.5")
    await s1.read_for(0.3)
    async with _elsewhere() as other:  # another address: the station's cap, not the per-client one
        async with other.get(f"{url}/stream/mix.mp3?a=0.2&b=0.8") as resp:
            assert resp.status == 503
            assert "--max-blends 1" in (await resp.json())["error"]
            assert int(resp.headers["Retry-After"]) >= 1
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/mix") as resp:
            status = await resp.json()
        assert status["max_blends"] == 1 and [b["id"] for b in status["live"]] == ["mix-a50-b50"]
        # While someone listens the blend stays, however long the grace period passes.
        await asyncio.sleep(1.0)
        assert "mix-a50-b50" in station.blends
        s1.close()
        for _ in range(40):
            await asyncio.sleep(0.1)
            if not station.blends:
                break
        assert not station.blends and station.mixer.reaped == 1
        # Room again: the other blend starts.
        async with http.post(f"{url}/api/mix?a=0.2&b=0.8") as resp:
            assert resp.status == 200
            assert (await resp.json())["style"] == "mix-b80-a20"
        assert list(station.blends) == ["mix-b80-a20"]


async def test_a_client_past_its_listener_cap_starts_no_blend(mix_radio, raw_stream):
    from radio.web.limits import Caps

    url, station, calls = await mix_radio(caps=Caps(max_listeners_per_client=1))
    first = await raw_stream(url, "/stream/a.mp3")
    await first.read_for(0.2)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/stream/mix.mp3?a=0.5&b=0.5") as resp:
            assert resp.status == 503 and "the most one address may hold" in (await resp.json())["error"]
    assert not station.blends and calls == []  # refused before a model was blended or a channel started
    first.close()


async def test_a_blend_nobody_listens_to_is_reaped_after_the_grace_period(mix_radio):
    url, station, _ = await mix_radio(grace=0.4)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/api/mix?a=1&b=1") as resp:
            assert resp.status == 200
    assert "mix-a50-b50" in station.blends
    await asyncio.sleep(1.2)
    assert not station.blends


async def test_max_blends_zero_turns_blends_off(mix_radio):
    url, station, _ = await mix_radio(max_blends=0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/stream/mix.mp3?a=1&b=1") as resp:
            assert resp.status == 503 and "turned off" in (await resp.json())["error"]


async def _post_mix(http, url: str, query: str) -> int:
    async with http.post(f"{url}/api/mix?{query}") as resp:
        await resp.read()
        return resp.status


def _elsewhere() -> aiohttp.ClientSession:
    """A client on another address (all of 127/8 is loopback)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)))


async def test_one_address_posting_every_pair_cannot_keep_others_from_a_new_mix(mix_radio):
    url, station, _ = await mix_radio(max_blends=2, grace=60.0)
    async with aiohttp.ClientSession() as http:
        statuses = [await _post_mix(http, url, f"a={t}&b={10 - t}") for t in range(1, 10)]
        async with http.post(f"{url}/api/mix?a=4&b=6") as resp:
            assert resp.status == 503 and int(resp.headers["Retry-After"]) > 0
            assert "already keeps 1 blend(s) going" in (await resp.json())["error"]
    assert statuses[0] == 200 and set(statuses[1:]) == {503}, statuses
    assert len(station.blends) == 1
    # Someone else asking for a new mix gets it.
    async with _elsewhere() as http:
        async with http.get(f"{url}/stream/mix.mp3?a=0.5&b=0.5") as resp:
            assert resp.status == 200
            assert len(await resp.content.read(4096)) > 0
    print(f"\none address POSTing all 9 pairs: {statuses.count(200)} started, {statuses.count(503)} refused; "
          "another address's new mix: 200")


async def test_an_idle_posted_blend_ends_quickly_and_a_listened_one_keeps_its_grace(mix_radio, raw_stream):
    url, station, _ = await mix_radio(max_blends=2, grace=60.0)
    station.mixer.first_listener_seconds = 0.5
    async with aiohttp.ClientSession() as http:
        assert await _post_mix(http, url, "a=0.3&b=0.7") == 200
    assert "mix-b70-a30" in station.blends
    deadline = asyncio.get_running_loop().time() + 5.0
    while "mix-b70-a30" in station.blends:  # nobody opened it: gone long before the 60 s grace
        assert asyncio.get_running_loop().time() < deadline, "an idle POSTed blend kept its slot"
        await asyncio.sleep(0.1)
    # POSTed, then listened to (as the page does): it stays past the first-listener wait.
    async with aiohttp.ClientSession() as http:
        assert await _post_mix(http, url, "a=0.6&b=0.4") == 200
    stream = await raw_stream(url, "/stream/mix.mp3?a=0.6&b=0.4")
    await stream.read_for(1.5)
    assert "mix-a60-b40" in station.blends


async def test_listening_to_each_mix_for_a_moment_still_holds_one_slot(mix_radio, raw_stream):
    url, station, _ = await mix_radio(max_blends=2, grace=60.0)
    first = await raw_stream(url, "/stream/mix.mp3?a=0.2&b=0.8")
    await first.read_for(0.3)
    first.close()
    deadline = asyncio.get_running_loop().time() + 5.0
    while station.blends["mix-b80-a20"].listeners:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    # The blend idles for its grace, and its last listener still keeps it going.
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/stream/mix.mp3?a=0.9&b=0.1") as resp:
            assert resp.status == 503 and "mix-b80-a20" in (await resp.json())["error"]
        assert await _post_mix(http, url, "a=0.1&b=0.9") == 503
        # Joining a live blend is always fine, and a client that listens gets it back to itself.
        second = await raw_stream(url, "/stream/mix.mp3?a=0.2&b=0.8")
        assert second.headers["status"] == "200"
    async with _elsewhere() as http:
        assert await _post_mix(http, url, "a=0.7&b=0.3") == 200
    assert set(station.blends) == {"mix-b80-a20", "mix-a70-b30"}

"""The mixer, the sleep timer, "save what you heard" and the media keys, in real Chromium
against a real ``continuo serve`` with three channels: baroque, classical and folk, so that
two of them share a model kind (models blend only within one) whatever kinds the bundled
models are while they are being retrained one by one."""

from __future__ import annotations

import numpy as np
import pytest

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

pytestmark = pytest.mark.browser

STYLES = ("baroque", "classical", "folk")


@pytest.fixture(scope="module")
def station(chromium_path, tmp_path_factory):
    from .conftest import StationProcess

    server = StationProcess(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("serve-logs"), STYLES)
    server.start()
    yield server
    server.stop()


def blendable_pair(station) -> tuple[dict, dict]:
    """The first two channels whose models are of one kind, as the station describes them."""
    channels = station.get_json("/api/channels")
    for i, a in enumerate(channels):
        for b in channels[i + 1:]:
            if a["model_kind"] and a["model_kind"] == b["model_kind"]:
                return a, b
    pytest.fail(f"no two channels share a model kind: {[(c['style'], c['model_kind']) for c in channels]}")

CAPTURE_MEDIA_HANDLERS = """
  window.__mediaHandlers = {};
  if ('mediaSession' in navigator) {
    const original = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
    navigator.mediaSession.setActionHandler = (action, handler) => {
      window.__mediaHandlers[action] = handler;
      original(action, handler);
    };
  }
"""


def wait_audio(page, fragment: str, seconds: float = 1.0, timeout: float = 30000) -> None:
    try:
        page.wait_for_function(
            """([fragment, seconds]) => {
              const a = document.getElementById('audio');
              return a.src.includes(fragment) && !a.paused && a.currentTime > seconds;
            }""",
            arg=[fragment, seconds],
            timeout=timeout,
            polling=200,
        )
    except PlaywrightTimeout:
        state = page.evaluate("() => [document.getElementById('audio').src, document.getElementById('status').textContent]")
        pytest.fail(f"{fragment} did not play {seconds} s; page: {state}")


def test_the_mixer_plays_a_blend(page, console, station):
    a, b = blendable_pair(station)
    name = f"{a['name']} 70% · {b['name']} 30%"
    page.goto(station.base + "/")
    page.wait_for_selector(f".mix-row input[data-style='{b['style']}']")
    page.locator(f".mix-row input[data-style='{a['style']}']").fill("7")
    page.locator(f".mix-row input[data-style='{b['style']}']").fill("3")
    assert page.locator(".mix-name").text_content() == name
    page.get_by_role("button", name="Play this mix").click()
    wait_audio(page, f"/stream/mix.mp3?{a['style']}=0.7&{b['style']}=0.3", seconds=2.0)
    page.wait_for_function("name => document.getElementById('np-channel').textContent === name", arg=name)
    live = station.get_json("/api/mix")["live"]
    assert [blend["name"] for blend in live] == [name]
    assert console.errors == []


def test_the_mixer_refuses_styles_whose_models_are_of_different_kinds(page, station):
    # Whatever the bundled models are, the page is told baroque's is of another kind.
    def other_kind(route):
        response = route.fetch()
        channels = response.json()
        for channel in channels:
            channel["model_kind"] = "other" if channel["style"] == "baroque" else "token"
        route.fulfill(response=response, json=channels)

    page.route("**/api/channels", other_kind)
    page.goto(station.base + "/")
    page.wait_for_selector(".mix-row input[data-style='classical']")
    page.locator(".mix-row input[data-style='baroque']").fill("5")
    page.locator(".mix-row input[data-style='classical']").fill("5")
    text = page.locator(".mix-name").text_content()
    assert "Baroque and Classical cannot be mixed" in text and "Baroque: other" in text, text
    assert page.get_by_role("button", name="Play this mix").is_disabled()
    page.locator(".mix-row input[data-style='baroque']").fill("0")
    page.locator(".mix-row input[data-style='folk']").fill("5")
    assert page.locator(".mix-name").text_content() == "Classical 50% · Folk 50%"
    assert page.get_by_role("button", name="Play this mix").is_enabled()


def test_the_sleep_timer_fades_and_stops_across_a_channel_switch(page, station):
    page.clock.install()  # an accelerated clock: fast_forward jumps the page's timers ahead
    page.goto(station.base + "/")
    page.locator(".card[data-style='baroque'] .card-play").click()
    wait_audio(page, "/stream/baroque.mp3")
    page.select_option("#sleep", "15")
    assert page.locator("#sleep-left").text_content().startswith("Stops in 1")
    page.clock.fast_forward("14:40")
    page.wait_for_function("document.getElementById('sleep-left').textContent.startsWith('Stops in 0:')")
    volume = page.evaluate("document.getElementById('audio').volume")
    assert 0.05 < volume < 0.8 * 0.9  # fading (the page's volume is 0.8)
    # A channel switch keeps the timer (and the fade) going.
    page.locator(".card[data-style='classical'] .card-play").click()
    wait_audio(page, "/stream/classical.mp3", seconds=0.2)
    assert page.locator("#sleep-left").is_visible()
    page.clock.fast_forward("00:30")
    page.wait_for_function("!document.getElementById('audio').hasAttribute('src')")
    assert "sleep timer" in page.locator("#status").text_content()
    assert page.locator("#sleep").input_value() == "0" and page.locator("#sleep-left").is_hidden()
    assert page.evaluate("document.getElementById('audio').volume") == pytest.approx(0.8)  # ready for next time


def test_a_recording_downloads_and_decodes_to_the_asked_length(page, station, tmp_path):
    import miniaudio

    page.goto(station.base + "/")
    page.locator(".card[data-style='baroque'] .card-play").click()
    wait_audio(page, "/stream/baroque.mp3", seconds=5.0)
    # A short length the page does not offer, so the test need not listen for a minute.
    page.evaluate("document.getElementById('record-length').add(new Option('last 4 s', '4', true, true))")
    with page.expect_download() as info:
        page.get_by_role("button", name="Save MP3").click()
    path = tmp_path / "recording.mp3"
    info.value.save_as(path)
    assert info.value.suggested_filename.startswith("continuo-baroque-")
    decoded = miniaudio.decode(path.read_bytes(), nchannels=1, sample_rate=44100,
                               output_format=miniaudio.SampleFormat.FLOAT32)
    samples = np.frombuffer(decoded.samples, dtype=np.float32)
    assert abs(len(samples) - 4 * 44100) <= 1152  # within one MP3 frame
    assert np.abs(samples).max() > 0.01  # music, not silence
    assert "recording.mid?seconds=4" in page.locator("#record-midi").get_attribute("href")


def test_next_and_previous_track_switch_channel(page, station):
    page.add_init_script(CAPTURE_MEDIA_HANDLERS)
    page.goto(station.base + "/")
    page.locator(".card[data-style='baroque'] .card-play").click()
    wait_audio(page, "/stream/baroque.mp3")
    assert page.evaluate("typeof window.__mediaHandlers.nexttrack") == "function"
    page.evaluate("window.__mediaHandlers.nexttrack({action: 'nexttrack'})")
    wait_audio(page, "/stream/classical.mp3")
    page.wait_for_function(
        "navigator.mediaSession.metadata && navigator.mediaSession.metadata.artist.includes('Classical')"
    )
    artwork = page.evaluate("navigator.mediaSession.metadata.artwork[0].src")
    assert artwork.startswith("data:image/png")
    page.evaluate("window.__mediaHandlers.previoustrack({action: 'previoustrack'})")
    wait_audio(page, "/stream/baroque.mp3")

"""The listener page in a real headless Chromium against a real ``continuo serve``."""

from __future__ import annotations

import re
import time

import mido
import pytest

PlaywrightTimeout = pytest.importorskip("playwright.sync_api").TimeoutError

pytestmark = pytest.mark.browser


def wait_playing(page, style: str, seconds: float = 2.0, timeout: float = 30000) -> None:
    try:
        page.wait_for_function(
            """([style, seconds]) => {
              const a = document.getElementById('audio');
              return a.src.includes(`/stream/${style}.mp3?sid=`) && !a.paused && a.currentTime > seconds;
            }""",
            arg=[style, seconds],
            timeout=timeout,
        )
    except PlaywrightTimeout:
        pytest.fail(f"{style} did not play {seconds} s within {timeout / 1000} s; page state: {player_state(page)}")


def player_state(page) -> dict:
    return page.evaluate(
        """() => {
          const a = document.getElementById('audio');
          return { src: a.src, paused: a.paused, currentTime: a.currentTime, readyState: a.readyState,
                   networkState: a.networkState, error: a.error && a.error.code,
                   status: document.getElementById('status').textContent };
        }"""
    )


def text(page, selector: str) -> str:
    return page.locator(selector).text_content().strip()


def lit_pixels_left_of_now(page) -> int:
    """Opaque pixels in the past part of the piano roll: only notes are drawn there that strongly."""
    return page.evaluate(
        """() => {
          const c = document.getElementById('roll');
          const { data, width, height } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
          const right = Math.floor(width * 0.7); // clear of the "now" line and its label
          let lit = 0;
          for (let y = 0; y < height; y++)
            for (let x = 0; x < right; x++) if (data[(y * width + x) * 4 + 3] > 100) lit++;
          return lit;
        }"""
    )


def test_page_loads_without_errors_and_shows_every_channel(page, console, station):
    channels = station.get_json("/api/channels")
    assert channels, "the station lists no channels"
    page.goto(station.base + "/")
    page.wait_for_function(f"document.querySelectorAll('.card').length === {len(channels)}")
    for channel in channels:
        card = page.locator(f".card[data-style='{channel['style']}']")
        assert channel["name"] in card.inner_text()
        assert channel["description"][:30] in card.inner_text()
        assert re.search(r"\d+ listeners?", card.locator(".card-listeners").inner_text())
        assert card.locator(".card-title").inner_text().strip()
        assert card.locator(".card-link").get_attribute("href") == f"/listen/{channel['style']}"
    # Controls are labelled for keyboard and screen-reader use.
    assert page.get_by_role("button", name="Play", exact=True).is_visible()
    assert page.get_by_label("Volume").is_visible()
    assert page.get_by_role("button", name=f"Play {channels[0]['name']}", exact=True).is_visible()
    page.wait_for_timeout(500)
    assert console.errors == []


def test_clicking_a_card_plays_it_and_the_roll_draws_the_notes(page, console, station, artifacts_dir):
    channel = station.get_json("/api/channels/baroque")
    # Let the channel run well past the seconds a listener will have heard, so that heard
    # time (stream start + audio time) can't be mistaken for the audio element's own clock.
    deadline = time.monotonic() + 30
    while station.stream_seconds("baroque") < 12:
        assert time.monotonic() < deadline, "the baroque channel is not producing audio"
        time.sleep(0.5)
    page.goto(station.base + "/")
    page.click(".card[data-style='baroque'] .card-play")
    wait_playing(page, "baroque", 2.0)

    page.wait_for_function("Number(document.getElementById('roll').dataset.notesDrawn) > 0", timeout=15000)
    assert lit_pixels_left_of_now(page) > 30, "the piano roll claims notes but painted none"

    # The roll follows what is heard: a little behind the audio the station has produced,
    # not the page's own clock (which would be only seconds since the click).
    heard = float(page.get_attribute("#roll", "data-heard-time"))
    assert station.stream_seconds("baroque") - 8 < heard < station.stream_seconds("baroque")

    assert text(page, "#np-channel") == channel["name"]
    assert text(page, "#np-title") not in ("", "Choose a channel", "Warming up…")
    assert text(page, "#np-key") != "—"
    assert text(page, "#np-model") == channel["model_version"]
    assert re.fullmatch(r"\d+:\d\d", text(page, "#np-elapsed"))
    assert page.locator(".card[data-style='baroque'] .card-play").get_attribute("aria-current") == "true"
    assert page.get_by_role("button", name="Pause", exact=True).is_visible()
    page.screenshot(path=str(artifacts_dir / "listener.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts_dir / "listener-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "sideways scrolling on a phone"
    assert console.errors == []


def test_switching_channels_changes_stream_and_title_and_drops_the_old_stream(page, station):
    page.goto(station.base + "/")
    page.click(".card[data-style='baroque'] .card-play")
    wait_playing(page, "baroque", 1.0)
    first_src = page.eval_on_selector("#audio", "a => a.src")
    first_title = text(page, "#np-title")
    classical = station.get_json("/api/channels/classical")
    titles = {classical["now_playing"]["title"]}

    page.click(".card[data-style='classical'] .card-play")
    wait_playing(page, "classical", 1.0)
    page.wait_for_function(f"document.getElementById('np-channel').textContent === {classical['name']!r}")
    titles.add(station.get_json("/api/channels/classical")["now_playing"]["title"])
    assert page.eval_on_selector("#audio", "a => a.src") != first_src
    assert page.locator("audio").count() == 1
    assert text(page, "#np-title") in titles and text(page, "#np-title") != first_title

    # Never two streams: the station stops counting this page on the old channel.
    deadline = time.monotonic() + 10
    while station.get_json("/api/channels/baroque")["listeners"] != 0:
        assert time.monotonic() < deadline, "the baroque stream is still open after switching away"
        time.sleep(0.3)


def test_save_this_piece_downloads_a_valid_midi_file(page, station, tmp_path):
    page.goto(station.base + "/listen/baroque")  # a channel link opens straight into it
    wait_playing(page, "baroque", 1.0)
    with page.expect_download() as download:
        page.click("#save")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".mid"
    data = path.read_bytes()
    assert data[:4] == b"MThd"
    midi = mido.MidiFile(path)
    assert any(m.type == "note_on" and m.velocity > 0 for track in midi.tracks for m in track)


def test_hash_links_and_keyboard_open_a_channel(page, station):
    page.goto(station.base + "/#classical")
    wait_playing(page, "classical", 0.5)
    page.goto(station.base + "/#no-such-style")
    page.wait_for_function("document.getElementById('status').textContent.includes('no channel called')")

    page.goto(station.base + "/")
    page.wait_for_selector(".card")
    for _ in range(30):  # Tab through the page to the first card, as a keyboard user would
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('card-play')"):
            break
    else:
        pytest.fail("no channel card is reachable with Tab")
    style = page.evaluate("document.activeElement.closest('.card').dataset.style")
    page.keyboard.press("Enter")
    wait_playing(page, style, 0.5)


def test_volume_and_playing_are_kept_across_reloads(page, station):
    page.goto(station.base + "/")
    page.focus("#volume")
    page.keyboard.press("Home")
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    page.click(".card[data-style='classical'] .card-play")
    wait_playing(page, "classical", 0.5)

    page.reload()
    wait_playing(page, "classical", 0.5)  # it was playing, so it plays again
    assert page.input_value("#volume") == "30"
    assert page.eval_on_selector("#audio", "a => a.volume") == pytest.approx(0.3)

    page.click("#play")  # pause
    page.wait_for_function("document.getElementById('audio').paused")
    page.click("#play")  # and play again
    wait_playing(page, "classical", 0.5)
    # A pause from outside the page (OS media keys, unplugged headphones) is the listener's
    # too: no "recovering" back into sound.
    page.eval_on_selector("#audio", "a => a.pause()")
    page.wait_for_function("document.getElementById('play').getAttribute('aria-label') === 'Play'")
    page.wait_for_timeout(1500)
    assert page.eval_on_selector("#audio", "a => a.paused")
    page.reload()
    page.wait_for_selector(".card[data-style='classical'] .card-play[aria-current='true']")
    page.wait_for_timeout(1000)
    assert page.eval_on_selector("#audio", "a => a.paused")


def test_refused_autoplay_asks_the_listener_to_press_play(launch_browser, station):
    strict = launch_browser(autoplay_policy="document-user-activation-required")  # as a real browser would
    try:
        page = strict.new_page()
        page.goto(station.base + "/listen/baroque")
        page.wait_for_function("document.getElementById('status').textContent.includes('Press play')")
        assert page.eval_on_selector("#audio", "a => a.paused")
        page.click("#play")
        wait_playing(page, "baroque", 0.5)
    finally:
        strict.close()


def test_note_buffer_and_piece_timeline(page, station):
    page.goto(station.base + "/")
    result = page.evaluate(
        """async () => {
          const { NoteBuffer } = await import('/static/js/notes.js');
          const { PieceTimeline } = await import('/static/js/pieces.js');
          const b = new NoteBuffer();
          b.add({ t: 10, beat_seconds: 0.25, beats: [[[60, 'b']], [[60, 's'], [64, 'b']], [[60, 'b']]] });
          b.add({ t: 10.75, beat_seconds: 0.25, beats: [[[60, 's']], []] });   // holds across events
          b.add({ t: 10.75, beat_seconds: 0.25, beats: [[[60, 's']], []] });   // a resend is ignored
          b.add({ t: 20, beat_seconds: 0.25, beats: [[[67, 's']]] });          // after a gap: a new note
          const notes = b.notes.map((n) => [n.pitch, n.start, n.end]);
          const window = b.between(10.6, 11).length;
          b.prune(15);
          const timeline = new PieceTimeline();
          timeline.seed({ piece_id: 'a', title: 'A' });
          timeline.add({ piece_id: 'b', title: 'B', t: 100 });
          timeline.add({ piece_id: 'a', title: 'A', t: 50 });
          return { notes, window, left: b.notes.length,
                   before: timeline.at(99.9).piece_id, after: timeline.at(100.2).piece_id,
                   unknown: timeline.at(null).piece_id, start: timeline.at(60).t };
        }"""
    )
    assert result["notes"] == [[60, 10, 10.5], [64, 10.25, 10.5], [60, 10.5, 11], [67, 20, 20.25]]
    assert result["window"] == 1 and result["left"] == 1
    assert (result["before"], result["after"], result["unknown"], result["start"]) == ("a", "b", "a", 50)


def test_page_recovers_after_the_server_restarts(page, station):
    page.goto(station.base + "/")
    page.click(".card[data-style='baroque'] .card-play")
    wait_playing(page, "baroque", 1.0)
    page.evaluate("window.sameDocument = true")

    station.kill()
    page.wait_for_function("/Lost|Reconnecting/.test(document.getElementById('status').textContent)", timeout=30000)
    # While the station is down the page keeps trying, waiting longer each time.
    page.wait_for_function("document.getElementById('status').textContent.includes('attempt 2')", timeout=15000)
    station.start()
    page.wait_for_function(
        "() => { const a = document.getElementById('audio'); return !a.paused && a.currentTime > 1; }",
        timeout=60000,
    )
    assert page.evaluate("window.sameDocument === true"), "the page was reloaded"
    page.wait_for_function("document.getElementById('status').textContent.includes('laying')")
    page.wait_for_function("Number(document.getElementById('roll').dataset.notesDrawn) > 0", timeout=15000)

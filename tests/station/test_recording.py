"""Record what you heard: frame-exact cuts from a channel's history, the ID3 tag, the MIDI."""

from __future__ import annotations

import asyncio
import io
import math

import aiohttp
import pytest

from radio.station.recording import FrameHistory, FramesGone, RecordingError, window_beats

FRAME = 1152 / 44100


def test_a_cut_is_whole_frames_ending_where_asked():
    history = FrameHistory(FRAME, seconds=10.0)
    history.add([bytes([i % 256]) * 4 for i in range(1000)])  # 26 s: only the last 10 s are kept
    assert history.first == 1000 - 383 and history.total == 1000
    cut = history.cut(5.0, end_time=900 * FRAME)
    assert cut.first_frame == 900 - round(5.0 / FRAME) and cut.count == round(5.0 / FRAME)
    frames = history.frames(cut.first_frame, cut.end)
    assert frames[-1] == bytes([899 % 256]) * 4 and len(frames) == cut.count
    assert history.nbytes(cut) == 4 * cut.count
    # Asking for more than is kept gives what is kept; the future is not recorded.
    assert history.cut(60.0, end_time=1e6).first_frame == history.first
    assert history.cut(60.0, end_time=1e6).count == 383
    # A cut is a span, not a copy: frames that leave the history meanwhile are gone, and said so.
    history.add([b"new!"] * 5)
    with pytest.raises(FramesGone):
        history.frames(cut.first_frame - 300, cut.end)


@pytest.mark.parametrize("seconds, at", [(0, 10), (0.012, 10), (0.5, 10), (601, 10), (float("nan"), 10), (5, -1)])
def test_bad_recording_lengths_are_refused(seconds, at):
    history = FrameHistory(FRAME)
    history.add([b"x"] * 1000)
    with pytest.raises(RecordingError, match="1 s to 10 minutes|stream time"):
        history.cut(seconds, at)
    assert history.cut(1.0, 10).count == round(1.0 / FRAME)  # the shortest recording there is


def test_window_beats_start_with_struck_notes(helpers):
    from radio.station.composer import PieceInfo

    piece = PieceInfo("p", 1, "T", "C major", "s", "v", 0, 120.0, start_beat=10, beat_seconds=0.125)
    piece.beats.extend([[(60, "b")], [(60, "s")], [(60, "s")], [(62, "b")]])
    beats = window_beats([piece], start_time=11 * 0.125, end_time=16 * 0.125, beat_seconds=0.125)
    assert beats == [[(60, "b")], [(60, "s")], [(62, "b")], [], []]


async def test_a_recording_is_the_asked_length_with_a_title_and_its_midi(radio, helpers):
    from mutagen.id3 import ID3

    from radio.music.midi_io import read_midi

    r = await radio({"test": helpers.DroneModel()}, piece_seconds=2.0)
    channel = r.station.channels["test"]
    # Wait until listeners have heard more than the 2.5 s asked for (and its whole beats).
    deadline = asyncio.get_running_loop().time() + 20.0
    while channel.broadcaster.heard_time() < 3.0:
        assert asyncio.get_running_loop().time() < deadline, "the channel never played 3 s"
        await asyncio.sleep(0.05)
    at = channel.broadcaster.heard_time()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=2.5&at={at}") as resp:
            assert resp.status == 200 and resp.content_type == "audio/mpeg"
            assert "attachment" in resp.headers["Content-Disposition"]
            body = await resp.read()
            start = float(resp.headers["X-Recording-Start"])
            seconds = float(resp.headers["X-Recording-Seconds"])
        async with http.get(f"{r.url}/api/channels/test/recording.mid?seconds=2.5&at={at}") as resp:
            assert resp.status == 200
            midi = read_midi(await resp.read())
        # HEAD: the headers alone (a streamed body must not follow them down a kept-alive connection).
        async with http.head(f"{r.url}/api/channels/test/recording.mp3?seconds=2.5&at={at}") as resp:
            assert resp.status == 200 and resp.content_length == len(body)
        async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=2.5&at={at}") as resp:
            assert resp.status == 200 and len(await resp.read()) == len(body)
        async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=lots") as resp:
            assert resp.status == 400 and "number" in (await resp.json())["error"]
        async with http.get(f"{r.url}/api/channels/test/recording.mp3?seconds=900") as resp:
            assert resp.status == 400 and "10 minutes" in (await resp.json())["error"]
        async with http.get(f"{r.url}/api/channels/nope/recording.mp3?seconds=5") as resp:
            assert resp.status == 404
    tags = ID3(io.BytesIO(body))
    assert str(tags["TIT2"]).startswith("Test: ") and str(tags["TPE1"]) == "Continuo"
    samples = helpers.decode_mono(body)
    assert abs(len(samples) - 2.5 * 44100) <= 1152
    assert start == pytest.approx(at - 2.5, abs=FRAME)
    # The MIDI holds every beat the cut touches: whole frames (2.508 s, 20.06 beats) rarely
    # start on a beat, so that is 21 beats, or 22 when both ends fall just inside a beat.
    bs = channel.beat_seconds
    assert len(midi.notes) == math.ceil((start + seconds) / bs - 1e-9) - math.floor(start / bs + 1e-9)
    assert any(midi.notes)


def test_a_cut_anywhere_decodes_to_every_frame_it_holds(helpers):
    import numpy as np

    from radio.audio.mp3 import FrameSplitter, encode_mp3
    from radio.station.recording import self_contained

    # A tone with noise keeps LAME's bit reservoir busy: most frames lean on the ones before.
    t = np.arange(44100 * 6) / 44100
    noisy = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t))
    frames = FrameSplitter().feed(encode_mp3(noisy.astype(np.float32)))
    assert len(helpers.decode_mono(b"".join(frames[40:90]))) < 50 * 1152  # cut raw, frames are lost
    for start in range(5, 170, 11):
        cut = frames[start : start + 50]
        fixed = self_contained(cut)
        assert len(helpers.decode_mono(b"".join(fixed))) == 50 * 1152
        assert fixed[5:] == cut[5:]  # only the leading frames are touched

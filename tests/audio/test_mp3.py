"""The MP3 encoder (continuous feeding, decodable output) and the frame splitter."""

from __future__ import annotations

import random

import miniaudio
import numpy as np
import pytest

from radio.audio.mp3 import FrameSplitter, Mp3Encoder, Mp3Error, encode_mp3, frame_duration, parse_header, to_int16
from radio.audio.synth import Synth
from radio.styles import Timbre

SR = 44100


def _music(seconds_: float = 6.0) -> np.ndarray:
    rng = random.Random(11)
    notes, held = [], {}
    beats = int(seconds_ * 110 * 4 / 60)
    for i in range(beats):
        beat = {}
        for v in range(4):
            p = held.get(v)
            if p is not None and rng.random() < 0.7:
                beat[p] = "s"
            else:
                p = 45 + 8 * v + rng.randrange(10)
                beat.setdefault(p, "b")
                held[v] = p
        held = {v: p for v, p in held.items() if p in beat}
        notes.append(sorted(beat.items()))
    return Synth(Timbre(detune_cents=2.0), bpm=110).render(notes)


MUSIC = _music()


def _decode(data: bytes) -> np.ndarray:
    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1, sample_rate=SR)
    return np.asarray(decoded.samples, dtype=np.float32)


def _encode_in_random_chunks(pcm: np.ndarray, seed: int) -> tuple[list[bytes], bytes]:
    rng = random.Random(seed)
    encoder = Mp3Encoder()
    pieces, i = [], 0
    while i < len(pcm):
        n = rng.choice([1, 17, 576, 1152, 5512, rng.randint(1, 20000)])
        pieces.append(encoder.encode(pcm[i : i + n]))
        i += n
    tail = encoder.flush()
    return pieces, tail


@pytest.mark.parametrize("seed", [0, 1])
def test_chunked_feeding_is_byte_identical_to_one_call(seed):
    pieces, tail = _encode_in_random_chunks(MUSIC, seed)
    assert b"".join(pieces) + tail == encode_mp3(MUSIC)


def test_decoded_stream_is_continuous_and_matches_the_input():
    pieces, tail = _encode_in_random_chunks(MUSIC, 5)
    out = _decode(b"".join(pieces) + tail)
    # Duration: the input plus LAME's delay and final padding (at most a couple of frames).
    assert len(MUSIC) <= len(out) <= len(MUSIC) + 3 * 1152
    # Align on the encoder delay, then the whole signal must correlate: no gaps or glitches.
    probe = MUSIC[SR : 2 * SR]
    lags = range(0, 3000)
    best = max(lags, key=lambda lag: float(np.dot(out[SR + lag : 2 * SR + lag], probe)))
    aligned = out[best : best + len(MUSIC)]
    assert np.corrcoef(aligned, MUSIC)[0, 1] > 0.98
    # Window by window (50 ms), the decoded level follows the input's: a gap would show as silence.
    w = 2205
    n = len(MUSIC) // w
    rms_in = np.sqrt(np.mean(MUSIC[: n * w].reshape(n, w) ** 2, axis=1))
    rms_out = np.sqrt(np.mean(aligned[: n * w].reshape(n, w) ** 2, axis=1))
    loud = rms_in > 0.02
    assert loud.sum() > 0.8 * n
    assert np.all(np.abs(rms_out[loud] / rms_in[loud] - 1) < 0.1)


def test_frames_are_128k_mono_frames_of_26_ms():
    data = encode_mp3(MUSIC)
    frames = FrameSplitter().feed(data)
    assert {len(f) for f in frames} <= {417, 418}
    header = parse_header(frames[1])
    assert (header.version, header.layer, header.bitrate_kbps, header.sample_rate, header.channels) == ("1", 3, 128, SR, 1)
    assert frame_duration(frames[1]) == pytest.approx(1152 / SR)
    assert len(frames) * 1152 >= len(MUSIC)


@pytest.mark.parametrize("seed", range(4))
def test_splitter_yields_exact_frames_at_any_feed_boundaries(seed):
    data = encode_mp3(MUSIC[: 3 * SR])
    expected = FrameSplitter().feed(data)
    assert b"".join(expected) == data
    rng = random.Random(seed)
    garbage = bytes(rng.randrange(256) for _ in range(300)) + b"\xff\xfb\x90\x00" + b"\x00" * 10  # includes a false sync
    stream = garbage + data
    splitter, frames, i = FrameSplitter(), [], 0
    while i < len(stream):
        n = rng.choice([1, 2, 3, 4, 5, 100, 417, 418, rng.randint(1, 5000)])
        frames += splitter.feed(stream[i : i + n])
        i += n
    assert frames == expected
    assert splitter.skipped == len(garbage)
    assert splitter.pending == 0


def test_splitter_resynchronises_after_damage_in_the_middle():
    frames = FrameSplitter().feed(encode_mp3(MUSIC[:SR]))
    damaged = b"".join(frames[:10]) + b"\x12\x34\xff\x00\x99" + b"".join(frames[10:])
    out = FrameSplitter().feed(damaged)
    assert out == frames


def test_splitter_holds_an_incomplete_frame_until_the_rest_arrives():
    frames = FrameSplitter().feed(encode_mp3(MUSIC[:SR]))
    splitter = FrameSplitter()
    assert splitter.feed(frames[0] + frames[1][:100]) == [frames[0]]
    assert splitter.pending == 100
    assert splitter.feed(frames[1][100:] + frames[2]) == [frames[1], frames[2]]


def test_parse_header_and_frame_duration():
    assert parse_header(b"\xff\xfb\x90\x64") is not None  # MPEG-1 layer III 128 kbps 44.1 kHz
    assert parse_header(b"\xff\xfb\x90\x64").length == 417
    assert parse_header(b"\xff\xfb\x92\x64").length == 418  # padded
    assert parse_header(b"\xff\xf3\x90\x64").samples == 576  # MPEG-2 layer III
    assert parse_header(b"\xff\xfb\xf0\x64") is None  # bitrate index 15 is invalid
    assert parse_header(b"\xff\xfb\x9c\x64") is None  # sample-rate index 3 is reserved
    assert parse_header(b"ID3\x04") is None
    with pytest.raises(Mp3Error, match="not an MPEG audio frame"):
        frame_duration(b"RIFF....")


def test_encoder_refuses_bad_settings_and_input():
    with pytest.raises(Mp3Error, match="bitrate 100"):
        Mp3Encoder(bitrate_kbps=100)
    with pytest.raises(Mp3Error, match="sample rate"):
        Mp3Encoder(sample_rate=44000)
    with pytest.raises(Mp3Error, match="quality"):
        Mp3Encoder(quality=11)
    encoder = Mp3Encoder()
    with pytest.raises(Mp3Error, match="shape"):
        encoder.encode(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(Mp3Error, match="floats"):
        encoder.encode(np.zeros(10, dtype=np.int16))
    encoder.encode(MUSIC[:SR])
    assert encoder.flush()
    with pytest.raises(Mp3Error, match="flushed"):
        encoder.encode(MUSIC[:SR])


def test_stereo_encoder_and_bitrate_setting():
    stereo = np.stack([MUSIC[:SR], MUSIC[:SR]], axis=1)
    encoder = Mp3Encoder(channels=2, bitrate_kbps=192)
    data = encoder.encode(stereo) + encoder.flush()
    header = parse_header(FrameSplitter().feed(data)[1])
    assert (header.channels, header.bitrate_kbps) == (2, 192)


def test_to_int16_clips_and_rounds():
    x = np.array([-2.0, -1.0, -0.5, 0.0, 1e-5, 0.5, 1.0, 3.0], dtype=np.float32)
    assert to_int16(x).tolist() == [-32767, -32767, -16384, 0, 0, 16384, 32767, 32767]

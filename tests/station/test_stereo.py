"""Channels stream joint stereo by default and mono with ``continuo serve --mono``."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from radio.audio.mp3 import parse_header
from radio.commands.serve import add_arguments, build_settings


async def _frames(radio, raw_stream, helpers, settings):
    r = await radio({"test": helpers.DroneModel()}, settings)
    s = await raw_stream(r.url, "/stream/test.mp3")
    body = await s.read_for(3.0)
    frames, skipped, _ = helpers.split_frames(body)
    assert skipped == 0 and len(frames) > 50
    return frames


async def test_a_channel_streams_joint_stereo_at_the_same_bitrate(radio, raw_stream, helpers):
    frames = await _frames(radio, raw_stream, helpers, helpers.fast_settings())
    headers = [parse_header(f) for f in frames]
    assert {h.channels for h in headers} == {2} and {h.bitrate_kbps for h in headers} == {128}
    assert {f[3] >> 6 for f in frames} == {1}  # mode bits 01: joint stereo
    import miniaudio

    decoded = miniaudio.decode(b"".join(frames), output_format=miniaudio.SampleFormat.FLOAT32, nchannels=2,
                               sample_rate=44100)
    pcm = np.frombuffer(decoded.samples, dtype=np.float32).reshape(-1, 2)
    assert np.abs(pcm).max() > 0.01


async def test_mono_channels_stream_mono(radio, raw_stream, helpers):
    settings = dataclasses.replace(helpers.fast_settings(), channels=1)
    frames = await _frames(radio, raw_stream, helpers, settings)
    assert {parse_header(f).channels for f in frames} == {1}


def test_serve_mono_flag():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    stereo = build_settings(parser.parse_args([]))
    mono = build_settings(parser.parse_args(["--mono"]))
    assert (stereo.channels, stereo.quality) == (2, 3)
    assert (mono.channels, mono.quality) == (1, 3)
    assert build_settings(parser.parse_args(["--quality", "5"])).quality == 5

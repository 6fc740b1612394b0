"""Real-time factors of the synth (1, 4 and 10 voices) and of the LAME encoder, on one core.

The synth figures are for each style's bare timbre (one voice, mono, no room: the fast
steady path) and for its whole sound (instrument, room, master, stereo); the encoder's for
mono at quality 2 and joint stereo at quality 2 and 3 (what a channel uses).

Each figure is the best of a few runs of CPU time (``time.process_time``), which is what
one core can do when the box is busy with other work; wall time is printed beside it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import random
import time

import numpy as np

from bench.run_all import machine
from radio.audio.mp3 import Mp3Encoder
from radio.audio.synth import Synth
from radio.styles import Timbre, discover_styles

SECONDS = 30.0
CHUNK_BEATS = 16  # the composer hands the synth about this much at a time
ENCODE_CHUNK = 5512  # 0.125 s
RUNS = 3


def voice_stream(voices: int, beats: int, seed: int = 0) -> list:
    """``voices`` parts in separate registers, each a random line of 16ths to half notes."""
    rng = random.Random(seed)
    stream: list[dict[int, str]] = [{} for _ in range(beats)]
    for v in range(voices):
        low = 36 + (v * 40) // (voices - 1) if voices > 1 else 60
        i = 0
        while i < beats:
            pitch, length = low + rng.randrange(12), rng.choice((1, 2, 2, 4, 4, 4, 8))
            for j in range(i, min(i + length, beats)):
                # Two parts meeting on one pitch merge; a strike wins over a hold.
                if stream[j].get(pitch) != "b":
                    stream[j][pitch] = "b" if j == i else "s"
            i += length
    return [sorted(beat.items()) for beat in stream]


def best_rtf(work, audio_seconds: float) -> tuple[float, float]:
    cpu, wall = float("inf"), float("inf")
    for _ in range(RUNS):
        c0, w0 = time.process_time(), time.perf_counter()
        work()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return audio_seconds / cpu, audio_seconds / wall


def synth_rtf(timbre: Timbre, voices: int, bpm: float = 96.0) -> tuple[float, float]:
    beats = int(SECONDS * bpm * 4 / 60)
    stream = voice_stream(voices, beats)

    def work() -> None:
        synth = Synth(timbre, bpm=bpm)
        for i in range(0, len(stream), CHUNK_BEATS):
            synth.render(stream[i : i + CHUNK_BEATS])

    return best_rtf(work, beats * 60 / (bpm * 4))


def encoder_rtf(channels: int = 1, quality: int = 2) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * 44100)) / 44100
    pcm = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    if channels == 2:
        pcm = np.stack([pcm, 0.8 * pcm[::-1]], axis=1)

    def work() -> None:
        encoder = Mp3Encoder(bitrate_kbps=128, quality=quality, channels=channels)
        for i in range(0, len(pcm), ENCODE_CHUNK):
            encoder.encode(pcm[i : i + ENCODE_CHUNK])
        encoder.flush()

    return best_rtf(work, SECONDS)


def synth_and_encode_rtf(timbre: Timbre, voices: int = 4, bpm: float = 96.0) -> tuple[float, float]:
    """The audio half of a channel's chain: render a chunk, encode it, on one encoder."""
    beats = int(SECONDS * bpm * 4 / 60)
    stream = voice_stream(voices, beats)

    def work() -> None:
        synth, encoder = Synth(timbre, bpm=bpm), Mp3Encoder()
        for i in range(0, len(stream), CHUNK_BEATS):
            encoder.encode(synth.render(stream[i : i + CHUNK_BEATS]))
        encoder.flush()

    return best_rtf(work, beats * 60 / (bpm * 4))


def sound_rtf(style, voices: int = 4) -> tuple[float, float]:
    from radio.station.calibration import channel_master

    bpm = style.tempo_bpm
    beats = int(SECONDS * bpm * 4 / 60)
    stream = voice_stream(voices, beats)

    def work() -> None:
        synth = Synth(style.sound, bpm=bpm, master=channel_master(style))
        for i in range(0, len(stream), CHUNK_BEATS):
            synth.render(stream[i : i + CHUNK_BEATS])

    return best_rtf(work, beats * 60 / (bpm * 4))


def main() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    print(f"machine: {machine(f'numpy {np.__version__}')}")
    styles = discover_styles()
    timbres = {name: s.timbre for name, s in styles.items()} or {"default": Timbre()}
    print(f"synth, {SECONDS:.0f} s of music rendered {CHUNK_BEATS} beats at a time (x real time, CPU / wall):")
    for name, timbre in timbres.items():
        figures = []
        for voices in (1, 4, 10):
            cpu, wall = synth_rtf(timbre, voices)
            figures.append(f"{voices:2d} voices {cpu:6.0f}x / {wall:5.0f}x")
        print(f"  {name:10s} ({len(timbre.partials)} partials): " + "   ".join(figures))
    for channels, quality in ((1, 2), (2, 2), (2, 3)):
        cpu, wall = encoder_rtf(channels, quality)
        kind = "mono" if channels == 1 else "joint stereo"
        print(f"encoder, LAME q{quality} 128 kbps {kind}, 0.125 s chunks: {cpu:.0f}x real time (CPU) / {wall:.0f}x (wall)")
    print("the styles' whole sound (instrument, room, master), stereo, 4 voices:")
    for name, style in styles.items():
        cpu, wall = sound_rtf(style)
        print(f"  {name:10s} {style.instrument or '-':18s} {cpu:5.0f}x / {wall:5.0f}x")
    name, timbre = next(iter(timbres.items()))
    cpu, wall = synth_and_encode_rtf(timbre)
    print(f"synth + encoder ({name}, 4 voices): {cpu:.0f}x real time (CPU) / {wall:.0f}x (wall)")


if __name__ == "__main__":
    main()

"""Loudness of every channel (BS.1770: integrated, LRA, true peak) and the cost of a live blend.

- **Loudness:** 10 minutes of each style's channel as it plays (composer, synth, master
  stage, MP3 encoder, decoded again), before (the old chain: no gain, no follower, the
  plain soft limiter) and after. Prints integrated loudness (LUFS), loudness range (LU)
  and 4x-oversampled true peak (dBTP), and the spread between channels.
- **Blends:** the real-time factor of the whole render chain (compose, synth, encode) on
  one core for each style alone and for 50/50 blends, and what that means in channels per
  core with blends live. Needs radio/model/blend.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time

import numpy as np

from bench.run_all import machine
from radio.audio.calibrate import channel_master, render_channel_audio
from radio.audio.loudness import measure
from radio.audio.mp3 import Mp3Encoder
from radio.audio.synth import Synth
from radio.composer import Composer
from radio.model import load_model
from radio.styles import discover_styles

LOUDNESS_SECONDS = 600.0
RTF_SECONDS = 60.0
SR = 44100


def decoded_mp3(samples: np.ndarray) -> np.ndarray:
    import miniaudio

    encoder = Mp3Encoder()
    data = encoder.encode(samples) + encoder.flush()
    out = miniaudio.decode(data, nchannels=1, sample_rate=SR, output_format=miniaudio.SampleFormat.FLOAT32)
    return np.frombuffer(out.samples, dtype=np.float32)


def loudness(styles, models) -> None:
    print(f"{'channel':12s} {'before (no gain, old limiter)':>44s} | after (calibrated gain, follower, limiter; MP3 decoded)")
    after_levels = []
    for name, style in styles.items():
        before = measure(render_channel_audio(style, models[name], LOUDNESS_SECONDS, seed=7, master=None))
        pcm = render_channel_audio(style, models[name], LOUDNESS_SECONDS, seed=7, master=channel_master(style))
        after = measure(decoded_mp3(pcm))
        after_levels.append(after.integrated_lufs)
        print(f"{name:12s} {before.line():>44s} | {after.line()}  (gain {style.loudness_gain_db:+.2f} dB)")
    print(f"spread between channels after: {max(after_levels) - min(after_levels):.2f} LU")


def chain_rtf(style, model, seconds: float) -> float:
    """Audio seconds per CPU second of compose + synth + encode, one core."""
    composer = Composer(style, model, seed=3)
    synth = Synth(style.timbre, bpm=style.tempo_bpm, master=channel_master(style))
    encoder = Mp3Encoder()
    produced = 0.0
    t0 = time.process_time()
    while produced < seconds:
        pcm = synth.render(composer.next_chunk().beats)
        encoder.encode(pcm)
        produced += len(pcm) / SR
    return produced / (time.process_time() - t0)


def blends(styles, models) -> None:
    singles = {name: chain_rtf(style, models[name], RTF_SECONDS) for name, style in styles.items()}
    for name, rtf in singles.items():
        print(f"{name:24s} {rtf:7.1f}x real time")
    try:
        from radio.blends import BlendSpec, blend_style
        from radio.model.blend import blend_models
    except ImportError as exc:
        print(f"blends: skipped ({exc})")
        return
    names = list(styles)
    pairs = [(names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))][:4]
    blend_rtfs = []
    for a, b in pairs:
        spec = BlendSpec(((a, 5), (b, 5)))
        style = blend_style(spec, styles)
        model = blend_models([models[a], models[b]], [0.5, 0.5])
        rtf = chain_rtf(style, model, RTF_SECONDS)
        blend_rtfs.append(rtf)
        print(f"{spec.name:24s} {rtf:7.1f}x real time")
    single = float(np.mean(list(singles.values())))
    blend = float(np.mean(blend_rtfs))
    print(f"a live blend costs {100 * (single / blend - 1):.0f}% more CPU than a style's channel "
          f"({blend:.0f}x vs {single:.0f}x real time)")
    for live in (0, 2, 4, 8):
        # Channels per core when `live` of them are blends: the CPU fraction each one needs.
        fixed = len(styles)
        load = fixed / single + live / blend
        print(f"{fixed} styles + {live} blends need {100 * load:.1f}% of one core "
              f"(channels per core at this mix: {(fixed + live) / load:.0f})")


def main() -> None:
    print(machine(f"{LOUDNESS_SECONDS / 60:g} min per channel"))
    styles = discover_styles()
    models = {name: load_model(style.model_path) for name, style in styles.items()}
    loudness(styles, models)
    blends(styles, models)


if __name__ == "__main__":
    main()

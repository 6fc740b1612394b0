"""Loudness of every channel (BS.1770: integrated, LRA, true peak) and the cost of a live blend.

- **Loudness:** 10 minutes of each style's channel as it plays (composer, synth, master
  stage, MP3 encoder, decoded again), before (the old chain: no gain, no follower, the
  plain soft limiter) and after. Prints integrated loudness (LUFS), loudness range (LU)
  and 4x-oversampled true peak (dBTP), and the spread between channels.
- **Blends:** the real-time factor of the whole render chain (compose, synth, encode) on
  one core for each style alone and for 50/50 blends (CPU time, so other load on the box does
  not count against it), and channels per core with blends live, measured: a real
  ``continuo serve`` pinned to one CPU plays every style plus N blends (started through
  ``POST /api/mix``), and N grows until a channel underruns.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Sequence

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import threading
import time

import numpy as np

from bench.run_all import machine
from radio.station.calibration import channel_master, render_channel_audio
from radio.audio.loudness import measure
from radio.audio.mp3 import Mp3Encoder
from radio.audio.synth import Synth
from radio.station.blends import BlendSpec, blend_style
from radio.station.composer import Composer
from radio.model import load_model
from radio.model.blend import blend_models
from radio.styles import discover_styles

LOUDNESS_SECONDS = 600.0
RTF_SECONDS = 60.0
BLEND_STEPS = (0, 4, 8, 16, 24, 32, 48)  # blends live beside every style, on one core
BLEND_WINDOW = 10.0
SR = 44100


def decoded_mp3(samples: np.ndarray) -> np.ndarray:
    import miniaudio

    encoder = Mp3Encoder()
    data = encoder.encode(samples) + encoder.flush()
    out = miniaudio.decode(data, nchannels=1, sample_rate=SR, output_format=miniaudio.SampleFormat.FLOAT32)
    return np.frombuffer(out.samples, dtype=np.float32)


def blendable_pairs(models) -> list[tuple[str, str]]:
    """Every pair of styles whose models share a kind (only those blend)."""
    names = list(models)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if models[a].encoding == models[b].encoding]


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
    # A blend plays at its parents' mean gain (in dB) and leans on the follower for the rest;
    # the hardest case is the pair whose calibrated gains lie farthest apart.
    pairs = blendable_pairs(models)
    if pairs:
        a, b = max(pairs, key=lambda p: abs(styles[p[0]].loudness_gain_db - styles[p[1]].loudness_gain_db))
        spec = BlendSpec(((a, 5), (b, 5)))
        style = blend_style(spec, styles)
        model = blend_models([models[a], models[b]], [0.5, 0.5])
        pcm = render_channel_audio(style, model, LOUDNESS_SECONDS, seed=7, master=channel_master(style))
        print(f"{spec.name} (the parents' gains lie farthest apart): {measure(decoded_mp3(pcm)).line()}  "
              f"(gain {style.loudness_gain_db:+.2f} dB)")


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


def blend_rtfs(styles, models) -> None:
    singles = {name: chain_rtf(style, models[name], RTF_SECONDS) for name, style in styles.items()}
    for name, rtf in singles.items():
        print(f"{name:28s} {rtf:7.1f}x real time")
    pairs = blendable_pairs(models)[:4]
    if not pairs:
        print("blends: no two styles' models share a kind, so none blend")
        return
    rtfs = []
    for a, b in pairs:
        spec = BlendSpec(((a, 5), (b, 5)))
        model = blend_models([models[a], models[b]], [0.5, 0.5])
        rtf = chain_rtf(blend_style(spec, styles), model, RTF_SECONDS)
        rtfs.append(rtf)
        print(f"{spec.name:28s} {rtf:7.1f}x real time")
    single = float(np.mean(list(singles.values())))
    blend = float(np.mean(rtfs))
    print(f"a live blend costs {100 * (single / blend - 1):.0f}% more CPU than a style's channel "
          f"({blend:.0f}x vs {single:.0f}x real time; by CPU arithmetic one core holds about {blend:.0f} blends)")


def blend_queries(pairs: list[tuple[str, str]]):
    """Distinct two-style blends, every pair before any pair twice (nine per pair)."""
    for tenths in (5, 7, 3, 6, 4, 8, 2, 9, 1):
        for a, b in pairs:
            yield f"{a}={tenths / 10:g}&{b}={(10 - tenths) / 10:g}"


class BlendListener:
    """One listener of a blend's stream, reading it in a thread until closed."""

    def __init__(self, url: str) -> None:
        self.response = urllib.request.urlopen(url, timeout=30)  # the blend starts on this GET
        self._open = True
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while self._open and self.response.read(4096):
                pass
        except (OSError, ValueError, AttributeError):
            pass  # the server stopped, or close() cut the connection (http.client then has no socket)

    def close(self) -> None:
        self._open = False
        self.response.close()


def _health(server) -> dict:
    return json.loads(server.get("/healthz"))


def _underruns(health: dict) -> int:
    return sum(c["underruns"] for group in ("channels", "blends") for c in health[group].values())


def channels_per_core_with_blends(styles: list[str], pairs: list[tuple[str, str]]) -> None:
    """A real server on one CPU: every style plus N live blends, N growing until one underruns."""
    from bench.bench_station import Server

    if not pairs:
        return
    steps = [n for n in BLEND_STEPS if n <= 9 * len(pairs)]  # nine distinct blends per pair

    cpu = sorted(os.sched_getaffinity(0))[-1]
    best = None
    share: dict[int, float] = {}  # blends live -> fraction of the core the server used
    for live in steps:
        # Every blend has a listener, as on air (a blend nobody opens stops within seconds); they
        # all come from this one address, so its per-client caps are lifted (0: no cap).
        server = Server("--max-blends", str(max(steps)), "--blend-grace", "3600", "--max-blends-per-client", "0",
                        "--max-listeners-per-client", "0", cpu=cpu)
        listeners = []
        try:
            server.first_audio_byte(styles[-1], timeout=60)
            queries = blend_queries(pairs)
            for _ in range(live):
                listeners.append(BlendListener(f"{server.url}/stream/mix.mp3?{next(queries)}"))
            time.sleep(3.0)  # every channel has filled its lead
            before, c0 = _underruns(_health(server)), server.cpu_seconds()
            time.sleep(BLEND_WINDOW)
            h, c1 = _health(server), server.cpu_seconds()
        finally:
            for listener in listeners:
                listener.close()
            server.stop()
        lowest = min(c["buffer_ahead_seconds"] for group in ("channels", "blends") for c in h[group].values())
        ok = _underruns(h) == before and lowest > 0 and len(h["blends"]) == live
        print(f"  {len(h['channels'])} styles + {live:2d} blends on CPU {cpu}: {_underruns(h) - before} underruns in "
              f"{BLEND_WINDOW:.0f} s, lowest buffer ahead {lowest:.2f} s, {100 * (c1 - c0) / BLEND_WINDOW:.0f}% of the core "
              f"-> {'kept up' if ok else 'fell behind'}")
        if not ok:
            break
        share[live] = (c1 - c0) / BLEND_WINDOW
        best = (len(h["channels"]), live)
    if best is None:
        print("channels per core with blends live: the styles alone fell behind on this CPU")
    else:
        fixed, live = best
        more = "+" if live == steps[-1] else ""
        print(f"channels per core with blends live (measured, zero underruns): {fixed} styles + {live}{more} blends "
              f"= {fixed + live}{more} channels")
        if live and 0 in share:
            # What each blend adds in the server's own CPU time: not bounded by what other
            # processes on a shared box leave this core.
            per_blend = (share[live] - share[0]) / live
            per_style = share[0] / fixed
            room = (1.0 - share[0]) / per_blend
            print(f"in the server: a style's channel takes {100 * per_style:.1f}% of the core, a live blend "
                  f"{100 * per_blend:.1f}% ({1 / per_blend:.0f}x real time); with the {fixed} styles on air one core "
                  f"has room for about {room:.0f} blends ({fixed + room:.0f} channels)")


def main(parts: Sequence[str] = ("loudness", "blends")) -> None:
    """``python -m bench.bench_listening [loudness] [blends]``: both halves by default."""
    unknown = set(parts) - {"loudness", "blends"}
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}: choose loudness and/or blends")
    print(machine(f"{LOUDNESS_SECONDS / 60:g} min per channel"))
    styles = discover_styles()
    models = {name: load_model(style.model_path) for name, style in styles.items()}
    if "loudness" in parts:
        loudness(styles, models)
    if "blends" in parts:
        blend_rtfs(styles, models)
        channels_per_core_with_blends(list(styles), blendable_pairs(models))


if __name__ == "__main__":
    main(sys.argv[1:] or ("loudness", "blends"))

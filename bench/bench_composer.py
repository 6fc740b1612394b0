"""The composer's real-time factor for every bundled style (and a 50/50 blend), one thread.

Targets (issue 10): the composer stage ≥ 100× real time per channel, the whole chain (compose,
synth, MP3 encode) ≥ 60×. CPU time of this thread, so other load on the machine costs little;
the wall-clock figure is in brackets. A token model's cost grows with the notes per beat, so
the figure is per style, at the style's own tempo.
"""

from __future__ import annotations

import time

MUSIC_SECONDS = 120.0


def measure(style, model) -> tuple[float, float, float, float]:
    """(compose RT, chain RT, compose wall RT, tokens or notes per beat) over MUSIC_SECONDS of music."""
    from radio.audio.mp3 import FrameSplitter, Mp3Encoder
    from radio.audio.synth import Synth
    from radio.station.composer import Composer

    composer = Composer(style, model, seed=1)
    beats = int(MUSIC_SECONDS / composer.beat_seconds)
    c0, w0 = time.thread_time(), time.perf_counter()
    notes = 0
    while composer.beat < beats:
        notes += sum(len(b) for b in composer.next_chunk().beats)
    compose_cpu, compose_wall = time.thread_time() - c0, time.perf_counter() - w0
    audio = composer.beat * composer.beat_seconds

    chain = Composer(style, model, seed=2)
    synth, encoder, splitter = Synth(style.timbre, bpm=style.tempo_bpm), Mp3Encoder(bitrate_kbps=128, quality=2), FrameSplitter()
    c0 = time.thread_time()
    while chain.beat < beats:
        splitter.feed(encoder.encode(synth.render(chain.next_chunk().beats)))
    chain_cpu = time.thread_time() - c0
    return audio / compose_cpu, audio / chain_cpu, audio / compose_wall, notes / max(1, composer.beat)


def main() -> None:
    from threadpoolctl import threadpool_limits

    from bench.run_all import machine
    from radio.model import load_model
    from radio.model.blend import blend_models
    from radio.styles import discover_styles

    print(machine(f"{MUSIC_SECONDS:g} s of music per style, one thread"))
    styles = {name: s for name, s in discover_styles().items() if s.model_path.is_file()}
    models = {name: load_model(s.model_path) for name, s in styles.items()}
    print(f"{'style':<26} {'model':<10} {'bpm':>4} {'notes/beat':>10} {'compose':>9} {'(wall)':>8} {'chain':>7}")
    rows = [(name, styles[name], models[name]) for name in styles]
    if {"baroque", "folk"} <= set(models):
        try:
            rows.append(("baroque 50% + folk 50%", styles["baroque"], blend_models([models["baroque"], models["folk"]], [0.5, 0.5])))
        except ValueError as exc:
            print(f"(no blend row: {exc})")
    worst = float("inf")
    with threadpool_limits(limits=1):
        for name, style, model in rows:
            compose, chain, wall, per_beat = measure(style, model)
            worst = min(worst, compose)
            print(f"{name:<26} {model.encoding.name:<10} {style.tempo_bpm:4g} {per_beat:10.2f} {compose:8.0f}x {wall:7.0f}x {chain:6.0f}x")
    print(f"slowest composer: {worst:.0f}x real time (target >= 100x); chain target >= 60x")


if __name__ == "__main__":
    main()

"""Form of every bundled style model: repetition, register drift, phrase ends and texture
(trainer/form.py) of its music beside its own held-out pieces.

For each folder in ``styles/``: the validation pieces listed in its ``corpus.csv`` are read from
``../shared/corpus`` (or ``$CONTINUO_CORPUS``) as ``bench_realism`` reads them; spans are as long
as the style's typical held-out piece (``span_bars_for``); the bundled model samples, seeded, as
much music as the held-out pieces hold or 4 spans, whichever is more, but at most 10 minutes at
the style's tempo and temperature. ``continuo evaluate`` prints the same table.
Skips with a message when the corpus is not there.
"""

from __future__ import annotations

import time

from bench.bench_realism import bundled_held_out

SEED = 0
SAMPLE_SECONDS = 600.0  # at most 10 minutes of music a style
MIN_SPANS = 4  # at least this many spans of generated music, when 10 minutes allow


def main() -> None:
    from radio.model import load_model
    from radio.music.notes import beats_for_seconds
    from trainer.form import BAR, MEASURE_NAMES, form_report, format_form_lines, span_bars_for

    summary = []
    for name, style, pieces in bundled_held_out():
        span_bars = span_bars_for(pieces)
        beats = min(max(sum(map(len, pieces)), MIN_SPANS * span_bars * BAR),
                    beats_for_seconds(SAMPLE_SECONDS, style.tempo_bpm))
        model = load_model(style.model_path)
        start = time.perf_counter()
        sample = model.sampler(temperature=style.temperature, seed=SEED).next_beats(beats)
        sampled = time.perf_counter() - start
        report = form_report([sample], pieces, span_bars)
        took = time.perf_counter() - start - sampled
        print(f"\n{name}: {model.encoding.name} model {model.version}, {len(pieces)} held-out pieces "
              f"({report['bars']['real']} bars in spans); a {len(sample) * 60 / (4 * style.tempo_bpm):.0f}-second "
              f"sample ({len(sample) // BAR} bars, T={style.temperature:g}, seed {SEED}); "
              f"sampled in {sampled:.1f} s, measured in {took:.1f} s")
        print("\n".join(format_form_lines(report)).rstrip())
        summary.append((name, report))
    if summary:
        print("\ngenerated / real per measure, every style:")
        print("| measure | " + " | ".join(f"{name} ({r['span_bars']} bars)" for name, r in summary) + " |")
        print("| --- |" + " ---: |" * len(summary))

        def f(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.2f}"

        for measure in MEASURE_NAMES:
            cells = [f"{f(r['measures'][measure]['generated'])} / {f(r['measures'][measure]['real'])}" for _, r in summary]
            print(f"| {measure} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

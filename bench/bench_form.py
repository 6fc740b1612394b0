"""Form of every bundled style model: repetition, register drift, phrase ends and texture
(trainer/form.py) of its music beside its own held-out pieces, before and after the style's form
plan (radio/music/form.py): one plain stream, then whole pieces composed to the plan as the
station plays them, with the realism overlap of each (the plan must not cost it).

For each folder in ``styles/``: the validation pieces listed in its ``corpus.csv`` are read from
``../shared/corpus`` (or ``$CONTINUO_CORPUS``) as ``bench_realism`` reads them; spans are as long
as the style's typical held-out piece (``span_bars_for``); the bundled model samples, seeded, as
much music as the held-out pieces hold or 4 spans, whichever is more, but at most 10 minutes at
the style's tempo and temperature. ``continuo evaluate`` prints the same table.
Skips with a message when the corpus is not there.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.bench_realism import bundled_held_out

SEED = 0
SAMPLE_SECONDS = 600.0  # at most 10 minutes of music a style
MIN_SPANS = 4  # at least this many spans of generated music, when 10 minutes allow


KEY_MEASURES = ("bar_repeat_transposed", "pair_repeat_transposed", "register_drift_8", "register_shift_8_abs",
                "closures_per_4_bars", "closure_share_bar_4", "texture_cv_polyphony")


ROLLS_DIR = Path(__file__).resolve().parent.parent / "docs" / "form"
ROLL_SECONDS = 120.0


def form_roll(name: str, style, model, out_dir: Path) -> Path:
    """A piano roll of the first 2 minutes the channel plays (pieces to the plan, each in the
    model's key), its sections lettered and each piece's start in red."""
    from radio.music.notes import beats_for_seconds
    from radio.station.composer import planned_music
    from trainer.plots import piano_roll

    plan = style.form
    beats = beats_for_seconds(ROLL_SECONDS, style.tempo_bpm)
    music = planned_music(model, plan, beats=beats, temperature=style.temperature, seed=SEED, top_p=style.top_p)
    stream, marks = [], []
    for number, piece in enumerate(music, 1):
        if plan.planned:
            for section in plan.layout():
                label = f"{number}{section.letter}" if section.index == 0 else section.letter
                marks.append((len(stream) + section.start, label, section.index == 0))
        stream += piece
    stream = stream[:beats]
    out_dir.mkdir(parents=True, exist_ok=True)
    title = (f"{name}: the first {ROLL_SECONDS / 60:g} minutes, pieces to the plan {''.join(plan.sections)} "
             f"({plan.section_bars}-bar sections); red: a piece starts")
    return piano_roll(stream, out_dir / f"{name}.png", title, style.tempo_bpm, [m for m in marks if m[0] < beats])


def main() -> None:
    from radio.model import load_model
    from radio.music.form import FormPlan
    from radio.music.notes import beats_for_seconds
    from radio.station.composer import planned_music
    from trainer.form import BAR, MEASURE_NAMES, form_report, format_form_lines, span_bars_for
    from trainer.realism import realism_report

    summary = []
    for name, style, pieces in bundled_held_out():
        span_bars = span_bars_for(pieces)
        beats = min(max(sum(map(len, pieces)), MIN_SPANS * span_bars * BAR),
                    beats_for_seconds(SAMPLE_SECONDS, style.tempo_bpm))
        model = load_model(style.model_path)
        reports = {}
        for label, plan in (("without a plan", FormPlan()), ("with the plan", style.form)):
            start = time.perf_counter()
            music = planned_music(model, plan, beats=beats, temperature=style.temperature, seed=SEED, top_p=style.top_p)
            sampled = time.perf_counter() - start
            report = form_report(music, pieces, span_bars)
            report["realism"] = realism_report(music, pieces)["mean_overlap"]
            reports[label] = report
            total = sum(map(len, music))
            print(f"\n{name} {label} ({'-'.join(plan.sections) or 'one stream'}"
                  f"{f', {plan.section_bars}-bar sections' if plan.planned else ''}): {model.encoding.name} model "
                  f"{model.version}, {len(pieces)} held-out pieces ({report['bars']['real']} bars in spans); "
                  f"{len(music)} piece(s), {total * 60 / (4 * style.tempo_bpm):.0f} s ({total // BAR} bars, "
                  f"T={style.temperature:g}, seed {SEED}); sampled in {sampled:.1f} s; realism {report['realism']:.3f}")
            print("\n".join(format_form_lines(report)).rstrip())
        summary.append((name, reports))
        print(f"piano roll: {form_roll(name, style, model, ROLLS_DIR)}")
    if not summary:
        return

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    print("\nbefore -> after the form plans (real mean, 10-90% range), every style:")
    print("| measure | " + " | ".join(f"{name} ({r['with the plan']['span_bars']} bars)" for name, r in summary) + " |")
    print("| --- |" + " ---: |" * len(summary))
    for measure in (*KEY_MEASURES, "realism"):
        cells = []
        for _, r in summary:
            before, after = r["without a plan"], r["with the plan"]
            if measure == "realism":
                cells.append(f"{before['realism']:.3f} -> {after['realism']:.3f}")
                continue
            m0, m1 = before["measures"][measure], after["measures"][measure]
            span = m1["real_range"]
            cells.append(f"{f(m0['generated'])} -> **{f(m1['generated'])}** ({f(m1['real'])}, "
                         f"{'n/a' if span is None else f'{span[0]:.2f}-{span[1]:.2f}'})")
        print(f"| {measure} | " + " | ".join(cells) + " |")
    print("\nall measures, generated / real, with the plans:")
    print("| measure | " + " | ".join(name for name, _ in summary) + " |")
    print("| --- |" + " ---: |" * len(summary))
    for measure in MEASURE_NAMES:
        cells = [f"{f(r['with the plan']['measures'][measure]['generated'])} / {f(r['with the plan']['measures'][measure]['real'])}"
                 for _, r in summary]
        print(f"| {measure} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

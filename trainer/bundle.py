"""Retrain the bundled style models (what ``make train`` runs).

    python -m trainer.bundle --corpus ../shared/corpus [--minutes 6] [--seed-minutes 2] [--styles a,b]

For each style: import the corpus into a library under ``--home`` (default ``var/bundle``),
train the ``continuo`` model into ``styles/<name>/model.npz``, train the ``seed`` baseline
(kept under the home, not bundled) on the same split, evaluate both against the unigram
baseline, and write ``styles/<name>/TRAINING.md`` (how it was made, on what, how well) and
``styles/<name>/corpus.csv`` (every piece with its licence and split).
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import shlex
import sys
import time
from pathlib import Path

from radio.config import REPO_ROOT
from radio.styles import discover_styles

log = logging.getLogger("trainer.bundle")

MAKE_COMMAND = "python -m trainer.bundle --corpus ../shared/corpus"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder of style folders with MANIFEST.csv")
    parser.add_argument("--styles", default=None, help="comma-separated styles (default: every style folder with a style.toml)")
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget per continuo model (default 6)")
    parser.add_argument("--seed-minutes", type=float, default=2.0, help="training budget per seed baseline (default 2)")
    parser.add_argument("--epochs", type=int, default=60, help="most epochs per model (default 60)")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM units (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    parser.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "bundle", help="library and baseline models")
    parser.add_argument("--styles-dir", type=Path, default=REPO_ROOT / "styles", help="where the bundled styles live")
    return parser.parse_args(argv)


def import_corpus(corpus: Path, styles: list[str], home: Path) -> None:
    from radio.library import open_library
    from radio.library.importer import plan_import, run_import

    library = open_library(home)
    try:
        for style in styles:
            folder = corpus / style
            if not folder.is_dir():
                raise SystemExit(f"{folder} does not exist: the corpus has no {style!r} folder")
            items = plan_import(folder, style)
            report = run_import(library, items, total=len(items), progress=False)
            log.info("%s: %s", style, report.summary())
    finally:
        library.close()


def bundle_style(style: str, args: argparse.Namespace, command: str) -> dict:
    from trainer.evaluate import evaluate
    from trainer.export import amend_header
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    folder = args.styles_dir / style
    model_path = folder / "model.npz"
    seed_path = args.home / "models" / style / "seed.npz"
    common = dict(style=style, epochs=args.epochs, seed=args.seed, home=args.home, threads=args.threads, show_bar=False)
    log.info("%s: training the continuo model (%.1f min budget)", style, args.minutes)
    ours = train_style(
        TrainConfig(model="continuo", minutes=args.minutes, out=model_path, hp=HyperParameters(hidden=args.hidden), **common),
        emit=_log_epoch,
    )
    log.info("%s: training the seed baseline (%.1f min budget)", style, args.seed_minutes)
    seed = train_style(
        TrainConfig(model="seed", minutes=args.seed_minutes, out=seed_path, hp=HyperParameters(hidden=256), **common),
        emit=_log_epoch,
    )
    if [p.id for p in seed.data.val] != [p.id for p in ours.data.val]:
        raise RuntimeError("the seed and continuo runs split the pieces differently")
    amend_header(model_path, metrics={**ours.metrics, "seed": seed.metrics["model"]})
    report = evaluate(style, model_path=model_path, home=args.home, seed_model_path=seed_path, out_dir=folder / "evaluation")
    (folder / "model.loss.png").unlink(missing_ok=True)  # evaluation/loss_curve.png plots the same history
    write_corpus_csv(folder / "corpus.csv", ours.data)
    write_training_md(folder / "TRAINING.md", style, command, ours, seed, report, model_path)
    return {
        "style": style,
        "nll": report["nll_per_beat"],
        "nll_full": report["nll_full_per_beat"],
        "in_scale": report["in_scale"],
        "polyphony": report["polyphony"],
        "train_seconds": ours.seconds,
        "seed_seconds": seed.seconds,
        "size": model_path.stat().st_size,
    }


def _log_epoch(event: dict) -> None:
    if event["event"] == "epoch":
        log.info("  epoch %d: loss %.4f, val_loss %.4f (%.0f s)", event["epoch"], event["loss"] or 0, event["val_loss"] or 0, event["elapsed_s"])


def write_corpus_csv(path: Path, data) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["split", "id", "sha256", "file", "composer", "title", "licence", "source", "beats"])
        for split, pieces in (("train", data.train), ("validation", data.val)):
            for p in pieces:
                writer.writerow([split, p.id, p.sha256, p.file, p.composer, p.title, p.licence, p.source, p.beats])
    tmp.replace(path)


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def write_training_md(path: Path, style: str, command: str, ours, seed, report: dict, model_path: Path) -> None:
    m = ours.metrics
    training = ours.data
    composers = {}
    licences = {}
    for p in training.train + training.val:
        composers[p.composer or "unknown"] = composers.get(p.composer or "unknown", 0) + 1
        licences[p.licence or "unknown"] = licences.get(p.licence or "unknown", 0) + 1
    nll, full, acc = report["nll_per_beat"], report["nll_full_per_beat"], report["frame_accuracy"]
    s, c = report["sample"], report["corpus"]
    beats_ok = nll["model"] < min(v for v in (nll["seed"], nll["unigram"]) if v is not None)
    lines = [
        f"# {style}: how the bundled model was trained",
        "",
        f"`model.npz` here is a `continuo`-encoding LSTM (2 × {ours_hidden(ours)} units, float16 weights, "
        f"{model_path.stat().st_size / 1e6:.2f} MB, version `{report['model_version']}`), trained by",
        "",
        "```",
        f"make train    # = {MAKE_COMMAND}",
        f"{command}",
        "```",
        "",
        "## Training data",
        f"- {len(training.train) + len(training.val)} pieces from `../shared/corpus/{style}` "
        f"({training.train_beats + training.val_beats} 16th-note beats), transposed to C major / A minor; "
        f"split by piece: {len(training.train)} to train on, {len(training.val)} held out. Every piece, with its licence, is listed in `corpus.csv`.",
        "- Composers: " + ", ".join(f"{k} ({v})" for k, v in sorted(composers.items(), key=lambda kv: -kv[1])) + ".",
        "- Licences (from the corpus `MANIFEST.csv`): " + ", ".join(f"`{k}` ({v})" for k, v in sorted(licences.items(), key=lambda kv: -kv[1])) + ".",
        "",
        "## Held-out figures",
        f"{report['pieces']} held-out pieces, {report['beats']} beats. NLL in nats per beat of the pitches 21..108 "
        "sounding on the next beat (the measure both encodings support); frame accuracy = TP/(TP+FP+FN) at p > 0.5.",
        "",
        "| model | NLL per beat (sounding) | full NLL (with struck/held) | frame accuracy |",
        "| --- | ---: | ---: | ---: |",
        f"| continuo (bundled) | {_f(nll['model'])} | {_f(full['model'])} | {_f(acc['model'])} |",
        f"| seed baseline | {_f(nll['seed'])} | n/a (no struck/held) | {_f(acc['seed'])} |",
        f"| unigram | {_f(nll['unigram'])} | {_f(full['unigram'])} | {_f(acc['unigram'])} |",
        "",
        "continuo beats both baselines on held-out NLL." if beats_ok else "**continuo does NOT beat both baselines on held-out NLL** (see the training notes).",
        "",
        f"## A 2-minute sample (temperature {s['temperature']}, {s['bpm']:g} bpm) against the held-out corpus",
        "",
        "| | sample | corpus |",
        "| --- | ---: | ---: |",
        f"| struck notes in C major / A minor scale | {s['in_scale']:.3f} | {c['in_scale']:.3f} |",
        f"| mean polyphony (sounding beats) | {s['polyphony']:.2f} | {c['polyphony']:.2f} |",
        f"| mean / median note length (16ths) | {s['note_length']['mean']:.2f} / {s['note_length']['median']:g} | {c['note_length']['mean']:.2f} / {c['note_length']['median']:g} |",
        f"| pitch range | {s['pitch_range']} | {c['pitch_range']} |",
        f"| distinct 2-bar patterns / total | {s['repetitiveness']['distinct_fraction']:.3f} | {c['repetitiveness']['distinct_fraction']:.3f} |",
        "",
        "Plots: `evaluation/sample_piano_roll.png`, `evaluation/loss_curve.png`; all figures: `evaluation/report.json`.",
        "",
        "## Training run",
        f"- continuo: {m['epochs_run']} epochs in {ours.seconds / 60:.1f} min (best epoch {m['best_epoch']}, stopped by {m['stopped_by']}), "
        f"{m['train_timesteps_per_epoch']} timesteps per epoch.",
        f"- seed baseline: {seed.metrics['epochs_run']} epochs in {seed.seconds / 60:.1f} min (stopped by {seed.metrics['stopped_by']}); not bundled.",
        f"- Trained on {os.cpu_count()} CPU cores shared with other work; TensorFlow {_tf_version()}.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def ours_hidden(result) -> int:
    from radio.model import load_model

    return load_model(result.model_path).network.layers[0].units


def _tf_version() -> str:
    tf = sys.modules.get("tensorflow")
    return getattr(tf, "__version__", "?")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    known = discover_styles(args.styles_dir)
    styles = args.styles.split(",") if args.styles else list(known)
    unknown = [s for s in styles if s not in known]
    if unknown:
        raise SystemExit(f"unknown style(s) {', '.join(unknown)}; known: {', '.join(known)}")
    command = "python -m trainer.bundle " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    args.home.mkdir(parents=True, exist_ok=True)
    import_corpus(args.corpus, styles, args.home)
    results = []
    for style in styles:
        started = time.monotonic()
        results.append(bundle_style(style, args, command))
        log.info("%s: done in %.1f min", style, (time.monotonic() - started) / 60)
    print(f"{'style':<12} {'continuo':>9} {'seed':>9} {'unigram':>9} {'in-scale':>9} {'poly':>6} {'train s':>8} {'MB':>6}")
    for r in results:
        print(
            f"{r['style']:<12} {_f(r['nll']['model']):>9} {_f(r['nll']['seed']):>9} {_f(r['nll']['unigram']):>9} "
            f"{r['in_scale']:9.3f} {r['polyphony']:6.2f} {r['train_seconds']:8.0f} {r['size'] / 1e6:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

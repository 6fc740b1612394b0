"""``continuo evaluate``: held-out NLL against baselines, realism against the held-out pieces, sample statistics and PNGs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", required=True, help="style name")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: <home>/models/<style>/continuo.npz from `continuo train` if it exists, else the style's bundled model)")
    parser.add_argument("--pieces", type=Path, default=None, help="folder of MIDI files to measure NLL on (default: the model's validation split in the library)")
    parser.add_argument("--seed-model", type=Path, default=None, help="seed baseline model file (default <home>/models/<style>/seed.npz)")
    parser.add_argument("--home", type=Path, default=None, help="library location (default $CONTINUO_HOME or ./var)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the report and PNGs go (default <home>/reports/<style>)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the sampled music (the 2-minute statistics and the realism sample)")
    parser.add_argument("--realism-minutes", type=float, default=10.0,
                        help="the most music to sample for the realism measure, in minutes (default 10; less when the held-out pieces are shorter)")
    parser.add_argument("--base", type=Path, default=None,
                        help="the base model to report every figure against too (default styles/base/model.npz, when bundled)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from trainer.evaluate import evaluate, format_report

    report = evaluate(
        args.style,
        model_path=args.model,
        pieces_dir=args.pieces,
        home=args.home,
        seed_model_path=args.seed_model,
        out_dir=args.out_dir,
        sample_seed=args.sample_seed,
        realism_seconds=args.realism_minutes * 60.0,
        base_path=args.base,
    )
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0

"""``continuo train``: train one style's model from the library and export it.

With ``--progress-jsonl`` stdout carries only JSON lines (``start``, ``epoch``..., then
``done`` or ``error``) for the admin job runner; the progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from radio.errors import ContinuoError
from radio.model.kinds import DEFAULT_KIND, KIND_NAMES, kind

# A fine-tune adapts what the base knows instead of relearning it: a quarter of the learning
# rate from scratch (see bench/bench_fewshot.py for the measurement).
FINE_TUNE_LEARNING_RATE = 5e-4
EPOCHS_WITHOUT_BUDGET = 30
EPOCHS_WITH_BUDGET = 1000  # a run with --minutes stops on its budget or on early stopping, not on an epoch cap


def default_epochs(minutes: float | None) -> int:
    """A run with a time budget uses it while the validation loss still falls; early stopping
    ends it sooner once it stops improving."""
    return EPOCHS_WITH_BUDGET if minutes else EPOCHS_WITHOUT_BUDGET


def model_help() -> str:
    """One clause per registered model kind (radio/model/kinds/), the default marked."""
    return "; ".join(f"{name}: {kind(name).description}" + (" (default)" if name == DEFAULT_KIND else "")
                     for name in KIND_NAMES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", required=True, help="style name (styles/<name>/style.toml or a library style)")
    parser.add_argument("--model", choices=KIND_NAMES, default=DEFAULT_KIND, help=model_help())
    parser.add_argument("--epochs", type=int, default=None,
                        help="most epochs (early stopping may end sooner; default: as many as --minutes allows, or 30 without --minutes)")
    parser.add_argument("--minutes", type=float, default=None, help="wall-clock training budget in minutes")
    parser.add_argument("--seed", type=int, default=0, help="random seed: split, initialisation, shuffling (default 0)")
    parser.add_argument("--out", type=Path, default=None, help="model file to write (default <home>/models/<style>/<model>.npz)")
    parser.add_argument("--home", type=Path, default=None, help="library location (default $CONTINUO_HOME or ./var)")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM units per layer (default 256)")
    parser.add_argument("--stride", type=int, default=None, help="steps between training windows (default: 384 tokens for token, 64 beats otherwise)")
    parser.add_argument("--augment", type=int, default=0, help="transpose training batches by up to ± this many semitones (default 0: off)")
    parser.add_argument("--init-from", type=Path, default=None,
                        help="start from this model file's weights (same model kind and --hidden): an earlier sitting of the same "
                             "run, or a fine-tune of the base model (styles/base/model.npz) or of another style's model")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="also score this model (e.g. the one on air) on this run's held-out pieces, for a fair comparison")
    parser.add_argument("--corpus", default=None,
                        help="comma-separated library styles to train on (default: the style's [corpus]; for --style base, every library style)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=f"Adam learning rate (default {2e-3:g} from scratch, {FINE_TUNE_LEARNING_RATE:g} when fine-tuning with --init-from)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow CPU threads (default: all)")
    parser.add_argument("--progress-jsonl", action="store_true", help="print JSON-lines progress events on stdout")


def run(args: argparse.Namespace) -> int:
    emit = _printer() if args.progress_jsonl else None
    try:
        return _train(args, emit)
    except BaseException as exc:
        if emit:
            emit({"event": "error", "message": str(exc) or type(exc).__name__})
        if isinstance(exc, (ContinuoError, KeyboardInterrupt)):
            raise
        if isinstance(exc, ValueError):
            raise ContinuoError(str(exc)) from exc
        raise


def _train(args: argparse.Namespace, emit) -> int:
    try:
        import tensorflow  # noqa: F401 - imported here so the radio never pays for it
    except ImportError as exc:
        raise ContinuoError(f"training needs TensorFlow ({exc}), which comes with the 'train' extra: "
                            "run `make install-dev` (or `.venv/bin/pip install -e '.[train]'`)") from exc
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    if args.minutes is not None and args.minutes <= 0:
        raise ContinuoError(f"--minutes must be > 0, got {args.minutes}")
    if args.hidden < 1 or (args.stride is not None and args.stride < 1) or not 0 <= args.augment <= 6:
        raise ContinuoError("--hidden and --stride must be ≥ 1, --augment between 0 and 6")
    if args.learning_rate is not None and not 0 < args.learning_rate < 1:
        raise ContinuoError(f"--learning-rate must be between 0 and 1, got {args.learning_rate}")
    if args.epochs is not None and args.epochs < 1:
        raise ContinuoError(f"--epochs must be ≥ 1, got {args.epochs}")
    corpus = tuple(s for s in (args.corpus or "").split(",") if s) or None
    learning_rate = args.learning_rate or (FINE_TUNE_LEARNING_RATE if args.init_from else None)
    config = TrainConfig(
        style=args.style,
        model=args.model,
        epochs=args.epochs or default_epochs(args.minutes),
        corpus=corpus,
        compare_with=args.compare_with,
        minutes=args.minutes,
        seed=args.seed,
        out=args.out,
        home=args.home,
        threads=args.threads,
        init_from=args.init_from,
        hp=HyperParameters.for_model(args.model, hidden=args.hidden, stride=args.stride, augment=args.augment,
                                     learning_rate=learning_rate),
    )
    result = train_style(config, emit=emit)
    if not emit:
        m = result.metrics
        print(f"wrote {result.model_path} (version {result.version}) in {result.seconds:.0f} s; loss curve {result.loss_png}")
        if "nll_full" in m["model"]:
            print(
                f"held-out NLL per beat (notes with struck/held): model {m['model']['nll_full']:.3f}, "
                f"unigram {m['unigram']['nll_full']:.3f}"
            )
        if "nll_sounding" in m["model"]:
            print(
                f"held-out NLL per beat (sounding notes): model {m['model']['nll_sounding']:.3f}, "
                f"unigram {m['unigram']['nll_sounding']:.3f}; frame accuracy {m['model']['frame_accuracy']:.3f}"
            )
        print(
            f"next: continuo evaluate --style {args.style} --model {result.model_path}\n"
            f"      continuo generate --style {args.style} --model {result.model_path} --minutes 2 --out sample.mp3\n"
            "      to put it on air, retrain from /admin (it registers and activates versions) "
            "or copy it to styles/<style>/model.npz"
        )
    return 0


def _printer():
    def emit(event: dict) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    return emit

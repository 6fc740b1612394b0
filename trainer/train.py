"""Train one style's model: data -> Keras fit (early stopping, checkpoints, time budget) ->
float16 rounding -> held-out metrics in numpy -> atomic export -> loss-curve PNG.

What differs between model kinds (the Keras model, its datasets, its measure) is the kind's
trainer (trainer/kinds/); this module runs any of them the same way."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from radio.config import continuo_home
from radio.errors import StyleError
from radio.model.kinds import DEFAULT_KIND, kind
from radio.model.lineage import BASE_STYLE, seen_key, seen_pieces
from radio.styles import check_style_name, get_style
from trainer.dataset import StyleData, build_style_data
from trainer.kinds import score_model, trainer_kind
from trainer.models import HyperParameters

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    style: str
    model: str = DEFAULT_KIND  # a model kind (radio/model/kinds/, trainer/kinds/)
    epochs: int = 30
    minutes: float | None = None
    seed: int = 0
    out: Path | None = None
    home: Path | None = None
    threads: int | None = None
    hp: HyperParameters = field(default_factory=HyperParameters)
    show_bar: bool = True
    init_from: Path | None = None  # start from this model file's weights (same kind and sizes)
    corpus: tuple[str, ...] | None = None  # library styles to train on (default: the style's own)
    compare_with: Path | None = None  # score this model (the one on air) on this run's held-out pieces too


@dataclass
class TrainResult:
    model_path: Path
    version: str
    metrics: dict
    history: dict[str, list[float]]
    seconds: float
    loss_png: Path
    data: StyleData


def configure_tensorflow(threads: int | None, seed: int) -> str:
    """Threads and seed; returns the device Keras will train on. TensorFlow places the model on
    a GPU by itself when one is visible (a CUDA build of TensorFlow on a GPU machine); the
    CPU build that `make install-dev` installs trains on the CPU cores."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({', '.join(g.name for g in gpus)})" if gpus else "CPU"
    log.info("training on %s", device)
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:
            log.debug("TensorFlow threads were already fixed for this process")
    keras.utils.set_random_seed(seed)
    return device


def default_model_path(home: Path, style: str, model: str) -> Path:
    return home / "models" / style / f"{model}.npz"




def corpus_styles_for(style: str, library) -> tuple[str, ...]:
    """The library styles a style trains on: its style.toml [corpus], or the style itself when
    the library holds pieces under that name (a style being created from an upload). The base
    model trains on every style in the library."""
    check_style_name(style)
    if style == BASE_STYLE:
        styles = tuple(library.catalog.styles())
        if not styles:
            raise StyleError(f"the library at {library.home} is empty: import a corpus before training the base model")
        return styles
    try:
        return get_style(style).corpus_styles
    except StyleError:
        if library.catalog.list_pieces(style=style):
            return (style,)
        raise


def train_style(config: TrainConfig, emit: Callable[[dict], None] | None = None) -> TrainResult:
    """Train, evaluate and export one model. Writes nothing at ``config.out`` unless it all succeeds."""
    trainer = trainer_kind(config.model)  # an unknown kind fails here, before any work
    if config.epochs < 1:
        raise ValueError("epochs must be ≥ 1")
    home = Path(config.home) if config.home else continuo_home()
    out = Path(config.out) if config.out else default_model_path(home, config.style, config.model)
    start = read_start(config.init_from) if config.init_from else None
    corpus_styles, data = load_data(config, home, start.seen if start else frozenset())
    continued = check_continuation(config.init_from, data) if config.init_from else None
    if emit:
        emit({"event": "start", "style": config.style, "epochs": config.epochs, "model": config.model})

    device = configure_tensorflow(config.threads, config.seed)
    from trainer.export import export_model, model_arrays, round_to_storage
    from trainer.metrics import Unigram
    from trainer.plots import loss_curve

    model, fit = fit_model(config, data, home, emit)
    round_to_storage(model)  # from here on, the weights are exactly what the file will hold
    metrics = {**held_out_metrics(model_arrays(model), config.model, data, config.hp), **fit}
    if config.compare_with:
        metrics["compared"] = compared_on_held_out(config.compare_with, data)
    header = {
        "style": config.style,
        "model": config.model,
        "seed": config.seed,
        "hyperparameters": config.hp.to_dict(),
        "device": device,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "training": corpus_summary(data, corpus_styles, start.seen if start else frozenset()),
        "metrics": metrics,
        "baseline": {"unigram": Unigram.fit([p.notes for p in data.train]).to_dict()},
    }
    if continued and start:
        header["continued_from"] = continued
        if start.validation != tuple(p.id for p in data.val):
            header["fine_tuned_from"] = {"version": continued, "style": start.style, "path": str(config.init_from)}
        elif start.fine_tuned_from:  # a later sitting of a fine-tune is still that base's fine-tune
            header["fine_tuned_from"] = start.fine_tuned_from
    version = export_model(model, out, trainer.model.encoding, **header)
    title = f"{config.style}: {config.model} model ({config.hp.hidden} units)"
    if trainer.loss_unit:
        title += f", loss in {trainer.loss_unit}"
    png = loss_curve(fit["history"], out.with_suffix(".loss.png"), title)
    if emit:
        emit({"event": "done", "model_path": str(out), "version": version, "metrics": metrics_summary(metrics)})
    return TrainResult(out, version, metrics, fit["history"], fit["train_seconds"], png, data)


@dataclass(frozen=True)
class StartModel:
    """What a run that starts from another model's weights needs to know of it."""

    style: str
    seen: frozenset[str]  # seen_key() of every piece it, or a model it started from, trained on
    validation: tuple[str, ...]  # its held-out piece ids
    fine_tuned_from: dict | None = None  # the base it was itself fine-tuned from, if any


def read_start(path: Path) -> StartModel:
    from radio.model.modelfile import read_model_file

    header, _arrays, _version = read_model_file(path)
    return StartModel(str(header.get("style", "")), seen_pieces(header),
                      tuple(p.get("id") for p in header.get("training", {}).get("validation", [])),
                      header.get("fine_tuned_from"))


def check_continuation(path: Path, data: StyleData) -> str:
    """The version of the model a run starts from. Refuse one that trained on any of this run's
    held-out pieces: its held-out figures would flatter it. A model of the same split is a
    continuation; one of another split (the base, or another style) is a fine-tune."""
    from radio.model.modelfile import read_model_file

    header, _arrays, version = read_model_file(path)
    seen = seen_pieces(header)
    leaked = [p.id for p in data.val if seen_key(p.sha256) in seen]
    if leaked:
        raise StyleError(
            f"{path} was validated on other pieces than this run's split and trained on {len(leaked)} of its held-out "
            f"pieces ({', '.join(leaked[:3])}): continue it with the same style, library and --seed it was trained with"
        )
    return version


def load_data(config: TrainConfig, home: Path, seen: frozenset[str] = frozenset()) -> tuple[tuple[str, ...], StyleData]:
    from radio.library import open_library

    library = open_library(home)
    try:
        corpus_styles = config.corpus or corpus_styles_for(config.style, library)
        hp = config.hp
        data = build_style_data(
            library, config.style, corpus_styles, window=trainer_kind(config.model).shortest_piece(hp), val_fraction=hp.val_fraction, seed=config.seed, seen=seen
        )
    finally:
        library.close()
    return corpus_styles, data


def fit_model(config: TrainConfig, data: StyleData, home: Path, emit: Callable[[dict], None] | None):
    """Keras fit with early stopping (best weights restored), checkpoints and the time budget.

    Checkpoints go to ``<home>/checkpoints/<style>-<model>-<time>/`` and are deleted once the
    run has finished; a run that dies leaves them for inspection, never a model file.
    """
    import keras

    from trainer.callbacks import Progress, TimeBudget

    hp = config.hp
    trainer = trainer_kind(config.model)
    inputs = trainer.fit_inputs(data, hp, config.seed)
    model = inputs.model
    if config.init_from:
        from trainer.export import load_weights

        load_weights(model, config.init_from, trainer.model.encoding)

    checkpoints = home / "checkpoints" / f"{config.style}-{config.model}-{int(time.time())}-{os.getpid()}"
    checkpoints.mkdir(parents=True, exist_ok=True)
    budget = TimeBudget(config.minutes * 60 if config.minutes else None)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp.patience, restore_best_weights=True)
    callbacks = [
        budget,
        early,
        keras.callbacks.ModelCheckpoint(
            str(checkpoints / "best.weights.h5"), monitor="val_loss", save_best_only=True, save_weights_only=True
        ),
        Progress(
            epochs=config.epochs,
            batches=inputs.batches_per_epoch,
            budget=budget,
            emit=emit,
            show_bar=config.show_bar,
        ),
    ]
    started = time.monotonic()
    # The dataset shuffles its own windows (seeded); Keras must not try to.
    history = model.fit(inputs.train, validation_data=inputs.validation, epochs=config.epochs, callbacks=callbacks, verbose=0, shuffle=False)
    seconds = time.monotonic() - started
    shutil.rmtree(checkpoints, ignore_errors=True)
    losses = {k: [float(v) for v in vals] for k, vals in history.history.items() if k in ("loss", "val_loss")}
    epochs_run = len(losses.get("loss", []))
    return model, {
        "epochs_run": epochs_run,
        "best_epoch": int(early.best_epoch) + 1 if early.best_weights is not None else epochs_run,
        "stopped_by": "time budget" if budget.exhausted else ("early stopping" if early.stopped_epoch else "epochs"),
        "train_seconds": round(seconds, 1),
        "train_timesteps_per_epoch": inputs.timesteps_per_epoch,
        "history": losses,
    }


def corpus_summary(data: StyleData, corpus_styles: tuple[str, ...], inherited: frozenset[str] = frozenset()) -> dict:

    own = {seen_key(p.sha256) for p in data.train if p.sha256}
    return {
        "library_styles": list(corpus_styles),
        "pieces": [{"id": p.id, "sha256": p.sha256} for p in data.train],
        # What a fine-tune of this model must never hold out; only what its own list lacks.
        "seen": sorted(inherited - own),
        "validation": [{"id": p.id, "sha256": p.sha256} for p in data.val],
        "beats": {"train": data.train_beats, "validation": data.val_beats},
        "composers": dict(Counter(p.composer or "unknown" for p in data.train + data.val).most_common()),
        "licences": dict(Counter(p.licence or "unknown" for p in data.train + data.val).most_common()),
        "skipped": [{"id": i, "reason": r} for i, r in data.skipped],
    }


def held_out_metrics(arrays: dict[str, np.ndarray], encoding_name: str, data: StyleData, hp: HyperParameters | None = None) -> dict:
    """The validation figures for these (storage-rounded) weights, computed by radio/model."""
    from radio.model import StyleModel
    from trainer.metrics import Unigram, out_of_range_fraction, targets_for

    enc = kind(encoding_name).encoding
    model = StyleModel({"encoding": enc.name, "encoding_version": enc.version}, arrays, version="")
    val = [p.notes for p in data.val]
    targets = targets_for(val)
    ours = score_model(model, val, targets, window=hp.window if hp is not None else None)
    unigram = Unigram.fit([p.notes for p in data.train]).score(targets)
    return {
        "held_out": {"pieces": len(val), "beats": targets.beats, "out_of_range_notes": out_of_range_fraction(val),
                     "key": held_out_key(data)},
        "model": ours,
        "unigram": unigram,
    }


def held_out_key(data: StyleData) -> str:
    """One id for a set of held-out pieces: two figures compare only when their keys match."""
    import hashlib

    return hashlib.sha256("\n".join(sorted(p.sha256 or p.id for p in data.val)).encode()).hexdigest()[:16]


def compared_on_held_out(path: Path, data: StyleData) -> dict:
    """Another model's figures on this run's own held-out pieces, with the same measure, so the
    admin can compare the new version with the one on air on equal terms. A model that trained
    on any of these pieces is scored all the same but flagged: its figure is not comparable."""
    from radio.model import load_model
    from trainer.metrics import targets_for

    other = load_model(path)
    val = [p.notes for p in data.val]
    scores = score_model(other, val, targets_for(val))
    seen = seen_pieces(other.header)
    leaked = sum(seen_key(p.sha256) in seen for p in data.val if p.sha256)
    return {
        "version": other.version,
        "encoding": other.encoding.name,
        "nll_full": scores.get("nll_full"),
        "nll_sounding": scores.get("nll_sounding"),
        "held_out": {"pieces": len(val), "key": held_out_key(data)},
        "trained_on_held_out": leaked,
    }


def metrics_summary(metrics: dict) -> dict:
    """The small dict the ``done`` event carries."""
    out = {
        "nll_per_beat": {"model": metrics["model"].get("nll_sounding"), "unigram": metrics["unigram"]["nll_sounding"]},
        "frame_accuracy": {"model": metrics["model"].get("frame_accuracy"), "unigram": metrics["unigram"]["frame_accuracy"]},
        "held_out": metrics["held_out"],
        "epochs_run": metrics["epochs_run"],
        "train_seconds": metrics["train_seconds"],
    }
    if "nll_full" in metrics["model"]:
        out["nll_full_per_beat"] = {"model": metrics["model"]["nll_full"], "unigram": metrics["unigram"]["nll_full"]}
    if "compared" in metrics:
        out["compared"] = metrics["compared"]
    return out

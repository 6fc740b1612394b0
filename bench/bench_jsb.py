"""The JSB Chorales benchmark: test NLL in nats per quarter-note frame, next to the published table.

Data: ``../shared/benchmarks/jsb/jsb-chorales-quarter.json`` (Boulanger-Lewandowski et al. 2012's
229/76/77 split; never copied into this repository). Each of our model kinds is trained on the
train split with the same wall-clock budget, selected on the valid split (early stopping restores
the best epoch), and scored on the test split in the written keys, as the published figures are:

- seed, continuo: the per-pitch Bernoulli NLL of the pitches sounding in each frame (summed
  over the 88 pitches), exactly the published measure.
- token: the exact NLL of each frame's set of pitches: the sum over its note tokens and the
  token that closes the frame, each renormalised over what the grammar allows.

A frame of the data only lists the pitches sounding (held and re-struck are not told apart),
so every note is read as struck. Budget per model: ``CONTINUO_JSB_MINUTES`` (default 12; the frame models stop
early on their own well before it); the kinds
run: ``CONTINUO_JSB_KINDS`` (default: every registered kind, radio/model/kinds/). Each kind is
scored by its trainer's ``primary_nll`` (trainer/kinds/).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from radio.config import REPO_ROOT
from radio.model.kinds import KIND_NAMES
from radio.music.notes import ListOfNotes

DATA = REPO_ROOT.parent / "shared" / "benchmarks" / "jsb" / "jsb-chorales-quarter.json"
PUBLISHED = [  # as ../shared/benchmarks/jsb/README.md quotes them (approximate)
    ("RNN (Boulanger-Lewandowski 2012)", 8.7),
    ("LSTM (Bai, Kolter and Koltun 2018)", 8.45),
    ("GRU (Bai, Kolter and Koltun 2018)", 8.43),
    ("TCN (Bai, Kolter and Koltun 2018)", 8.10),
    ("RNN-RBM (2012)", 7.3),
    ("RNN-NADE (2012, Hessian-free)", 5.6),
]


def frames_to_notes(frames: list[list[int]]) -> ListOfNotes:
    return [[(int(p), "b") for p in sorted(set(frame))] for frame in frames]


def train_and_score(kind: str, splits: dict[str, list[ListOfNotes]], minutes: float, home: Path) -> dict:
    from radio.model import StyleModel
    from trainer.dataset import Piece, StyleData
    from trainer.export import model_arrays, round_to_storage
    from trainer.kinds import score_model, trainer_kind
    from trainer.metrics import targets_for
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, configure_tensorflow, fit_model

    def pieces(name: str) -> list[Piece]:
        return [Piece(f"{name}-{i}", "", "", "", "", notes) for i, notes in enumerate(splits[name])]

    data = StyleData("jsb", pieces("train"), pieces("valid"))
    config = TrainConfig(
        style="jsb", model=kind, epochs=500, minutes=minutes, seed=0, home=home, threads=2, show_bar=False,
        hp=HyperParameters.for_model(kind, patience=6),
    )
    configure_tensorflow(config.threads, config.seed)
    started = time.perf_counter()
    model, fit = fit_model(config, data, home, emit=None)
    seconds = time.perf_counter() - started
    round_to_storage(model)
    trainer = trainer_kind(kind)
    enc = trainer.model.encoding
    numpy_model = StyleModel({"encoding": enc.name, "encoding_version": enc.version}, model_arrays(model), version="")
    test = splits["test"]
    scores = score_model(numpy_model, test, targets_for(test))
    nll = scores[trainer.primary_nll]
    return {"kind": kind, "nll": nll, "epochs": fit["epochs_run"], "best_epoch": fit["best_epoch"],
            "stopped_by": fit["stopped_by"], "seconds": seconds, "frames": sum(len(p) for p in test)}


def main() -> None:
    from bench.run_all import machine

    minutes = float(os.environ.get("CONTINUO_JSB_MINUTES", "12"))
    kinds = [k for k in os.environ.get("CONTINUO_JSB_KINDS", ",".join(KIND_NAMES)).split(",") if k]
    unknown = sorted(set(kinds) - set(KIND_NAMES))
    if unknown:
        raise SystemExit(f"CONTINUO_JSB_KINDS: unknown model kind(s) {', '.join(unknown)}; known: {', '.join(KIND_NAMES)}")
    print(machine(f"budget {minutes:g} min per model"))
    if not DATA.is_file():
        print(f"skipped: {DATA} is missing (the JSB split lives in ../shared/benchmarks/jsb, never in this repository)")
        return
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        print("skipped: the JSB benchmark trains models and needs the train extra (make install-dev)")
        return
    raw = json.loads(DATA.read_text())
    splits = {name: [frames_to_notes(piece) for piece in raw[name]] for name in ("train", "valid", "test")}
    results = []
    with tempfile.TemporaryDirectory(prefix="continuo-jsb-") as tmp:
        for kind in kinds:
            results.append(train_and_score(kind, splits, minutes, Path(tmp)))
            r = results[-1]
            print(f"  {kind}: {r['nll']:.3f} nats/frame ({r['epochs']} epochs, best {r['best_epoch']}, "
                  f"stopped by {r['stopped_by']}, {r['seconds'] / 60:.1f} min)")
    print(f"\nJSB Chorales, test NLL per quarter-note frame ({results[0]['frames']} test frames; lower is better)")
    print(f"{'model':<46} {'NLL':>7}")
    for name, nll in PUBLISHED:
        print(f"{'published: ' + name:<46} {'≈':>2}{nll:5.2f}")
    for r in results:
        print(f"{'continuo ' + r['kind'] + f' ({minutes:g} min)':<46} {r['nll']:7.2f}")


if __name__ == "__main__":
    main()

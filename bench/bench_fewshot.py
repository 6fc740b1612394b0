"""Few pieces are enough: a new style made from 20 pieces and a 5-minute retrain, judged against
40 other pieces of that style.

The admin's promise, measured the way an admin meets it. One library style (folk by default) is
kept out of a base model altogether (``bench/models/base-without-<style>.npz``: the bundled
base's recipe on every other style). A fresh library gets 20 of the style's pieces as a new
style, and ``continuo train`` fine-tunes the base on them exactly as an admin's retrain with
``{"minutes": 5}`` runs it (same flags, one trainer thread). Its music is then scored on the
realism features against 40 other pieces of the style, beside:

- the ceiling (those pieces against themselves, two halves);
- every bundled channel of another style played as it is (the nearest one is the bar to beat);
- the base without fine-tuning;
- optionally (``CONTINUO_FEWSHOT_SCRATCH=1``) the same run from scratch.

It also prints what monophony looks like: silent beats, notes per struck chord and note length.

    python -m bench.bench_fewshot      # part of make bench: ~7 minutes
    CONTINUO_FEWSHOT_STYLE=folk CONTINUO_FEWSHOT_MINUTES=5 CONTINUO_FEWSHOT_PIECES=20 CONTINUO_FEWSHOT_JUDGE=40
    CONTINUO_FEWSHOT_LR=1e-3           # another fine-tune learning rate than the trainer's default
    CONTINUO_FEWSHOT_BASE=path.npz     # another held-out base (train one: continuo train --style base --corpus a,b,c)

Skips with a message when the corpus (``../shared/corpus`` or ``$CONTINUO_CORPUS``) is missing.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


from bench.run_all import machine
from radio.config import REPO_ROOT
from radio.music.notes import ListOfNotes

SEED = 0
MODELS = Path(__file__).parent / "models"


@dataclass
class Judged:
    name: str
    realism: dict
    sample: ListOfNotes


def corpus_root() -> Path:
    return Path(os.environ.get("CONTINUO_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


def texture(pieces: list[ListOfNotes]) -> dict[str, float]:
    """Silent beats, notes struck together, mean note length (16ths): where monophony shows."""
    from bench.bench_blends import texture as features

    f = features([beat for piece in pieces for beat in piece])
    return {"silent": f["silent"], "chord": f["chord"], "length": f["note_len"]}


def make_library(home: Path, style: str, files: list[Path]) -> None:
    """A library holding ``files`` under ``style``, imported as an admin's upload is."""
    from radio.library import open_library
    from radio.library.importer import plan_import, run_import

    folder = home / "upload" / style
    folder.mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, folder / f.name)
    library = open_library(home)
    try:
        report = run_import(library, plan_import(folder, style), total=len(files), progress=False)
        if report.rejected:
            raise SystemExit(f"the few-shot pieces did not import: {report.summary()}")
    finally:
        library.close()


def train_like_the_admin(home: Path, style: str, base: Path, minutes: float, *, scratch: bool) -> tuple[Path, dict, float]:
    """``continuo train`` with the flags an admin retrain of a new style passes."""
    from radio.admin.train_command import TRAINER_THREADS
    from radio.cli import main as cli
    from radio.model import load_model

    out = home / "models" / f"{style}-{'scratch' if scratch else 'fine-tune'}.npz"
    args = ["train", "--style", style, "--home", str(home), "--out", str(out), "--minutes", f"{minutes:g}",
            "--threads", str(TRAINER_THREADS)]
    if not scratch:
        args += ["--init-from", str(base)]
        if os.environ.get("CONTINUO_FEWSHOT_LR"):  # to measure the fine-tune's learning rate
            args += ["--learning-rate", os.environ["CONTINUO_FEWSHOT_LR"]]
    started = time.monotonic()
    code = cli(args)
    seconds = time.monotonic() - started
    if code:
        raise SystemExit(f"continuo {' '.join(args)} failed with {code}")
    return out, load_model(out).header["metrics"], seconds


def judge(name: str, model, real: list[ListOfNotes], bpm: float, temperature: float) -> Judged:
    from trainer.evaluate import realism_for

    report, sample = realism_for(model, real, bpm=bpm, temperature=temperature, seed=SEED)
    return Judged(name, report, sample)


def main() -> None:
    from radio.model import load_model
    from radio.styles import discover_styles
    from trainer.dataset import load_pieces
    from radio.library import open_library

    style = os.environ.get("CONTINUO_FEWSHOT_STYLE", "folk")
    minutes = float(os.environ.get("CONTINUO_FEWSHOT_MINUTES", "5"))
    n_train = int(os.environ.get("CONTINUO_FEWSHOT_PIECES", "20"))
    n_judge = int(os.environ.get("CONTINUO_FEWSHOT_JUDGE", "40"))
    base = Path(os.environ.get("CONTINUO_FEWSHOT_BASE", MODELS / f"base-without-{style}.npz"))
    print(f"machine: {machine(f'{n_train} {style} pieces, {minutes:g}-minute retrain, judged on {n_judge} others')}")
    corpus = corpus_root() / style
    if not corpus.is_dir():
        print(f"skipped: no corpus at {corpus} (set CONTINUO_CORPUS)")
        return
    if not base.is_file():
        print(f"skipped: no base model without {style} at {base}")
        return
    base_model = load_model(base)
    kept_out = set(base_model.header.get("training", {}).get("library_styles", []))
    if style in kept_out:
        raise SystemExit(f"{base} was trained on {style}: the few-shot test needs a base that never heard it")
    files = sorted(corpus.glob("*.mid"))
    random.Random(SEED).shuffle(files)
    if len(files) < n_train + n_judge:
        raise SystemExit(f"{corpus} has {len(files)} pieces; the test needs {n_train + n_judge}")
    styles = discover_styles()
    info = styles.get(style)
    bpm, temperature = (info.tempo_bpm, info.temperature) if info else (100.0, 1.0)

    with tempfile.TemporaryDirectory(prefix="fewshot-") as tmp:
        home = Path(tmp)
        new_style = f"new-{style}"
        make_library(home, new_style, files[:n_train])
        make_library(home / "judge", "judge", files[n_train : n_train + n_judge])
        library = open_library(home / "judge")
        try:
            real = [p.notes for p in load_pieces(library, ["judge"])[0]]
        finally:
            library.close()

        results: list[tuple[Judged, str]] = []
        path, metrics, seconds = train_like_the_admin(home, new_style, base, minutes, scratch=False)
        tuned = judge("base fine-tuned on the pieces", load_model(path), real, bpm, temperature)
        results.append((tuned, f"{metrics['epochs_run']} epochs in {seconds / 60:.1f} min (best {metrics['best_epoch']}, "
                               f"stopped by {metrics['stopped_by']}), held-out NLL/beat {metrics['model']['nll_full']:.3f}"))
        if os.environ.get("CONTINUO_FEWSHOT_SCRATCH") == "1":
            path, metrics, seconds = train_like_the_admin(home, new_style, base, minutes, scratch=True)
            results.append((judge("the same, from scratch", load_model(path), real, bpm, temperature),
                            f"{metrics['epochs_run']} epochs in {seconds / 60:.1f} min, NLL/beat {metrics['model']['nll_full']:.3f}"))
        results.append((judge("the base, not fine-tuned", base_model, real, bpm, temperature), ""))
        others = []
        for name, other in styles.items():
            if name == style:
                continue
            j = judge(f"bundled {name}, as it is", load_model(other.model_path), real, bpm, other.temperature)
            others.append(j)
            results.append((j, ""))

    ceiling = tuned.realism["mean_ceiling"]
    real_tex = texture(real)
    print(f"\nrealism against {n_judge} other {style} pieces ({sum(len(p) for p in real)} beats); ceiling {ceiling:.3f}")
    print(f"{'music':<34} {'realism':>8} {'of ceiling':>11} {'silent':>7} {'chord':>6} {'length':>7} {'weakest feature':<26} notes")
    for j, note in results:
        tex = texture([j.sample])
        weakest = min(j.realism["features"].items(), key=lambda kv: kv[1]["overlap"] - kv[1]["ceiling_overlap"])
        print(f"{j.name:<34} {j.realism['mean_overlap']:8.3f} {j.realism['mean_overlap'] / ceiling:11.3f} "
              f"{tex['silent']:7.3f} {tex['chord']:6.2f} {tex['length']:7.2f} "
              f"{weakest[0]} {weakest[1]['overlap']:.2f}/{weakest[1]['ceiling_overlap']:.2f}".ljust(112) + f" {note}")
    print(f"{'the real pieces':<34} {'':>8} {'':>11} {real_tex['silent']:7.3f} {real_tex['chord']:6.2f} {real_tex['length']:7.2f}")
    nearest = max(others, key=lambda j: j.realism["mean_overlap"]) if others else None
    goal = tuned.realism["mean_overlap"] / ceiling
    verdict = "meets" if goal >= 0.90 and (nearest is None or tuned.realism["mean_overlap"] > nearest.realism["mean_overlap"]) else "misses"
    print(f"\nfew-shot: {goal:.3f} of the ceiling (goal ≥ 0.90); nearest other channel "
          f"{nearest.name if nearest else 'none'} {nearest.realism['mean_overlap'] / ceiling if nearest else float('nan'):.3f}: {verdict} the goal")


if __name__ == "__main__":
    main()

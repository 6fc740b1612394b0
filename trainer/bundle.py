"""Retrain the bundled models (what ``make train`` runs): first the shared base, then every
style as a fine-tune of it.

    python -m trainer.bundle --corpus ../shared/corpus [--base-minutes 60] [--minutes 10] [--styles a,b] [--continue]

The corpus is imported into a library under ``--home`` (default ``var/bundle``). The base is a
``token`` model trained on every style of it at once (``continuo train --style base``), split by
piece within each style by the same rule as a style's own run, so a style's held-out pieces
are held out of the base too. It is published to ``styles/base/model.npz`` (no style.toml: not a
channel) when it has a lower held-out NLL than the base bundled before, with its
``TRAINING.md``. ``--base-minutes 0`` keeps the bundled base and only fine-tunes.

For each style: fine-tune a ``token`` candidate from the bundled base (``--init-from``; early
stopping on validation loss, ``--minutes`` as a safety cap) into
``<home>/models/<style>/token.npz``, then score the candidate and the model bundled
now on the same held-out pieces: the exact NLL per beat (notes with struck/held) and the
realism of their music against the held-out pieces (trainer/realism.py). The candidate replaces
``styles/<name>/model.npz`` only if both figures improve. ``styles/<name>/TRAINING.md`` keeps the
before/after table either way, ``styles/<name>/evaluation/`` the bundled model's report and
plots, and ``styles/<name>/corpus.csv`` every piece with its licence and split.

``--continue`` resumes from the candidate already under ``--home`` (same split, its weights as
the start), for a budget spent in more than one sitting. ``--sampling-only`` trains nothing: it
chooses each bundled model's sampling settings again (trainer/sampling_choice.py).
"""


from __future__ import annotations

import argparse
import csv
import logging
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from radio.config import REPO_ROOT
from radio.files import atomic_path
from radio.model.kinds import DEFAULT_KIND
from radio.styles import Style, discover_styles
from trainer.sampling_choice import COMPARE_SEEDS, Sampling, choice_text, choose_sampling, held_out_realism

log = logging.getLogger("trainer.bundle")

MAKE_COMMAND = "python -m trainer.bundle --corpus ../shared/corpus"
BUNDLED_KIND = DEFAULT_KIND  # the kind of the base and of every bundled style: it must fine-tune from the base
from radio.model.lineage import BASE_STYLE as BASE_FOLDER  # styles/base: the shared base (no style.toml)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder of style folders with MANIFEST.csv")
    parser.add_argument("--styles", default=None, help="comma-separated styles (default: every style folder with a style.toml)")
    parser.add_argument("--minutes", type=float, default=10.0, help="time cap per style fine-tune; early stopping on validation loss usually ends it sooner (default 10)")
    parser.add_argument("--base-minutes", type=float, default=60.0, help="time cap of the base model's training; 0 keeps the bundled base (default 60)")
    parser.add_argument("--base-learning-rate", type=float, default=None, help="the base's learning rate (default: the trainer's from-scratch rate)")
    parser.add_argument("--base-only", action="store_true", help="train and publish the base, then stop (no style fine-tunes)")
    parser.add_argument("--base-from", type=Path, default=None, help="start the base from this model file (e.g. an earlier base)")
    parser.add_argument("--scratch", action="store_true", help="train each style from scratch instead of fine-tuning the base")
    parser.add_argument("--learning-rate", type=float, default=None, help="the fine-tunes' learning rate (default: the trainer's fine-tune rate)")
    parser.add_argument("--augment", type=int, default=0, help="transpose training windows by up to ± this many semitones (default 0)")
    parser.add_argument("--soup-with", type=Path, default=None,
                        help="before the gate, average the candidate's weights with this sibling's (a fine-tune of the same base)")
    parser.add_argument("--soup-weight", type=float, default=0.5,
                        help="the candidate's share of the --soup-with average, in (0, 1] (default 0.5)")
    parser.add_argument("--continue", dest="resume", action="store_true", help="continue from the candidate already under --home")
    parser.add_argument("--no-train", action="store_true", help="only compare and publish the candidate already under --home")
    parser.add_argument("--sampling-only", action="store_true",
                        help="train nothing: choose each bundled model's temperature/top_p again, and keep the new "
                             "setting only if its music is closer to the held-out pieces")
    parser.add_argument("--epochs", type=int, default=1000, help="most epochs per model (default 1000: the time cap and early stopping end a run)")
    parser.add_argument("--hidden", type=int, default=256, help="LSTM units (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    parser.add_argument("--home", type=Path, default=REPO_ROOT / "var" / "bundle", help="library and candidate models")
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


def bundle_base(args: argparse.Namespace, command: str) -> dict | None:
    """Train the shared base on every library style and publish it to styles/base/ when its
    held-out NLL beats the bundled base's on the same pieces. None when --base-minutes is 0."""
    from trainer.export import amend_header
    from trainer.models import HyperParameters
    from trainer.train import BASE_STYLE, TrainConfig, train_style

    if args.base_minutes <= 0:
        return None
    folder = args.styles_dir / BASE_FOLDER
    candidate = args.home / "models" / BASE_FOLDER / f"{BUNDLED_KIND}.npz"
    start = args.base_from or (candidate if args.resume and candidate.is_file() else None)
    config = TrainConfig(
        style=BASE_STYLE, model=BUNDLED_KIND, epochs=args.epochs, minutes=args.base_minutes, seed=args.seed, home=args.home,
        threads=args.threads, show_bar=False, out=candidate, init_from=start,
        hp=HyperParameters.for_model(BUNDLED_KIND, hidden=args.hidden, augment=args.augment, learning_rate=args.base_learning_rate),
    )
    log.info("base: training a token model on every library style (%s, %.0f min cap)",
             f"starting from {start}" if start else "from scratch", args.base_minutes)
    result = train_style(config, emit=_log_epoch)
    return publish_base(result, folder, command)


def publish_base(result, folder: Path, command: str) -> dict:
    """Score the new and the bundled base on the new one's held-out pieces (overall and per
    style); the new one replaces the bundled one when its NLL per beat is lower."""
    from radio.model import load_model
    from trainer.export import amend_header
    from trainer.kinds import score_model
    from trainer.metrics import targets_for
    from radio.model.lineage import seen_key, seen_pieces

    old_path = folder / "model.npz"
    new = load_model(result.model_path)
    old = load_model(old_path) if old_path.is_file() else None
    by_style: dict[str, list] = {}
    for p in result.data.val:
        by_style.setdefault(p.style, []).append(p.notes)
    table: dict[str, dict] = {}
    for style, pieces in sorted(by_style.items()):
        targets = targets_for(pieces)
        row = {"pieces": len(pieces), "beats": targets.beats, "new": score_model(new, pieces, targets)["nll_full"]}
        table[style] = row
    overall_new = result.metrics["model"]["nll_full"]
    overall_old = None
    if old is not None:
        val = [p.notes for p in result.data.val]
        leaked = sum(seen_key(p.sha256) in seen_pieces(old.header) for p in result.data.val)
        overall_old = None if leaked else score_model(old, val, targets_for(val))["nll_full"]
    accepted = old is None or (overall_old is not None and overall_new < overall_old)
    reason = ("nothing bundled yet" if old is None else
              f"held-out NLL per beat {_f(overall_old)} -> {overall_new:.3f}" if overall_old is not None else
              "the bundled base trained on some of these held-out pieces: its figure is not comparable; kept")
    folder.mkdir(parents=True, exist_ok=True)
    if accepted:
        with atomic_path(folder / "model.npz") as tmp:
            shutil.copyfile(result.model_path, tmp)
        amend_header(folder / "model.npz", bundle={"replaced": old.version if old else None, "command": command})
        log.info("base: the new base replaces the bundled one (%s)", reason)
    else:
        log.warning("base: the bundled base stays (%s)", reason)
    write_corpus_csv(folder / "corpus.csv", result.data)
    write_base_md(folder / "TRAINING.md", command, result, table, overall_new, overall_old, accepted, reason, folder / "model.npz")
    return {"accepted": accepted, "reason": reason, "nll_full": overall_new, "by_style": table}


def _earlier_sitting(run) -> str:
    """What the model a base started from had learnt, when its file is still there to read."""
    from radio.model import load_model

    start = load_model(run.model_path).header.get("fine_tuned_from", {}).get("path") or ""
    path = Path(start)
    if not path.is_file():
        return ""
    m, training = load_model(path).header.get("metrics", {}), load_model(path).header.get("training", {})
    return (f", a base trained on {', '.join(training.get('library_styles', []))} for {m.get('epochs_run', '?')} epochs in "
            f"{m.get('train_seconds', 0) / 60:.1f} min (best epoch {m.get('best_epoch', '?')}); this run then trained on every style")


def write_base_md(path: Path, command: str, run, table: dict, new_nll: float, old_nll: float | None,
                  accepted: bool, reason: str, model_path: Path) -> None:
    from radio.model import load_model

    bundled = load_model(model_path)
    m, data = run.metrics, run.data
    counts: dict[str, list[int]] = {}
    for split, pieces in ((0, data.train), (1, data.val)):
        for p in pieces:
            counts.setdefault(p.style, [0, 0, 0])[split] += 1
            counts[p.style][2] += p.beats
    hp = bundled.header.get("hyperparameters", {})
    lines = [
        "# base: the shared model every style fine-tunes",
        "",
        f"`model.npz` here is a `token`-encoding LSTM (version `{bundled.version}`, {model_path.stat().st_size / 1e6:.2f} MB, "
        f"float16 weights): a {hp.get('embedding', '?')}-d embedding, {hp.get('layers', '?')} × LSTM-{hp.get('hidden', '?')}, "
        f"dropout {hp.get('dropout', '?')}, {hp.get('window', '?')}-token windows. This folder has no `style.toml`: the base "
        "plays on no channel. Every bundled style is a fine-tune of it (`continuo train --init-from styles/base/model.npz`), "
        "and so is an admin's retrain of a new style.",
        "",
        "```",
        f"make train    # = {MAKE_COMMAND}: the base first, then every style from it",
        f"{command}",
        "```",
        "",
        "## Training data",
        "Every style of the corpus at once, split by piece within each style by the same rule as the style's own run: "
        "a style's held-out pieces are held out of the base too, so a fine-tune's held-out figures are honest.",
        "",
        "| library style | pieces to train on | held out | beats |",
        "| --- | ---: | ---: | ---: |",
        *[f"| {st} | {c[0]} | {c[1]} | {c[2]} |" for st, c in sorted(counts.items())],
        "",
        f"- Command: `{bundled.header.get('command', '?')}`."
        + (f" It started from `{bundled.header['continued_from']}`{_earlier_sitting(run)}." if bundled.header.get("continued_from") else ""),
        f"- Training: {m['epochs_run']} epochs in {m['train_seconds'] / 60:.1f} min (best epoch {m['best_epoch']}, stopped by {m['stopped_by']}), "
        f"{m['train_timesteps_per_epoch']} tokens per epoch.",
        "",
        "## Held-out NLL per beat (notes with struck/held), by style",
        "",
        "| style | pieces | beats | base |",
        "| --- | ---: | ---: | ---: |",
        *[f"| {st} | {r['pieces']} | {r['beats']} | {r['new']:.3f} |" for st, r in table.items()],
        f"| **all** | {len(data.val)} | {sum(r['beats'] for r in table.values())} | **{new_nll:.3f}** |",
        "",
        ("**This base replaced the bundled one**: " if accepted else "**The bundled base was kept**: ") + reason + ".",
        "",
        f"Trained on {os.cpu_count()} CPU cores; TensorFlow {_tf_version()}.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def corpus_styles(corpus: Path) -> list[str]:
    """Every style folder of the corpus (a folder of MIDI files)."""
    return sorted(p.name for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("."))


def bundle_style(style: str, args: argparse.Namespace, command: str) -> dict:
    from trainer.commands.train import FINE_TUNE_LEARNING_RATE
    from trainer.export import amend_header
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    folder = args.styles_dir / style
    candidate = args.home / "models" / style / f"{BUNDLED_KIND}.npz"
    base = args.styles_dir / BASE_FOLDER / "model.npz"
    if args.resume and candidate.is_file():
        start = candidate
    elif args.scratch:
        start = None
    elif base.is_file():
        start = base
    else:
        raise SystemExit(f"there is no base model at {base}: train it first (--base-minutes > 0) or pass --scratch")
    fine_tune = start is not None and not args.scratch
    config = TrainConfig(
        style=style, model=BUNDLED_KIND, epochs=args.epochs, minutes=args.minutes, seed=args.seed, home=args.home,
        threads=args.threads, show_bar=False, out=candidate, init_from=start,
        hp=HyperParameters.for_model(
            BUNDLED_KIND, hidden=args.hidden, augment=args.augment,
            learning_rate=(args.learning_rate or FINE_TUNE_LEARNING_RATE) if fine_tune else None,
        ),
    )
    if args.no_train:
        if not candidate.is_file():
            raise SystemExit(f"--no-train: there is no candidate at {candidate}; train one first")
        result = existing_run(config, candidate)
    else:
        log.info("%s: training a token model (%s, %.0f min cap)", style, f"starting from {start}" if start else "from scratch", args.minutes)
        result = train_style(config, emit=_log_epoch)
    if args.soup_with:
        candidate = write_soup(candidate, args.soup_with, args.soup_weight)
        log.info("%s: the candidate is %g of the trained model and %g of %s", style, args.soup_weight, 1 - args.soup_weight,
                 args.soup_with)
    from radio.model import load_model
    from radio.style_file import set_style_value
    from radio.styles import load_style

    info = load_style(folder)
    sampling, tried, final = choose_sampling(load_model(candidate), result.data.train, info.tempo_bpm, info.form)
    log.info("%s: sampling at temperature %s (realism against training pieces, %s)", style, sampling,
             choice_text(tried, final))
    comparison = compare(info, folder / "model.npz", candidate, args.home, new_sampling=sampling)
    comparison["sampling"] = {"old": Sampling(info.temperature, info.top_p), "new": sampling, "tried": tried, "final": final}
    comparison["soup"] = load_model(candidate).header.get("soup")
    accepted = comparison["accepted"]
    if accepted:
        with atomic_path(folder / "model.npz") as tmp:
            shutil.copyfile(candidate, tmp)
        amend_header(folder / "model.npz", bundle={"replaced": comparison["old"]["version"], "command": command})
        set_style_value(folder / "style.toml", "temperature", sampling.temperature)
        set_style_value(folder / "style.toml", "top_p", sampling.top_p)
        log.info("%s: the token model replaces the bundled model (%s)", style, comparison["reason"])
    else:
        log.warning("%s: the bundled model stays (%s)", style, comparison["reason"])
    from trainer.evaluate import evaluate

    # On the candidate's held-out pieces, the ones the before/after table used, whichever model stays.
    report = evaluate(style, model_path=folder / "model.npz", home=args.home, out_dir=folder / "evaluation",
                      held_out_of=candidate, styles_root=args.styles_dir)
    (folder / "model.loss.png").unlink(missing_ok=True)
    write_corpus_csv(folder / "corpus.csv", result.data)
    write_training_md(folder / "TRAINING.md", style, command, result, comparison, report, folder / "model.npz")
    return {"style": style, "comparison": comparison, "train_seconds": result.seconds, "size": (folder / "model.npz").stat().st_size}


def resample_style(style: str, args: argparse.Namespace, command: str) -> dict:
    """``--sampling-only``: choose the bundled model's sampling settings again, as a candidate's are
    chosen (on its own training pieces, the channel's music), and let ``style.toml`` take them only
    if that music also comes closer to the held-out pieces than the current settings' does (on
    ``COMPARE_SEEDS`` samples each). For a model whose settings were chosen under an older measure;
    the model itself is not touched. A section of ``TRAINING.md`` records the choice either way."""
    from radio.model import load_model
    from radio.style_file import set_style_value
    from radio.styles import load_style
    from trainer.evaluate import evaluate, held_out_from_library
    from trainer.train import TrainConfig

    folder = args.styles_dir / style
    bundled = folder / "model.npz"
    base = args.styles_dir / BASE_FOLDER / "model.npz"
    model = load_model(bundled)
    # The bundled model's own split (a fine-tune's held-out pieces are those the base held out).
    start = base if model.header.get("fine_tuned_from") and base.is_file() else None
    config = TrainConfig(style=style, model=BUNDLED_KIND, seed=args.seed, home=args.home, init_from=start,
                         show_bar=False, out=bundled)
    run = existing_run(config, bundled)
    info = load_style(folder)
    old = Sampling(info.temperature, info.top_p)
    new, tried, final = choose_sampling(model, run.data.train, info.tempo_bpm, info.form)
    held = held_out_from_library(model, args.home)
    realism = {old: held_out_realism(model, held.pieces, info, old)}
    if new != old:
        realism[new] = held_out_realism(model, held.pieces, info, new)
    accepted = new != old and realism[new]["mean_overlap"] > realism[old]["mean_overlap"]
    log.info("%s: sampling %s -> %s on the training pieces; held-out realism %s", style, old, new,
             ", ".join(f"{s}: {r['mean_overlap']:.3f}" for s, r in realism.items()))
    if accepted:
        set_style_value(folder / "style.toml", "temperature", new.temperature)
        set_style_value(folder / "style.toml", "top_p", new.top_p)
        evaluate(style, model_path=bundled, home=args.home, out_dir=folder / "evaluation", styles_root=args.styles_dir)
    write_resample_md(folder / "TRAINING.md", command, model.version, old, new, tried, final, realism, len(held.pieces),
                      accepted)
    return {"style": style, "old": old, "new": new, "accepted": accepted,
            "realism": {str(s): r["mean_overlap"] for s, r in realism.items()}, "ceiling": realism[old]["mean_ceiling"]}


RESAMPLE_HEADING = "## Sampling chosen again (`--sampling-only`)"


def write_resample_md(path: Path, command: str, version: str, old: Sampling, new: Sampling, tried: dict, final: dict,
                      realism: dict, pieces: int, accepted: bool) -> None:
    """Replace (or add) the ``--sampling-only`` section of a style's TRAINING.md."""
    features = list(realism[old]["features"])
    rows = [f"| {name.replace('_', ' ')} | " + " | ".join(f"{r['features'][name]['overlap']:.3f}" for r in realism.values())
            + f" | {realism[old]['features'][name]['ceiling_overlap']:.3f} |" for name in features]
    section = [
        RESAMPLE_HEADING,
        f"`{command}` ({time.strftime('%Y-%m-%d')}), on the bundled model `{version}` as it is.",
        "",
        f"On the training pieces ({choice_text(tried, final)}) the best is {new}" + (" (the setting already in `style.toml`)." if new == old else "."),
        "",
        f"Realism against the {pieces} held-out pieces, {len(COMPARE_SEEDS)} seeded samples of the channel's music each:",
        "",
        "| | " + " | ".join(f"temperature {s}" + (" (before)" if s == old else "") for s in realism) + " | ceiling |",
        "| --- | " + " | ".join("---:" for _ in realism) + " | ---: |",
        *rows,
        "| **mean** | " + " | ".join(f"**{r['mean_overlap']:.3f}**" for r in realism.values())
        + f" | {realism[old]['mean_ceiling']:.3f} |",
        "",
        (f"`style.toml` now plays at {new}; `evaluation/` was taken again at it." if accepted
         else f"`style.toml` keeps {old}."),
        "",
    ]
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if RESAMPLE_HEADING in text:  # the section runs to the next heading of its level
        head, _, tail = text.partition(RESAMPLE_HEADING)
        rest = tail.split("\n## ", 1)
        text = head + ("## " + rest[1] if len(rest) > 1 else "")
    path.write_text(text.rstrip("\n") + "\n\n" + "\n".join(section), encoding="utf-8")


def write_soup(candidate: Path, sibling: Path, weight: float) -> Path:
    """``weight`` × the candidate's weights + (1 - ``weight``) × ``sibling``'s, written beside the
    candidate as ``<name>.soup.npz`` (the trained candidate stays as it is, so a rerun soups it
    afresh) with the candidate's header and a ``soup`` record. Both must be fine-tunes of one
    base: only then do their weights share coordinates. Classical's ±2-semitone fine-tune has
    the lower NLL and drifts off the key; settled on the untransposed pieces, 30% of it in the
    unaugmented fine-tune keeps the key and the realism and took the NLL 15.6% below round 1
    (styles/classical/TRAINING.md)."""
    from radio.model import load_model
    from radio.model.blend import siblings
    from radio.model.modelfile import read_model_file, write_model_file
    from trainer.export import STORAGE_DTYPE

    if not 0 < weight <= 1:
        raise SystemExit(f"--soup-weight must be in (0, 1], not {weight:g}")
    if not sibling.is_file():
        raise SystemExit(f"--soup-with {sibling}: no such model file")
    trained, other = load_model(candidate), load_model(sibling)
    if not siblings([trained, other]):
        raise SystemExit(f"--soup-with {sibling}: not a fine-tune of the base {candidate} was fine-tuned from")
    header, ours, _version = read_model_file(candidate)
    _header, theirs, _version = read_model_file(sibling)
    for key in ("format", "format_version"):
        header.pop(key, None)
    header["soup"] = {"trained": trained.version, "sibling": other.version, "sibling_path": str(sibling), "weight": weight}
    # Summed in float64 from the stored values, rounded once to the storage type.
    mixed = {name: ((1 - weight) * theirs[name].astype(np.float64) + weight * a.astype(np.float64)).astype(STORAGE_DTYPE)
             for name, a in ours.items()}
    out = candidate.with_suffix(".soup.npz")
    write_model_file(out, mixed, header)
    return out


def existing_run(config, candidate: Path):
    """A finished candidate as a TrainResult (its split rebuilt from the library, which the
    header's validation ids must match)."""
    from radio.model import load_model
    from trainer.train import TrainResult, load_data, read_start

    seen = read_start(config.init_from).seen if config.init_from and config.init_from.is_file() else frozenset()
    _styles, data = load_data(config, config.home, seen)
    header = load_model(candidate).header
    if [p["id"] for p in header["training"]["validation"]] != [p.id for p in data.val]:
        raise SystemExit(f"{candidate} was validated on another split than --seed {config.seed} gives: retrain it")
    metrics = header["metrics"]
    return TrainResult(candidate, load_model(candidate).version, metrics, metrics.get("history", {}),
                       metrics.get("train_seconds", 0.0), candidate.with_suffix(".loss.png"), data)


def compare(info: Style, old_path: Path, new_path: Path, home: Path, *, new_sampling: Sampling | None = None) -> dict:
    """Score the bundled model and the candidate on the candidate's held-out pieces: exact
    NLL per beat and the realism of seeded samples of the music as the channel plays it (pieces to
    the style's form plan), each model at its own sampling settings (the bundled one at the
    style's, ``info``, the candidate at ``new_sampling``). ``accepted`` when both improve."""
    from radio.model import load_model
    from trainer.evaluate import held_out_from_library
    from trainer.kinds import score_model
    from trainer.metrics import targets_for

    new = load_model(new_path)
    held = held_out_from_library(new, home)
    targets = targets_for(held.pieces)
    out: dict = {"pieces": len(held.pieces), "beats": targets.beats}
    for name, model in (("old", load_model(old_path) if old_path.is_file() else None), ("new", new)):
        if model is None:
            out[name] = None
            continue
        scores = score_model(model, held.pieces, targets)
        sampling = new_sampling if name == "new" and new_sampling else Sampling(info.temperature, info.top_p)
        realism = held_out_realism(model, held.pieces, info, sampling)
        same_split = [p.get("id") for p in model.header.get("training", {}).get("validation", [])] == [
            p.get("id") for p in new.header["training"]["validation"]
        ]
        out[name] = {
            "version": model.version,
            "encoding": model.encoding.name,
            "nll_full": scores.get("nll_full"),
            "nll_sounding": scores.get("nll_sounding"),
            "realism": realism,
            "same_split": same_split,
        }
    out["accepted"], out["reason"] = decide(out["old"], out["new"])
    return out


def decide(old: dict | None, new: dict) -> tuple[bool, str]:
    """A candidate replaces the bundled model only if it improves both the held-out NLL per beat
    (when the old model has one) and the mean realism overlap."""
    if old is None:
        return True, "nothing bundled yet"
    nll_better = old["nll_full"] is None or new["nll_full"] < old["nll_full"]
    real_better = new["realism"]["mean_overlap"] > old["realism"]["mean_overlap"]
    reason = (
        f"NLL per beat {_f(old['nll_full'])} -> {_f(new['nll_full'])} ({'better' if nll_better else 'not better'}), "
        f"realism {old['realism']['mean_overlap']:.3f} -> {new['realism']['mean_overlap']:.3f} "
        f"({'better' if real_better else 'not better'})"
    )
    return nll_better and real_better, reason


def write_corpus_csv(path: Path, data) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["split", "id", "sha256", "file", "composer", "title", "licence", "source", "beats"])
        for split, pieces in (("train", data.train), ("validation", data.val)):
            for p in pieces:
                writer.writerow([split, p.id, p.sha256, p.file, p.composer, p.title, p.licence, p.source, p.beats])


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def write_training_md(path: Path, style: str, command: str, run, comparison: dict, report: dict, model_path: Path) -> None:
    from radio.model import load_model

    m = run.metrics
    training = run.data
    composers: dict[str, int] = {}
    licences: dict[str, int] = {}
    for p in training.train + training.val:
        composers[p.composer or "unknown"] = composers.get(p.composer or "unknown", 0) + 1
        licences[p.licence or "unknown"] = licences.get(p.licence or "unknown", 0) + 1
    bundled = load_model(model_path)
    candidate = load_model(run.model_path)
    hp = candidate.header.get("hyperparameters", {})
    old, new = comparison["old"], comparison["new"]
    accepted = comparison["accepted"]
    s, c = report["sample"], report["corpus"]
    lines = [
        f"# {style}: how the bundled model was trained",
        "",
        f"`model.npz` here is a `{bundled.encoding.name}`-encoding LSTM (version `{bundled.version}`, "
        f"{model_path.stat().st_size / 1e6:.2f} MB, float16 weights).",
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
        "## The candidate: a token model" + (", fine-tuned from the base" if candidate.header.get("fine_tuned_from") else ""),
        f"Each beat is a position token, then its notes from the top down as `(pitch, struck|held)` tokens "
        f"(radio/music/tokens.py): a {hp.get('embedding', '?')}-d embedding, {hp.get('layers', '?')} × LSTM-{hp.get('hidden', '?')}, "
        f"dropout {hp.get('dropout', '?')}, {hp.get('window', '?')}-token windows, augmentation ±{hp.get('augment', 0)} semitones.",
        (f"- Command: `{candidate.header['command']}`." if candidate.header.get("command") else "- Command: not recorded in the candidate's header."),
        f"- Training: {m['epochs_run']} epochs in {m['train_seconds'] / 60:.1f} min (best epoch {m['best_epoch']}, stopped by {m['stopped_by']}), "
        f"{m['train_timesteps_per_epoch']} tokens per epoch."
        + _start_sentence(candidate.header),
        f"- Held-out loss: {_f((m.get('history') or {}).get('val_loss', [None])[-1])} nats per token (Keras, every token) at the end; "
        f"{_f(new['nll_full'])} nats per beat exact (grammar-restricted, as the sampler draws).",
        *([f"- Then averaged in weight space (`--soup-with`): the candidate judged below is {soup['weight']:g} × this trained model "
           f"(`{soup['trained']}`) + {1 - soup['weight']:g} × `{soup['sibling']}` (`{soup['sibling_path']}`), a fine-tune of the same "
           "base; the exact NLL per beat above is the average's."] if (soup := comparison.get("soup")) else []),
        "",
        f"## Before and after, on the same {comparison['pieces']} held-out pieces ({comparison['beats']} beats)",
        "NLL: nats per beat of the beat's notes with struck/held (lower is better; the `continuo` model's `nll_full` "
        "and the token model's sum over the beat's tokens measure the same thing). Realism: overlapped area of "
        f"feature histograms between {len(COMPARE_SEEDS)} seeded samples of 10 minutes each (or the held-out length, if shorter; "
        "the figures are their mean) of the music as the channel plays it (whole pieces to the style's form plan, each "
        "from a fresh sampler) and the held-out "
        "pieces, 1 = identical (higher is better); the ceiling is held-out music against other held-out music.",
        "",
        "| | before | after | ceiling |",
        "| --- | ---: | ---: | ---: |",
        f"| model | `{old['encoding']}` `{old['version']}` | `{new['encoding']}` `{new['version']}` | |" if old else "| model | none | | |",
        f"| NLL per beat (with struck/held) | {_f(old and old['nll_full'])} | {_f(new['nll_full'])} | |",
    ]
    features = new["realism"]["features"]
    for name, fig in features.items():
        before = old["realism"]["features"][name]["overlap"] if old else None
        lines.append(f"| realism: {name.replace('_', ' ')} | {_f(before)} | {fig['overlap']:.3f} | {fig['ceiling_overlap']:.3f} |")
    lines += [
        f"| **realism: mean** | **{_f(old and old['realism']['mean_overlap'])}** | **{new['realism']['mean_overlap']:.3f}** | {new['realism']['mean_ceiling']:.3f} |",
        "",
        ("**The token model replaced the bundled model**: " if accepted else "**The bundled model was kept**: ") + comparison["reason"] + ".",
        *_sampling_lines(comparison.get("sampling"), accepted),
    ]
    if old and not old["same_split"]:
        lines.append("(The model before was trained on another split: some of these held-out pieces may have been in its training data, which flatters it.)")
    lines += [
        "",
        f"## The bundled model's 2-minute sample (temperature {s['temperature']}, {s['bpm']:g} bpm) against the held-out corpus",
        "",
        "| | sample | corpus |",
        "| --- | ---: | ---: |",
        f"| struck notes in C major / A minor scale | {s['in_scale']:.3f} | {c['in_scale']:.3f} |",
        f"| mean polyphony (sounding beats) | {s['polyphony']:.2f} | {c['polyphony']:.2f} |",
        f"| mean / median note length (16ths) | {s['note_length']['mean']:.2f} / {s['note_length']['median']:g} | {c['note_length']['mean']:.2f} / {c['note_length']['median']:g} |",
        f"| pitch range | {s['pitch_range']} | {c['pitch_range']} |",
        f"| distinct 2-bar patterns / total | {s['repetitiveness']['distinct_fraction']:.3f} | {c['repetitiveness']['distinct_fraction']:.3f} |",
        "",
        "Plots: `evaluation/piano_roll_vs_real.png` (generated above, real below), `evaluation/sample_piano_roll.png`, "
        "`evaluation/realism.png`, `evaluation/loss_curve.png`; all figures: `evaluation/report.json`.",
        "",
        f"Trained on {os.cpu_count()} CPU cores shared with other work; TensorFlow {_tf_version()}.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _sampling_lines(sampling: dict | None, accepted: bool) -> list[str]:
    if not sampling:
        return []
    return [
        "",
        f"Sampling: the candidate plays at temperature {sampling['new']} (the bundled model at {sampling['old']}), "
        f"the setting whose music came closest to the training pieces on the realism features "
        f"({choice_text(sampling['tried'], sampling.get('final', {}))}); "
        + ("`style.toml` now says so." if accepted else "`style.toml` keeps the old one with the old model."),
    ]


def _start_sentence(header: dict) -> str:
    tuned = header.get("fine_tuned_from")
    if tuned:
        return (f" It is a fine-tune of the base model `{tuned['version']}` (`styles/base/model.npz`, trained on every style; "
                "this style's held-out pieces were held out of the base too) at a learning rate of "
                f"{header.get('hyperparameters', {}).get('learning_rate', '?'):g}.")
    if header.get("continued_from"):
        return f" It continued model `{header['continued_from']}` (an earlier sitting of the same run, same split)."
    return " Trained from scratch."


def _log_epoch(event: dict) -> None:
    """The trainer's progress events as log lines (make train runs for an hour: say where it is)."""
    if event.get("event") == "epoch":
        log.info("epoch %d: loss %s, validation loss %s, %.0f s", event["epoch"], _f(event.get("loss")),
                 _f(event.get("val_loss")), event.get("elapsed_s", 0.0))


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
    # The base learns from every style of the corpus, whichever styles are rebuilt.
    import_corpus(args.corpus, corpus_styles(args.corpus), args.home)
    if args.sampling_only:
        return resample_styles(styles, args, command)
    base = bundle_base(args, command)
    if base:
        print(f"base: held-out NLL per beat {base['nll_full']:.3f} ({base['reason']})")
    if args.base_only:
        return 0
    results = []
    for style in styles:
        started = time.monotonic()
        results.append(bundle_style(style, args, command))
        log.info("%s: done in %.1f min", style, (time.monotonic() - started) / 60)
    print(f"{'style':<12} {'NLL/beat old':>12} {'new':>7} {'realism old':>12} {'new':>7} {'ceiling':>8}  decision")
    for r in results:
        c = r["comparison"]
        old, new = c["old"] or {}, c["new"]
        print(
            f"{r['style']:<12} {_f(old.get('nll_full')):>12} {_f(new['nll_full']):>7} "
            f"{_f((old.get('realism') or {}).get('mean_overlap')):>12} {new['realism']['mean_overlap']:7.3f} "
            f"{new['realism']['mean_ceiling']:8.3f}  {'replaced' if c['accepted'] else 'kept the old model'}"
        )
    recalibrate(styles, args)
    return 0


def resample_styles(styles: list[str], args: argparse.Namespace, command: str) -> int:
    results = [resample_style(style, args, command) for style in styles]
    print(f"{'style':<12} {'sampling old':>14} {'new':>16} {'realism old':>12} {'new':>7} {'ceiling':>8}  decision")
    for r in results:
        print(f"{r['style']:<12} {str(r['old']):>14} {str(r['new']):>16} {r['realism'][str(r['old'])]:12.3f} "
              f"{r['realism'].get(str(r['new']), r['realism'][str(r['old'])]):7.3f} {r['ceiling']:8.3f}  "
              f"{'changed' if r['accepted'] else 'kept'}")
    recalibrate([r["style"] for r in results if r["accepted"]], args)
    return 0


def recalibrate(styles: list[str], args: argparse.Namespace) -> None:
    """New music plays at a new level: measure each style's loudness gain again from it."""
    from radio.commands.calibrate import main as calibrate

    if styles:
        calibrate(["--styles", ",".join(styles), *(["--root", str(args.styles_dir)] if args.styles_dir else [])])


if __name__ == "__main__":
    sys.exit(main())

"""Evaluate a style model: held-out NLL against the seed and unigram baselines, a 2-minute
sample compared with the corpus, and PNGs (piano roll of the sample, loss curve).

Runs on the exported model file in numpy (no TensorFlow), so it measures what the radio plays.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from radio.config import continuo_home
from radio.errors import ContinuoError, MidiError, ModelFileError, StyleError
from radio.model import StyleModel, load_model
from radio.music.notes import ListOfNotes, beats_for_seconds
from radio.styles import Style, check_style_name, get_style
from trainer.metrics import (
    Targets,
    Unigram,
    corpus_stats,
    music_stats,
    out_of_range_fraction,
    predict_logits,
    score,
    sound_probs,
    struck_probs,
    targets_for,
)

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 120.0
MEASURE = (
    "Bernoulli NLL in nats per beat of the pitches 21..108 sounding on the next beat (summed over pitches); "
    "frame accuracy = TP/(TP+FP+FN) of notes predicted at p>0.5; nll_full adds struck-vs-held for continuing pitches"
)


@dataclass
class HeldOut:
    pieces: list[ListOfNotes]
    source: str
    skipped: list[tuple[str, str]]


def held_out_from_library(model: StyleModel, home: Path) -> HeldOut:
    """The model's own validation pieces (ids in its header), read from the library."""
    from radio.library import open_library
    from radio.library.ingest import load_notes

    ids = [p["id"] for p in model.header.get("training", {}).get("validation", [])]
    if not ids:
        raise ContinuoError(f"{model.path} records no validation pieces: evaluate it on a folder with --pieces DIR")
    library = open_library(home)
    try:
        pieces, skipped = [], []
        for piece_id in ids:
            record = library.catalog.get_piece(piece_id)
            if record is None:
                skipped.append((piece_id, "not in the library"))
                continue
            pieces.append(load_notes(library, record).notes)
    finally:
        library.close()
    if not pieces:
        raise ContinuoError(
            f"none of the {len(ids)} validation pieces of {model.path} is in the library at {home}: "
            "import the corpus it was trained on, or pass --pieces DIR (`make train` keeps its library in var/bundle: "
            "--home var/bundle)"
        )
    return HeldOut(pieces, f"validation split ({len(pieces)} of {len(ids)} pieces in the library)", skipped)


def held_out_from_folder(folder: Path) -> HeldOut:
    from radio.music.prepare import prepare_piece

    if not folder.is_dir():
        raise ContinuoError(f"--pieces {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    pieces, skipped = [], []
    for path in files:
        try:
            pieces.append(prepare_piece(path).notes)
        except MidiError as exc:
            skipped.append((str(path), str(exc)))
    if not pieces:
        raise ContinuoError(f"no readable MIDI files under {folder}" + (f" ({len(skipped)} rejected)" if skipped else ""))
    return HeldOut(pieces, str(folder), skipped)


def model_scores(model: StyleModel, pieces: list[ListOfNotes], targets: Targets) -> dict[str, float]:
    logits = predict_logits(model, pieces)
    return score(sound_probs(model, logits), targets, struck_probs(model, logits))


def find_seed_model(style: str, home: Path, explicit: Path | None) -> StyleModel | None:
    if explicit is not None:
        return load_model(explicit)
    candidate = home / "models" / style / "seed.npz"
    if candidate.is_file():
        try:
            return load_model(candidate)
        except ModelFileError as exc:
            log.warning("ignoring the seed model at %s: %s", candidate, exc)
    return None


def resolve_style(name: str) -> Style | None:
    check_style_name(name)
    try:
        return get_style(name)
    except StyleError:
        return None


def evaluate(
    style: str,
    *,
    model_path: Path | None = None,
    pieces_dir: Path | None = None,
    home: Path | None = None,
    seed_model_path: Path | None = None,
    out_dir: Path | None = None,
    sample_seed: int = 0,
) -> dict:
    """Compute the report, write its PNGs and report.json under ``out_dir``; return the report."""
    from trainer.plots import loss_curve, piano_roll

    home = Path(home) if home else continuo_home()
    style_info = resolve_style(style)
    if model_path is None:
        # `continuo train` then `continuo evaluate` should measure what was just trained.
        trained = home / "models" / style / "continuo.npz"
        if trained.is_file():
            model_path = trained
        elif style_info is None:
            raise StyleError(f"unknown style {style!r} and no --model given")
        else:
            model_path = style_info.model_path
    model = load_model(model_path)
    held = held_out_from_folder(pieces_dir) if pieces_dir else held_out_from_library(model, home)
    targets = targets_for(held.pieces)

    ours = model_scores(model, held.pieces, targets)
    seed_model = find_seed_model(style, home, seed_model_path)
    recorded = model.header.get("metrics", {}).get("seed")
    if seed_model is not None:
        seed = model_scores(seed_model, held.pieces, targets)
        seed_source = str(seed_model.path)
    elif recorded and pieces_dir is None:
        seed, seed_source = recorded, "recorded at training time on this validation split"
    else:
        seed, seed_source = None, "no seed model (train one with `continuo train --model seed`)"
    baseline = model.header.get("baseline", {}).get("unigram")
    unigram = Unigram.from_dict(baseline).score(targets) if baseline else None

    bpm = style_info.tempo_bpm if style_info else 96.0
    temperature = style_info.temperature if style_info else 1.0
    sample = model.sampler(temperature=temperature, seed=sample_seed).next_beats(beats_for_seconds(SAMPLE_SECONDS, bpm))
    sample_stats = music_stats(sample)

    out_dir = Path(out_dir) if out_dir else home / "reports" / style
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = {"piano_roll": str(piano_roll(sample, out_dir / "sample_piano_roll.png", f"{style}: 2-minute sample ({model.encoding.name} model {model.version})", bpm))}
    history = model.header.get("metrics", {}).get("history")
    if history:
        plots["loss_curve"] = str(loss_curve(history, out_dir / "loss_curve.png", f"{style}: training loss"))

    def pick(key: str, scores: dict | None) -> float | None:
        return None if scores is None else scores.get(key)

    report = {
        "style": style,
        "model_path": str(model_path),
        "model_version": model.version,
        "encoding": model.encoding.name,
        "held_out": held.source,
        "pieces": len(held.pieces),
        "beats": targets.beats,
        "skipped": [{"piece": p, "reason": r} for p, r in held.skipped],
        "measure": MEASURE,
        "nll_per_beat": {"model": ours["nll_sounding"], "seed": pick("nll_sounding", seed), "unigram": pick("nll_sounding", unigram)},
        "nll_full_per_beat": {"model": ours.get("nll_full"), "unigram": pick("nll_full", unigram)},
        "frame_accuracy": {"model": ours["frame_accuracy"], "seed": pick("frame_accuracy", seed), "unigram": pick("frame_accuracy", unigram)},
        "seed_source": seed_source,
        "out_of_range_notes": out_of_range_fraction(held.pieces),
        "in_scale": sample_stats["in_scale"],
        "polyphony": sample_stats["polyphony"],
        "sample": {"seconds": SAMPLE_SECONDS, "bpm": bpm, "temperature": temperature, "seed": sample_seed, **sample_stats},
        "corpus": corpus_stats(held.pieces),
        "plots": plots,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def format_report(report: dict) -> str:
    def f(x) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    nll, acc, s, c = report["nll_per_beat"], report["frame_accuracy"], report["sample"], report["corpus"]
    lines = [
        f"style {report['style']}: {report['encoding']} model {report['model_version']} ({report['model_path']})",
        f"held out: {report['pieces']} pieces, {report['beats']} beats ({report['held_out']})",
        f"NLL per beat (sounding notes): model {f(nll['model'])}  seed {f(nll['seed'])}  unigram {f(nll['unigram'])}",
        f"full NLL per beat (with struck/held): model {f(report['nll_full_per_beat']['model'])}  unigram {f(report['nll_full_per_beat']['unigram'])}",
        f"frame accuracy: model {f(acc['model'])}  seed {f(acc['seed'])}  unigram {f(acc['unigram'])}",
        f"                         sample    corpus",
        f"in scale               {s['in_scale']:8.3f}  {c['in_scale']:8.3f}",
        f"polyphony              {s['polyphony']:8.3f}  {c['polyphony']:8.3f}",
        f"mean note length       {s['note_length']['mean']:8.2f}  {c['note_length']['mean']:8.2f}",
        f"pitch range            {str(s['pitch_range']):>8}  {str(c['pitch_range']):>8}",
        f"distinct 2-bar share   {s['repetitiveness']['distinct_fraction']:8.3f}  {c['repetitiveness']['distinct_fraction']:8.3f}",
        "plots: " + ", ".join(report["plots"].values()),
    ]
    return "\n".join(lines)

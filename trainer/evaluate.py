"""Evaluate a style model: held-out NLL against the seed and unigram baselines, how close its
music comes to the held-out pieces (trainer/realism.py: feature overlaps beside their real-vs-real
ceiling; trainer/discriminator.py: how well a classifier tells its 2-bar windows from real ones, beside
real from real), sample statistics, and PNGs (piano rolls of the sample and of a real piece, feature
histograms, loss curve).

Runs on the exported model file in numpy (no TensorFlow), so it measures what the radio plays.
One seeded stream of samples serves every figure: its first 2 minutes for the sample statistics
and the piano roll, its first ``min(held-out beats, 10 minutes)`` for the realism measure. The
stream is the music as the station plays it: whole pieces to the style's form plan (radio/music/
form.py), one after another, so the form measures are taken within the pieces listeners hear.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radio.config import continuo_home
from radio.errors import ContinuoError, MidiError, ModelFileError, StyleError
from radio.model import StyleModel, load_model
from radio.model.kinds import KINDS
from radio.music.form import FormPlan
from radio.music.notes import ListOfNotes, beats_for_seconds
from radio.station.composer import planned_music
from radio.styles import Style, check_style_name, get_style
from trainer.discriminator import discriminator_report, format_discriminator_line
from trainer.form import BAR, form_report, format_form_lines, span_bars_for
from trainer.metrics import (
    Targets,
    Unigram,
    corpus_stats,
    music_stats,
    out_of_range_fraction,
    targets_for,
)
from trainer.kinds import score_model
from trainer.realism import format_realism_table, realism_report

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 120.0
REALISM_SECONDS = 600.0  # the most music sampled for the realism measure (less if the held-out set is shorter)
EXCERPT_BEATS = 256  # 16 bars of 4/4 in the side-by-side piano roll: enough to see voices move
MEASURE = (
    "Bernoulli NLL in nats per beat of the pitches 21..108 sounding on the next beat (summed over pitches); "
    "frame accuracy = TP/(TP+FP+FN) of notes predicted at p>0.5; nll_full adds struck-vs-held for continuing pitches. "
    "A token model has only nll_full: the exact NLL of each beat's notes with struck/held, the sum over its tokens"
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
    """A frame model's per-pitch figures, or a token model's exact full NLL (it has no
    per-pitch marginals, so no sounding-only NLL or frame accuracy)."""
    return score_model(model, pieces, targets)


def realism_sample_beats(pieces: list[ListOfNotes], bpm: float, seconds: float = REALISM_SECONDS) -> int:
    """As many beats as the held-out pieces hold, but no more than ``seconds`` of music."""
    if seconds <= 0:
        raise ContinuoError(f"the realism sample must last more than 0 seconds, got {seconds:g}")
    return max(1, min(sum(len(p) for p in pieces), beats_for_seconds(seconds, bpm)))


def station_stream(model: StyleModel, plan: FormPlan, beats: int, *, temperature: float, seed: int,
                   top_p: float = 1.0) -> ListOfNotes:
    """At least ``beats`` beats of ``model``'s music as a channel plays it: whole pieces to the
    style's form plan, each from a fresh sampler (one stream where there is no plan), joined.
    Every realism figure that decides something is taken on this music, not on one endless
    stream: a sharp model keeps one tune's rhythm for as long as a stream lasts (folk's fine-tune
    played 3% sixteenths over 10 minutes, the pieces have 27%), which a listener never hears."""
    return [beat for piece in planned_music(model, plan, beats=beats, temperature=temperature, seed=seed, top_p=top_p)
            for beat in piece]


def realism_for(
    model: StyleModel,
    pieces: list[ListOfNotes],
    *,
    bpm: float,
    temperature: float,
    seed: int = 0,
    seconds: float = REALISM_SECONDS,
    sample: ListOfNotes | None = None,
    top_p: float = 1.0,
    plan: FormPlan | None = None,
) -> tuple[dict, ListOfNotes]:
    """The realism report of ``model``'s music against ``pieces``, and the music it scored.

    Samples ``realism_sample_beats`` beats of the channel's music (:func:`station_stream`: pieces
    to ``plan``; one seeded stream without one) unless ``sample`` (a longer stream of the same
    music) is given, in which case its opening is scored.
    """
    beats = realism_sample_beats(pieces, bpm, seconds)
    if sample is None:
        sample = station_stream(model, plan or FormPlan(), beats, temperature=temperature, seed=seed, top_p=top_p)
    generated = sample[:beats]
    report = realism_report([generated], pieces)
    report["sample"] = {"beats": len(generated), "seconds": round(len(generated) * 60.0 / (bpm * 4), 1), "bpm": bpm,
                        "temperature": temperature, "top_p": top_p, "seed": seed}
    return report, generated


def real_excerpt(pieces: list[ListOfNotes], beats: int, seed: int = 0) -> tuple[int, ListOfNotes]:
    """The opening of a held-out piece for the side-by-side roll: a random one long enough, else the longest."""
    long_enough = [i for i, p in enumerate(pieces) if len(p) >= beats]
    if long_enough:
        index = long_enough[int(np.random.default_rng(seed).integers(len(long_enough)))]
    else:
        index = max(range(len(pieces)), key=lambda i: len(pieces[i]))
    return index, pieces[index][:beats]


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


def resolve_style(name: str, root: Path | None = None) -> Style | None:
    check_style_name(name)
    try:
        return get_style(name, root)
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
    realism_seconds: float = REALISM_SECONDS,
    base_path: Path | None = None,
    held_out_of: Path | None = None,
    styles_root: Path | None = None,
) -> dict:
    """Compute the report, write its PNGs and report.json under ``out_dir``; return the report.
    Every figure is also given for the bundled base (``base_path``, default styles/base/model.npz)
    on the same held-out pieces: what the style's own training added to it."""
    from trainer.plots import loss_curve, piano_roll, piano_roll_pair, realism_histograms

    if not realism_seconds > 0:  # checked before the slow part, so a typo costs nothing
        raise ContinuoError(f"the realism sample must last more than 0 seconds, got {realism_seconds:g}")
    home = Path(home) if home else continuo_home()
    style_info = resolve_style(style, styles_root)
    if model_path is None:
        # `continuo train` then `continuo evaluate` should measure what was just trained.
        trained = [home / "models" / style / f"{name}.npz" for name, kind in KINDS.items() if not kind.baseline]
        newest = max((p for p in trained if p.is_file()), key=lambda p: p.stat().st_mtime, default=None)
        if newest is not None:
            model_path = newest
        elif style_info is None:
            raise StyleError(f"unknown style {style!r} and no --model given")
        else:
            model_path = style_info.model_path
    model = load_model(model_path)
    # held_out_of: another model's held-out pieces (make train scores a kept model on the candidate's).
    held = (held_out_from_folder(pieces_dir) if pieces_dir else
            held_out_from_library(load_model(held_out_of) if held_out_of else model, home))
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
    stats_beats = beats_for_seconds(SAMPLE_SECONDS, bpm)
    # The music as the station plays it: pieces to the style's form plan (one stream without one).
    plan = style_info.form if style_info else FormPlan()
    top_p = style_info.top_p if style_info else 1.0
    span_bars = span_bars_for(held.pieces)
    pieces = planned_music(model, plan, temperature=temperature, seed=sample_seed, top_p=top_p, beats=max(
        stats_beats, realism_sample_beats(held.pieces, bpm, realism_seconds), EXCERPT_BEATS, span_bars * BAR))
    stream = [beat for piece in pieces for beat in piece]  # station_stream, keeping the pieces for form_report
    sample = stream[:stats_beats]
    sample_stats = music_stats(sample)
    try:
        realism, _ = realism_for(model, held.pieces, bpm=bpm, temperature=temperature, seed=sample_seed,
                                 seconds=realism_seconds, sample=stream)
    except ValueError as exc:  # held-out pieces without a note: the NLL figures still stand
        realism = {"error": str(exc)}
    # The very music the realism measure scored (realism_for takes the same opening of the stream).
    discriminator = discriminator_report([stream[: realism_sample_beats(held.pieces, bpm, realism_seconds)]],
                                         held.pieces, seed=sample_seed)
    # Form is judged within spans as long as a typical held-out piece, within the pieces played.
    form = form_report(pieces, held.pieces, span_bars)

    against_base = base_figures(model, held, bpm=bpm, temperature=temperature, seed=sample_seed,
                                seconds=realism_seconds, base_path=base_path, plan=plan)

    out_dir = Path(out_dir) if out_dir else home / "reports" / style
    out_dir.mkdir(parents=True, exist_ok=True)
    model_name = f"{model.encoding.name} model {model.version}"
    plots = {"piano_roll": str(piano_roll(sample, out_dir / "sample_piano_roll.png", f"{style}: 2-minute sample ({model_name})", bpm))}
    index, excerpt = real_excerpt(held.pieces, EXCERPT_BEATS, sample_seed)
    plots["piano_roll_vs_real"] = str(piano_roll_pair(
        stream[: len(excerpt) or EXCERPT_BEATS],
        excerpt,
        out_dir / "piano_roll_vs_real.png",
        (f"{style}: generated, the opening of a sample ({model_name})", f"real: the opening of held-out piece {index + 1} of {len(held.pieces)}"),
        bpm,
    ))
    if "features" in realism:
        plots["realism"] = str(realism_histograms(realism, out_dir / "realism.png", f"{style}: generated vs held-out"))
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
        "nll_per_beat": {"model": ours.get("nll_sounding"), "seed": pick("nll_sounding", seed), "unigram": pick("nll_sounding", unigram)},
        "nll_full_per_beat": {"model": ours.get("nll_full"), "unigram": pick("nll_full", unigram)},
        "nll_per_token": ours.get("nll_per_token"),
        "frame_accuracy": {"model": ours.get("frame_accuracy"), "seed": pick("frame_accuracy", seed), "unigram": pick("frame_accuracy", unigram)},
        "seed_source": seed_source,
        "out_of_range_notes": out_of_range_fraction(held.pieces),
        "in_scale": sample_stats["in_scale"],
        "polyphony": sample_stats["polyphony"],
        "sample": {"seconds": SAMPLE_SECONDS, "bpm": bpm, "temperature": temperature, "seed": sample_seed, **sample_stats},
        "realism": realism,
        "discriminator": discriminator,
        "form": form,
        "base": against_base,
        "corpus": corpus_stats(held.pieces),
        "plots": plots,
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def base_figures(model: StyleModel, held: HeldOut, *, bpm: float, temperature: float, seed: int, seconds: float,
                 base_path: Path | None, plan: FormPlan | None = None) -> dict | None:
    """The base model's NLL, realism and discriminator figures on the same held-out pieces, or
    None when there is no base or the model is the base. A base that trained on any of these
    pieces is scored all the same, and the report says so."""
    from radio.model.lineage import base_model_path

    path = Path(base_path) if base_path else base_model_path()
    if not path.is_file():
        return None
    base = load_model(path)
    if base.version == model.version or not base.kind.fine_tunes_from_base:
        return None
    scores = model_scores(base, held.pieces, targets_for(held.pieces))
    beats = realism_sample_beats(held.pieces, bpm, seconds)
    stream = station_stream(base, plan or FormPlan(), beats, temperature=temperature, seed=seed)[:beats]
    try:
        realism, _ = realism_for(base, held.pieces, bpm=bpm, temperature=temperature, seed=seed, seconds=seconds, sample=stream)
    except ValueError as exc:
        realism = {"error": str(exc)}
    return {
        "model_path": str(path),
        "version": base.version,
        "nll_full": scores.get("nll_full"),
        "realism": {k: realism.get(k) for k in ("mean_overlap", "mean_ceiling", "of_ceiling", "error") if k in realism},
        "discriminator": discriminator_report([stream], held.pieces, seed=seed),
    }


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
        "",
        *format_realism_lines(report.get("realism")),
        *([format_discriminator_line(report["discriminator"]), ""] if report.get("discriminator") else []),
        *format_form_lines(report.get("form")),
        *format_base_lines(report),
        "plots: " + ", ".join(report["plots"].values()),
    ]
    return "\n".join(lines)


def format_base_lines(report: dict) -> list[str]:
    base = report.get("base")
    if not base:
        return []

    def f(x) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    mine, theirs = report.get("discriminator") or {}, base.get("discriminator") or {}
    realism = report.get("realism") or {}
    return [
        f"against the bundled base {base['version']} on the same held-out pieces:",
        f"  full NLL per beat     model {f(report['nll_full_per_beat']['model'])}  base {f(base['nll_full'])}",
        f"  realism (mean overlap) model {f(realism.get('mean_overlap'))}  base {f(base['realism'].get('mean_overlap'))}",
        f"  discriminator gap     model {f(mine.get('gap'))}  base {f(theirs.get('gap'))}",
        "",
    ]


def format_realism_lines(realism: dict | None) -> list[str]:
    if not realism:
        return []
    if "error" in realism:
        return [f"realism: not measured ({realism['error']})", ""]
    sample, ceiling = realism["sample"], realism["ceiling"]
    return [
        f"realism: a {sample['seconds']:g}-second sample ({sample['beats']} beats, seed {sample['seed']}) against the held-out pieces; "
        f"overlapped area of feature histograms (1 = identical) and KL (0 = identical)",
        f"ceiling: held-out against held-out, {ceiling['splits']} splits into halves of {ceiling['beats_per_half']} beats ({ceiling['basis']})",
        format_realism_table(realism),
        f"mean overlap {realism['mean_overlap']:.3f} = {realism['of_ceiling']:.0%} of the ceiling",
        "",
    ]

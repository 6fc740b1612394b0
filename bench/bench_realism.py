"""Realism of every bundled style model: its music against its own held-out pieces, with the ceiling.

For each folder in ``styles/``: the validation pieces listed in its ``corpus.csv`` are read from
``../shared/corpus`` (or ``$CONTINUO_CORPUS``) and prepared as the trainer prepares them; the
bundled model samples, seeded, as much music as they hold but at most 10 minutes, at the style's
tempo and temperature; ``trainer.realism`` scores it feature by feature, beside the same figure
between two halves of the held-out pieces (``continuo evaluate`` prints the same table).
Skips with a message when the corpus is not there.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from bench.run_all import machine
from radio.config import REPO_ROOT
from radio.music.notes import ListOfNotes

if TYPE_CHECKING:
    from radio.styles import Style

SEED = 0


def corpus_root() -> Path:
    return Path(os.environ.get("CONTINUO_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))


def held_out_pieces(style_folder: Path, corpus_styles: tuple[str, ...], corpus: Path) -> tuple[list[ListOfNotes], list[str]]:
    """The validation pieces of ``corpus.csv``, prepared; and what could not be read, with why."""
    from radio.errors import MidiError
    from radio.music.prepare import prepare_piece

    pieces: list[ListOfNotes] = []
    problems: list[str] = []
    with open(style_folder / "corpus.csv", newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["split"] == "validation"]
    for row in rows:
        path = next((corpus / s / row["file"] for s in corpus_styles if (corpus / s / row["file"]).is_file()), None)
        if path is None:
            problems.append(f"{row['file']}: not in {corpus}/{{{','.join(corpus_styles)}}}")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            problems.append(f"{path}: not the file the model was trained on (sha256 differs)")
            continue
        try:
            pieces.append(prepare_piece(data).notes)
        except MidiError as exc:
            problems.append(f"{path}: {exc}")
    return pieces, problems


def bundled_held_out() -> Iterator[tuple[str, "Style", list[ListOfNotes]]]:
    """Each bundled style with its readable held-out pieces, saying what it skips and why (the
    machine line first). Nothing when the corpus is missing."""
    from radio.styles import discover_styles

    corpus = corpus_root()
    print(f"machine: {machine()}")
    if not (corpus / "MANIFEST.csv").is_file():
        print(f"skipped: no corpus at {corpus} (set CONTINUO_CORPUS, or lay ../shared/corpus beside the clone)")
        return
    for name, style in discover_styles(REPO_ROOT / "styles").items():
        if not (style.folder / "corpus.csv").is_file():
            print(f"\n{name}: no corpus.csv, skipped")
            continue
        pieces, problems = held_out_pieces(style.folder, style.corpus_styles, corpus)
        for problem in problems:
            print(f"  {name}: skipped {problem}")
        if not pieces:
            print(f"\n{name}: none of its held-out pieces could be read, skipped")
            continue
        yield name, style, pieces


def main() -> None:
    from radio.model import load_model
    from trainer.evaluate import REALISM_SECONDS, realism_for
    from trainer.realism import FEATURE_NAMES, format_realism_table

    summary = []
    for name, style, pieces in bundled_held_out():
        model = load_model(style.model_path)
        start = time.perf_counter()
        # The channel's music: pieces to the style's form plan at its sampling settings.
        report, sample = realism_for(model, pieces, bpm=style.tempo_bpm, temperature=style.temperature, seed=SEED,
                                     seconds=REALISM_SECONDS, top_p=style.top_p, plan=style.form)
        took = time.perf_counter() - start
        ceiling = report["ceiling"]
        print(f"\n{name}: {model.encoding.name} model {model.version}, {len(pieces)} held-out pieces "
              f"({report['real_beats']} beats); a {report['sample']['seconds']:g}-second sample ({len(sample)} beats, "
              f"T={style.temperature:g}, top_p {style.top_p:g}, seed {SEED}, pieces to the form plan); ceiling over {ceiling['splits']} splits into halves of "
              f"{ceiling['beats_per_half']} beats; {took:.1f} s")
        print(format_realism_table(report))
        summary.append((name, report))
    if summary:
        print("\noverlap (ceiling) per feature, every style:")
        print("| style | " + " | ".join(FEATURE_NAMES) + " | mean | of ceiling |")
        print("| --- |" + " ---: |" * (len(FEATURE_NAMES) + 2))
        for name, r in summary:
            cells = [f"{r['features'][f]['overlap']:.2f} ({r['features'][f]['ceiling_overlap']:.2f})" for f in FEATURE_NAMES]
            print(f"| {name} | " + " | ".join(cells) + f" | {r['mean_overlap']:.3f} ({r['mean_ceiling']:.3f}) | {r['of_ceiling']:.0%} |")


if __name__ == "__main__":
    main()

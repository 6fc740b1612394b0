"""``continuo import PATH|music21:<collection> [--style NAME]``: fill the library."""

from __future__ import annotations

import argparse
from pathlib import Path

from radio.errors import ContinuoError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        help="a MIDI file, a folder of MIDI files, a folder of style folders (style = folder name), "
        "or music21:<collection> (e.g. music21:bach) from the music21 package's corpus",
    )
    parser.add_argument("--style", help="style of every piece (required unless PATH is a folder of style folders)")
    parser.add_argument("--home", type=Path, help="library location (default: $CONTINUO_HOME or ./var)")
    parser.add_argument("--composer", default="", help="composer of every piece (overrides the manifest)")
    parser.add_argument("--licence", "--license", dest="licence", default="", help="licence of every piece")
    parser.add_argument("--limit", type=int, help="import at most N pieces")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from radio.library import open_library
    from radio.library.importer import plan_import, run_import
    from radio.library.music21_source import is_music21_ref, music21_items

    if args.limit is not None and args.limit < 1:
        raise ContinuoError(f"--limit {args.limit}: give a positive number of pieces")
    if is_music21_ref(args.path):
        if not args.style:
            raise ContinuoError(f"{args.path}: give the style of its pieces with --style NAME")
        items = music21_items(args.path, args.style, limit=args.limit, composer=args.composer, licence=args.licence)
        total = args.limit
    else:
        planned = plan_import(Path(args.path), args.style, composer=args.composer, licence=args.licence)
        items = planned[: args.limit] if args.limit else planned
        total = len(items)
    library = open_library(args.home)
    try:
        report = run_import(library, items, total=total, progress=not args.no_progress)
    finally:
        library.close()
    for style, beats in sorted(report.beats_added.items()):
        print(f"  {style}: +{beats} beats")
    print(f"import {args.path} into {library.home}: {report.summary()}")
    return 0 if report.ok else 1

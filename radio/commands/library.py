"""``continuo library stats|list``: what the library holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = sub.add_parser("stats", help="pieces per style, total beats, keys, composers")
    listing = sub.add_parser("list", help="the pieces of the library (optionally of one style)")
    listing.add_argument("--style", help="only this style")
    for p in (stats, listing):
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.add_argument("--home", type=Path, help="library location (default: $CONTINUO_HOME or ./var)")


def run(args: argparse.Namespace) -> int:
    from radio.library import open_library

    library = open_library(args.home)
    try:
        if args.action == "stats":
            _stats(library.catalog.stats(), args.json)
        else:
            _list(library.catalog.list_pieces(style=args.style), args.json)
    finally:
        library.close()
    return 0


def _stats(stats: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(stats, indent=2, sort_keys=True))
        return
    styles = stats["styles"]
    print(f"{'style':<14}{'pieces':>8}{'beats':>10}{'composers':>11}  keys (most common)")
    for name, s in styles.items():
        keys = ", ".join(f"{k} {n}" for k, n in list(s["keys"].items())[:4])
        print(f"{name:<14}{s['pieces']:>8}{s['beats']:>10}{s['composers']:>11}  {keys}")
    total_pieces = sum(s["pieces"] for s in styles.values())
    total_beats = sum(s["beats"] for s in styles.values())
    print(f"{'total':<14}{total_pieces:>8}{total_beats:>10}")
    if stats["records"]:
        print("metadata-only records: " + ", ".join(f"{k} {n}" for k, n in stats["records"].items()))


def _list(pieces: list, as_json: bool) -> None:
    if as_json:
        print(json.dumps([p.to_dict() for p in pieces], indent=2))
        return
    for p in pieces:
        print(f"{p.id}  {p.style:<12} {p.beats:>6} beats  {p.original_key:<10} {p.composer} — {p.title}")

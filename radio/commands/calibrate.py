"""``python -m radio.commands.calibrate``: each style's loudness gain, from the style's own music.

For every style (or those named), measure what its channel plays with its bundled model
(:func:`radio.station.calibration.calibrate`) and write the gain that brings it to -16 LUFS into
the style's ``style.toml`` as ``[loudness] gain_db``, with the version of the model it was
measured on (``[loudness] model``: a test checks that every shipped gain belongs to its shipped
model). Run it again whenever a style's model or timbre changes; between runs the master
stage's follower corrects what the gain misses.

    python -m radio.commands.calibrate                     # every style in styles/, written
    python -m radio.commands.calibrate --styles folk --dry-run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radio.errors import ContinuoError
from radio.model import load_model
from radio.station.calibration import Calibration, calibrate
from radio.style_file import CALIBRATE_COMMAND, set_loudness
from radio.styles import discover_styles


def write_gain(path: Path, calibration: Calibration) -> None:
    """Set ``[loudness] gain_db`` in a style.toml, keeping the rest of the file as it is."""
    set_loudness(path, calibration.gain_db, calibration.model_version,
                 median_lufs=calibration.median_lufs, seeds=len(calibration.measured_lufs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=CALIBRATE_COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--styles", default="", help="comma-separated styles (default: every style)")
    parser.add_argument("--root", type=Path, default=None, help="styles folder (default: styles/ or $CONTINUO_STYLES)")
    parser.add_argument("--minutes", type=float, default=2.0, help="minutes rendered per seed (default 2)")
    parser.add_argument("--dry-run", action="store_true", help="measure and print, but write nothing")
    args = parser.parse_args(argv)
    if not 0.2 <= args.minutes <= 60:
        parser.error("--minutes must be between 0.2 and 60")
    styles = discover_styles(args.root)
    names = [n.strip() for n in args.styles.split(",") if n.strip()] or list(styles)
    unknown = [n for n in names if n not in styles]
    if unknown:
        parser.error(f"unknown style(s) {', '.join(unknown)}; known: {', '.join(styles) or 'none'}")
    for name in names:
        style = styles[name]
        try:
            model = load_model(style.model_path)
            result = calibrate(style, model, minutes=args.minutes)
        except (ContinuoError, OSError, ValueError) as exc:
            print(f"{name}: skipped: {exc}", file=sys.stderr)
            continue
        seeds = ", ".join(f"{m:.1f}" for m in result.measured_lufs)
        print(
            f"{name:12s} unity gain {result.median_lufs:6.1f} LUFS (seeds: {seeds}) -> gain {result.gain_db:+.2f} dB"
            f" (was {style.loudness_gain_db:+.2f})"
        )
        if not args.dry_run:
            write_gain(style.folder / "style.toml", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

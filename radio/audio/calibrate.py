"""``python -m radio.audio.calibrate``: each style's loudness gain, from the style's own music.

For every style (or those named), render a few minutes of what its channel would play
(the bundled model through the radio's own Composer and Synth, several seeds, each with
its keys, registers and breaths between pieces) at unity gain with no follower and no
limiter, measure the BS.1770 integrated loudness of each seed's stretch, and take the
median, so one odd stretch (a piece that falls silent, a restart) does not move the gain.
The gain that brings that median to -16 LUFS is written into the style's ``style.toml``
as ``[loudness] gain_db``, with the version of the model it was measured on
(``[loudness] model``: a test checks that every shipped gain belongs to its shipped model).
Run it again whenever a style's model or timbre changes;
between runs the master stage's follower corrects what the gain misses.

    python -m radio.audio.calibrate                     # every style in styles/, written
    python -m radio.audio.calibrate --styles folk --dry-run
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radio.audio.loudness import TARGET_LUFS, integrated_loudness
from radio.audio.master import MasterSettings
from radio.audio.synth import Synth
from radio.station.composer import Composer, Model
from radio.styles import Style

SAMPLE_RATE = 44100
SEEDS = (11, 23, 37)


def render_channel_audio(
    style: Style, model: Model, seconds: float, *, seed: int, master: MasterSettings | None,
    sample_rate: int = SAMPLE_RATE, channels: int = 2,
) -> np.ndarray:
    """``seconds`` of what the style's channel plays with ``seed``: composer, synth (the
    style's instrument, dynamics and room), master; (n, 2) stereo unless ``channels=1``."""
    composer = Composer(style, model, seed=seed)
    synth = Synth(style.sound, bpm=style.tempo_bpm, sample_rate=sample_rate, master=master, channels=channels)
    want = round(seconds * sample_rate)
    parts, total = [], 0
    while total < want:
        pcm = synth.render(composer.next_chunk().beats)
        parts.append(pcm)
        total += len(pcm)
    return np.concatenate(parts)[:want]


def channel_master(style: Style) -> MasterSettings:
    """The master settings a channel of ``style`` plays with."""
    return MasterSettings(gain_db=style.loudness_gain_db)


@dataclass(frozen=True)
class Calibration:
    style: str
    measured_lufs: list[float]  # per seed, at unity gain
    gain_db: float
    model_version: str

    @property
    def median_lufs(self) -> float:
        return statistics.median(self.measured_lufs)


def calibrate(style: Style, model: Model, *, minutes: float = 2.0, seeds: tuple[int, ...] = SEEDS) -> Calibration:
    raw = MasterSettings(gain_db=0.0, follow=False, limit=False)
    measured = []
    for seed in seeds:
        audio = render_channel_audio(style, model, minutes * 60.0, seed=seed, master=raw)
        measured.append(integrated_loudness(audio, SAMPLE_RATE))
    finite = [m for m in measured if np.isfinite(m)]
    if not finite:
        raise ValueError(f"style {style.name!r}: every rendered stretch was silent; cannot calibrate")
    gain = round(TARGET_LUFS - statistics.median(finite), 2)
    return Calibration(style.name, measured, gain, getattr(model, "version", "?"))


_TABLE = re.compile(r"^\[loudness\][^\n]*\n(?:(?!\[)[^\n]*\n?)*", re.MULTILINE)


def write_gain(path: Path, calibration: Calibration) -> None:
    """Set ``[loudness] gain_db`` in a style.toml, keeping the rest of the file as it is."""
    text = path.read_text(encoding="utf-8")
    table = (
        "[loudness]                 # written by `python -m radio.audio.calibrate`; re-run it after a retrain\n"
        f"gain_db = {calibration.gain_db:.2f}            # unity gain measured {calibration.median_lufs:.1f} LUFS "
        f"(median of {len(calibration.measured_lufs)} seeds)\n"
        f'model = "{calibration.model_version}"   # the model version the gain was measured on\n'
    )
    if _TABLE.search(text):
        text = _TABLE.sub(lambda _m: table, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + table
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    from radio.errors import ContinuoError
    from radio.model import load_model
    from radio.styles import discover_styles

    parser = argparse.ArgumentParser(prog="python -m radio.audio.calibrate", description=__doc__.split("\n\n")[0])
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

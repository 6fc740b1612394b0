"""Writing ``style.toml``: the one place that does, beside :mod:`radio.styles`, which reads it.

Three writers change a style's file, each through here:

- the admin creates a style (:func:`write_style`: the whole file, from a table), and a
  worker writes the one its job brought (:func:`write_style_text`);
- ``make train`` sets the sampling temperature it chose (:func:`set_style_value`: one
  top-level number, every other line and comment kept);
- calibration sets the loudness gain (:func:`set_loudness`: the ``[loudness]`` table).

Every write is atomic (:mod:`radio.files`), so a reader sees the old file or the new one.
A new per-style setting is read in :func:`radio.styles.parse_style`; the admin writes it by
putting it in the table it hands to :func:`write_style`.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from radio.errors import StyleError
from radio.files import atomic_write_text
from radio.styles import Style, load_style, parse_style

STYLE_FILE = "style.toml"
CALIBRATE_COMMAND = "python -m radio.commands.calibrate"

_LOUDNESS_TABLE = re.compile(r"^\[loudness\][^\n]*\n(?:(?!\[)[^\n]*\n?)*", re.MULTILINE)


def write_style(folder: Path, doc: dict[str, Any], *, comment: str) -> Style:
    """Write ``<folder>/style.toml`` from ``doc`` with tomli-w, after checking that the text
    reads back as a style; the file is replaced atomically, so a bad value never reaches the disk."""
    text = f"# {comment}\n" + tomli_w.dumps(doc)
    parse_style(folder, tomllib.loads(text), folder / STYLE_FILE)  # raises StyleError: nothing written
    atomic_write_text(folder / STYLE_FILE, text)
    return load_style(folder)


def write_style_text(folder: Path, text: str) -> None:
    """Write a style.toml that came as text (a retrain job's, on a worker) as it is."""
    atomic_write_text(folder / STYLE_FILE, text)


def set_style_value(path: Path, key: str, value: float) -> None:
    """Rewrite one top-level number of a style.toml in place, keeping its comment and every
    other line (`make train` writes the sampling temperature it chose this way)."""
    text = path.read_text(encoding="utf-8")
    line = re.compile(rf"^({re.escape(key)}\s*=\s*)[^#\n]*?(\s*(#[^\n]*)?)$", re.MULTILINE)
    if not line.search(text.split("\n[", 1)[0]):
        raise StyleError(f"{path} has no top-level {key!r} to set")
    head, sep, tail = text.partition("\n[")
    head = line.sub(lambda m: f"{m.group(1)}{value:g}{m.group(2)}", head, count=1)
    atomic_write_text(path, head + sep + tail)
    load_style(path.parent)  # still a valid style


def set_loudness(path: Path, gain_db: float, model_version: str, *, median_lufs: float, seeds: int) -> None:
    """Set the ``[loudness]`` table (``gain_db`` and the ``model`` it was measured on) in a
    style.toml, keeping the rest of the file as it is."""
    text = path.read_text(encoding="utf-8")
    table = (
        f"[loudness]                 # written by `{CALIBRATE_COMMAND}`; re-run it after a retrain\n"
        f"gain_db = {gain_db:.2f}            # unity gain measured {median_lufs:.1f} LUFS "
        f"(median of {seeds} seeds)\n"
        f'model = "{model_version}"   # the model version the gain was measured on\n'
    )
    if _LOUDNESS_TABLE.search(text):
        text = _LOUDNESS_TABLE.sub(lambda _m: table, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + table
    atomic_write_text(path, text)

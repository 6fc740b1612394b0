"""Writing ``style.toml``: the one place that does, beside :mod:`radio.styles`, which reads it.

Three writers change a style's file, each through here:

- the admin creates or edits a style (:func:`write_style`: the whole file, from a table), a
  worker writes the one its job brought (:func:`write_style_text`), and a radio node writes
  one that another node shared (:func:`adopt_style_text`);
- ``make train`` sets the sampling temperature it chose (:func:`set_style_value`: one
  top-level number, every other line and comment kept);
- calibration sets the loudness gain (:func:`set_loudness`: the ``[loudness]`` table).

Every write is atomic (:mod:`radio.files`), so a reader sees the old file or the new one.
A new per-style setting is read in :func:`radio.styles.parse_style`; the admin writes it by
putting it in the table it hands to :func:`write_style`.

A style the admin writes is also shared: :func:`write_style` hands the same text to a
:class:`StyleStore` (the catalog's ``styles`` table in SQLite, or MongoDB's ``styles``
collection: :mod:`radio.admin.stores`) before it replaces the local file, and every radio node
follows the store (:mod:`radio.admin.style_follow`). Bundled styles, ``make train`` and
calibration write only the local file: every node has the repository's styles already.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import tomli_w

from radio.errors import StyleError
from radio.files import atomic_write_text
from radio.styles import Style, load_style, parse_style

STYLE_FILE = "style.toml"
CALIBRATE_COMMAND = "python -m radio.commands.calibrate"

_LOUDNESS_TABLE = re.compile(r"^\[loudness\][^\n]*\n(?:(?!\[)[^\n]*\n?)*", re.MULTILINE)


@dataclass(frozen=True)
class SharedStyle:
    """One style's settings as the shared store keeps them: the ``style.toml`` text, and a
    revision the store bumps at every write (how a follower sees that it changed)."""

    name: str
    text: str
    revision: int
    updated_at: str


class StyleTaken(StyleError):
    """A new style's name is already shared (another node created it first)."""


class StyleStore(Protocol):
    """Where the styles created from the admin are shared between radio nodes:
    :class:`radio.admin.stores.sqlite.SqliteStyleStore` or
    :class:`radio.admin.stores.mongo.MongoStyleStore`."""

    def put(self, name: str, text: str, *, new: bool = False) -> int | None:
        """Store ``text`` as ``name``'s settings and return its new revision; with ``new``, only
        if no style of that name is stored yet (None if one is)."""
        ...

    def revisions(self) -> dict[str, int]:
        """Every stored style's current revision, by name (a small read, polled often)."""
        ...

    def get(self, name: str) -> SharedStyle | None:
        """One style's record; raises :class:`StyleError` naming a malformed one."""
        ...

    def close(self) -> None: ...


def check_style_text(folder: Path, text: str) -> Style:
    """The style ``text`` describes for ``folder``; a :class:`StyleError` that names the field
    (or the TOML error) if it is not one."""
    path = folder / STYLE_FILE
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"{path}: not valid TOML: {exc}") from exc
    return parse_style(folder, data, path)


def write_style(folder: Path, doc: dict[str, Any], *, comment: str, store: StyleStore | None = None,
                new: bool = False) -> Style:
    """Write ``<folder>/style.toml`` from ``doc`` with tomli-w, after checking that the text
    reads back as a style; the file is replaced atomically, so a bad value never reaches the disk.

    With a ``store`` the text is shared first (so a store that cannot be reached leaves nothing
    half done here); ``new`` refuses, with :class:`StyleTaken`, a name the store already holds."""
    text = f"# {comment}\n" + tomli_w.dumps(doc)
    check_style_text(folder, text)  # raises StyleError: nothing written
    if store is not None and store.put(folder.name, text, new=new) is None:
        raise StyleTaken(f"style {folder.name!r} already exists (created on another node)")
    atomic_write_text(folder / STYLE_FILE, text)
    return load_style(folder)


def adopt_style_text(folder: Path, text: str) -> Style | None:
    """Write a style another node shared, after checking it reads as a style; None (and
    nothing written) when the local file already holds exactly this text."""
    path = folder / STYLE_FILE
    style = check_style_text(folder, text)
    try:
        if path.read_text(encoding="utf-8") == text:
            return None
    except (FileNotFoundError, UnicodeDecodeError):  # none yet, or a broken one: replace it
        pass
    atomic_write_text(path, text)
    return style


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

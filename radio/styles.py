"""A style's settings, read from ``styles/<name>/style.toml``."""

from __future__ import annotations

import logging
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from radio.config import styles_dir
from radio.errors import StyleError
from radio.music.form import FormPlan, parse_form
from radio.music.notes import beats_for_seconds

log = logging.getLogger(__name__)

# A name is a folder, a channel id and a URL segment; it starts with a letter or digit, so it
# can never be read as a command-line option (``--style -x``) or a hidden folder.
STYLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class Timbre:
    """The additive synth's voice for a style."""

    partials: tuple[float, ...] = (1.0, 0.5, 0.25, 0.12)
    attack: float = 0.01
    decay: float = 0.15
    sustain: float = 0.6
    release: float = 0.25
    inharmonicity: float = 0.0
    detune_cents: float = 0.0
    level: float = 0.7


@dataclass(frozen=True)
class Style:
    name: str  # the folder name, also the channel id
    display_name: str
    description: str
    tempo_bpm: float
    temperature: float
    piece_minutes: float
    folder: Path
    model_file: str = "model.npz"
    corpus_styles: tuple[str, ...] = ()
    timbre: Timbre = field(default_factory=Timbre)
    top_p: float = 1.0  # nucleus sampling for token models: 1.0 samples the whole distribution
    # dB applied to the synth's voices so the style's music sits at -16 LUFS; written into
    # style.toml's [loudness] table by `python -m radio.audio.calibrate`.
    loudness_gain_db: float = 0.0
    # The plan each piece follows (style.toml's [form]); without one a piece runs piece_minutes.
    form: FormPlan = field(default_factory=FormPlan)

    @property
    def model_path(self) -> Path:
        return self.folder / self.model_file

    @property
    def piece_beats(self) -> int:
        """A piece's length in 16th-note beats: its form plan's, else ``piece_minutes`` of music."""
        return self.form.beats if self.form.planned else beats_for_seconds(self.piece_minutes * 60.0, self.tempo_bpm)


def check_style_name(name: str) -> str:
    if not STYLE_NAME.match(name or ""):
        raise StyleError(
            f"style name {name!r} is invalid: use 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit"
        )
    if name == "mix" or name.startswith("mix-"):
        raise StyleError(f"style name {name!r} is reserved for blend channels (/stream/mix.mp3); choose another")
    return name


def set_style_value(path: Path, key: str, value: float) -> None:
    """Rewrite one top-level number of a style.toml in place, keeping its comment and every
    other line (`make train` writes the sampling temperature it chose this way)."""
    text = path.read_text(encoding="utf-8")
    line = re.compile(rf"^({re.escape(key)}\s*=\s*)[^#\n]*?(\s*(#[^\n]*)?)$", re.MULTILINE)
    if not line.search(text.split("\n[", 1)[0]):
        raise StyleError(f"{path} has no top-level {key!r} to set")
    head, sep, tail = text.partition("\n[")
    head = line.sub(lambda m: f"{m.group(1)}{value:g}{m.group(2)}", head, count=1)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(head + sep + tail, encoding="utf-8")
    os.replace(tmp, path)
    load_style(path.parent)  # still a valid style


def check_top_p(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {value!r}")
    return value


def load_style(folder: Path) -> Style:
    """Read one style folder; raise :class:`StyleError` naming the file and the bad field."""
    path = folder / "style.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StyleError(f"{path} is missing") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"{path} is not valid TOML: {exc}") from exc
    return parse_style(folder, data, path)


def parse_style(folder: Path, data: dict, path: Path) -> Style:
    """The :class:`Style` that the parsed ``style.toml`` ``data`` of ``folder`` describes."""
    name = check_style_name(folder.name)
    try:
        timbre = Timbre(**{k: (tuple(v) if k == "partials" else float(v)) for k, v in data.get("timbre", {}).items()})
        corpus = data.get("corpus", {})
        return Style(
            name=name,
            display_name=str(data.get("name", name.title())),
            description=str(data.get("description", "")),
            tempo_bpm=float(data.get("tempo_bpm", 96)),
            temperature=float(data.get("temperature", 1.0)),
            piece_minutes=float(data.get("piece_minutes", 4)),
            folder=folder,
            model_file=str(data.get("model", "model.npz")),
            corpus_styles=tuple(corpus.get("styles", [name])),
            timbre=timbre,
            top_p=check_top_p(float(data.get("top_p", 1.0))),
            loudness_gain_db=float(data.get("loudness", {}).get("gain_db", 0.0)),
            form=parse_form(data.get("form", {})),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise StyleError(f"{path}: {exc}") from exc


def discover_styles(root: Path | None = None, skipped: dict[str, str] | None = None) -> dict[str, Style]:
    """Every folder under ``root`` with a readable style.toml, by name, sorted. A broken
    folder (bad TOML, a bad value, a name that is not a style name) is left out and logged
    with the reason, and recorded in ``skipped`` when given, as a corrupt model is skipped."""
    root = root or styles_dir()
    found: dict[str, Style] = {}
    if not root.is_dir():
        return found
    for folder in sorted(p for p in root.iterdir() if (p / "style.toml").is_file()):
        try:
            found[folder.name] = load_style(folder)
        except (StyleError, OSError, UnicodeDecodeError) as exc:
            reason = str(exc) if isinstance(exc, StyleError) else f"{folder / 'style.toml'} cannot be read: {exc}"
            if skipped is not None:
                skipped[folder.name] = reason
            if _warned.get(str(folder)) != reason:  # once per folder and reason, not at every request
                _warned[str(folder)] = reason
                log.error("style folder %s skipped: %s", folder, reason)
    return found


_warned: dict[str, str] = {}


def get_style(name: str, root: Path | None = None) -> Style:
    skipped: dict[str, str] = {}
    styles = discover_styles(root, skipped)
    if name in skipped:
        raise StyleError(f"style {name!r} cannot be used: {skipped[name]}")
    if name not in styles:
        known = ", ".join(styles) or "none"
        raise StyleError(f"unknown style {name!r}; known styles: {known}")
    return styles[name]

"""A style's settings, read from ``styles/<name>/style.toml``."""

from __future__ import annotations

import dataclasses
import logging
import math
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
    """One voice of a style's instrument: the oscillator synth's partials and how they move.

    Every partial has its own envelope. Partial ``k`` (1 = the fundamental) speaks over
    ``attack * (1 + swell * (k - 1))`` seconds (a bowed note brightens as it speaks; a
    negative swell makes the upper partials speak first, an organ pipe's chiff), then falls
    towards ``sustain`` with the time constant ``decay / k**partial_decay`` (a plucked or
    struck string darkens as it rings: its upper partials die first), shortened by
    ``2**(-pitch_decay)`` per octave above middle C. Vibrato is a slow phase modulation of
    ``vibrato_cents`` at ``vibrato_hz`` that fades in over ``vibrato_delay`` seconds.
    """

    partials: tuple[float, ...] = (1.0, 0.5, 0.25, 0.12)
    attack: float = 0.01
    decay: float = 0.15
    sustain: float = 0.6
    release: float = 0.25
    inharmonicity: float = 0.0
    detune_cents: float = 0.0
    level: float = 0.7
    partial_decay: float = 0.0
    swell: float = 0.0
    pitch_decay: float = 0.0
    vibrato_hz: float = 0.0
    vibrato_cents: float = 0.0
    vibrato_delay: float = 0.0
    pan: float = 0.0  # -1 (left) .. 1 (right): where this voice stands on the stage

    @property
    def evolving(self) -> bool:
        """Whether its partials have envelopes of their own (else one envelope for all)."""
        return self.partial_decay != 0 or self.swell != 0 or self.pitch_decay != 0


@dataclass(frozen=True)
class Dynamics:
    """How loud each note is played, derived from the notes alone (any model's output gets it).

    A note's level in dB is the sum of: ``accent_db`` scaled by its metric weight (the
    downbeat 1, the half bar 0.6, the quarters 0.35, the eighths 0.15, the 16ths 0);
    ``melody_db`` for the top voice or ``bass_db`` for the bottom one of a chord (inner
    voices 0); and a phrase swell of ``phrase_db`` (peak to trough) over ``phrase_bars``
    bars, which also follows the melody's height over its recent mean.
    """

    accent_db: float = 0.0
    melody_db: float = 0.0
    bass_db: float = 0.0
    phrase_db: float = 0.0
    phrase_bars: float = 4.0
    beats_per_bar: int = 16  # 16ths in a bar

    def __post_init__(self) -> None:
        for name in ("accent_db", "melody_db", "bass_db", "phrase_db"):
            value = getattr(self, name)
            if not (math.isfinite(value) and -12 <= value <= 12):
                raise ValueError(f"dynamics.{name} = {value!r} must be a number of dB between -12 and 12")
        if not (math.isfinite(self.phrase_bars) and 0.5 <= self.phrase_bars <= 64):
            raise ValueError(f"dynamics.phrase_bars = {self.phrase_bars!r} must be between 0.5 and 64")
        if not (isinstance(self.beats_per_bar, int) and 2 <= self.beats_per_bar <= 64):
            raise ValueError(f"dynamics.beats_per_bar = {self.beats_per_bar!r} must be an int from 2 to 64 (16ths)")


@dataclass(frozen=True)
class Room:
    """The algorithmic reverb a style plays in (radio/audio/room.py); ``wet`` 0 is no room."""

    rt60: float = 0.0  # seconds for the tail to fall 60 dB
    wet: float = 0.0  # the reverb's level beside the dry sound (0..1)
    size: float = 1.0  # scales the delay lines: larger rooms have sparser, later echoes
    predelay: float = 0.015  # seconds before the first reflection
    damping: float = 0.3  # 0..0.5: how much faster the treble dies than the bass

    def __post_init__(self) -> None:
        checks = {
            "rt60": 0 <= self.rt60 <= 20, "wet": 0 <= self.wet <= 1, "size": 0.25 <= self.size <= 4,
            "predelay": 0 <= self.predelay <= 0.2, "damping": 0 <= self.damping <= 0.5,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and ok):
                raise ValueError(f"room.{name} = {value!r} is out of range")

    @property
    def active(self) -> bool:
        return self.wet > 0 and self.rt60 > 0


@dataclass(frozen=True)
class Sound:
    """Everything the synth needs to play a style: its instrument's voices (top voice
    first; a chord's notes are dealt to them from the top down), dynamics and room."""

    voices: tuple[Timbre, ...]
    dynamics: Dynamics = field(default_factory=Dynamics)
    room: Room = field(default_factory=Room)
    instrument: str = ""


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
    # style.toml's [loudness] table by `python -m radio.commands.calibrate`.
    loudness_gain_db: float = 0.0
    # The plan each piece follows (style.toml's [form]); without one a piece runs piece_minutes.
    form: FormPlan = field(default_factory=FormPlan)
    loudness_model: str = ""  # the model version that gain was calibrated on
    instrument: str = ""  # what the voices are, in words ("harpsichord", "string quartet")
    voices: tuple[Timbre, ...] = ()  # one timbre per voice, top first; empty: ``timbre`` for all
    dynamics: Dynamics = field(default_factory=Dynamics)
    room: Room = field(default_factory=Room)

    @property
    def sound(self) -> Sound:
        return Sound(self.voices or (self.timbre,), self.dynamics, self.room, self.instrument)

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
        base = data.get("timbre", {})
        timbre = _timbre(base)
        # Each [[voices]] table overrides [timbre]'s fields for one voice, top voice first.
        voices = tuple(_timbre({**base, **v}) for v in data.get("voices", []))
        dyn = data.get("dynamics", {})
        dynamics = Dynamics(**{k: (int(v) if k == "beats_per_bar" else float(v)) for k, v in dyn.items()})
        room = Room(**{k: float(v) for k, v in data.get("room", {}).items()})
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
            loudness_model=str(data.get("loudness", {}).get("model", "")),
            instrument=str(data.get("instrument", "")),
            voices=voices,
            dynamics=dynamics,
            room=room,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise StyleError(f"{path}: {exc}") from exc


def _timbre(table: dict) -> Timbre:
    fields = {k: v for k, v in table.items() if k != "name"}  # a voice's name is for readers
    return Timbre(**{k: (tuple(float(x) for x in v) if k == "partials" else float(v)) for k, v in fields.items()})


def blend_sounds(styles: list[Style], weights: list[float]) -> dict:
    """The instrument fields of a blend of ``styles``: voice by voice (a parent with fewer
    voices repeats its last), every number a weighted mean, partial by partial."""
    count = max(len(s.sound.voices) for s in styles)

    def mean(values: list[float]) -> float:
        return float(sum(v * w for v, w in zip(values, weights)))

    def mix(records: list, cls):
        out = {}
        for f in dataclasses.fields(cls):
            values = [getattr(r, f.name) for r in records]
            if f.name == "partials":
                length = max(len(v) for v in values)
                out[f.name] = tuple(mean([v[k] if k < len(v) else 0.0 for v in values]) for k in range(length))
            elif f.name == "beats_per_bar":
                out[f.name] = values[max(range(len(values)), key=lambda i: weights[i])]
            else:
                out[f.name] = mean(values)
        return cls(**out)

    voices = tuple(mix([s.sound.voices[min(i, len(s.sound.voices) - 1)] for s in styles], Timbre) for i in range(count))
    return {
        "voices": voices,
        "dynamics": mix([s.dynamics for s in styles], Dynamics),
        "room": mix([s.room for s in styles], Room),
        "instrument": " and ".join(s.instrument for s in styles if s.instrument),
    }


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

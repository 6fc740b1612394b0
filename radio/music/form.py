"""A piece's form: the plan of sections a composer follows, read from a style's ``[form]`` table.

A plan is a row of sections of equal length in bars, named by letters. A letter's first
appearance is new music; a letter that comes back *returns*: its first ``repeat_bars`` bars
replay that section as it was first played, and the model composes the rest afresh from where
the replay left it (a second ending, a varied return), so a return is heard without ever
becoming a loop. Every section closes: its last bar is steered towards a tonic close held from
``close_beat``. ``AABB`` with 8-bar strains is a fiddle tune; ``AAB`` with 4-bar sections is a
chorale's repeated opening phrases (the Stollen) and its longer answer; all-new letters
(``ABCDEFGH``) make a through-composed piece that still breathes at its phrase ends.

``register_pull`` keeps the piece in the register its first section set: once the mean pitch of
the last bars drifts more than ``register_tolerance`` semitones from it, notes on the far side
become less likely in proportion (a soft tilt, never a clamp). ``register_margin`` also holds
struck notes near the range the first section spanned. ``texture_pull`` keeps the texture: when
the last bar sounds or strikes more notes per beat than the first section did (beyond the
tolerance), ending a beat, or holding rather than striking, becomes likelier, and the reverse
when it thins out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from radio.music.notes import BEATS_PER_BAR

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Section:
    letter: str
    index: int  # its place in the plan
    start: int  # first beat, from the piece's first beat
    beats: int
    returns_to: int | None  # the index of the section a return replays; None for new music
    replay_beats: int  # beats at its start replayed from ``returns_to`` (0 for new music)


@dataclass(frozen=True)
class FormPlan:
    sections: tuple[str, ...] = ()  # letters; empty: no plan (the piece runs ``piece_minutes``)
    section_bars: int = 8
    repeat_bars: int | None = None  # bars of a return that replay its section exactly; None: all but its last
    close_beat: int = 0  # the 16th of a section's last bar where its closing note falls (0 or 8)
    cadence: float = 2.0  # logit steer of the closing note towards the tonic triad, and of the bar's end towards holding it
    register_pull: float = 1.0  # logit per octave, per semitone of drift beyond the tolerance
    register_tolerance: float = 3.0  # semitones of drift from the opening register left alone
    register_margin: float | None = None  # semitones beyond the opening's range a struck note may go before the pull holds it back; None: no bound
    texture_pull: float = 0.0  # logit per unit of relative excess of the last bar's notes per beat over the opening's; 0: off
    texture_tolerance: float = 0.25  # relative departure from the opening's texture left alone

    def __post_init__(self) -> None:
        if any(not (isinstance(s, str) and len(s) == 1 and s in LETTERS) for s in self.sections):
            raise ValueError(f"form sections must be single capital letters, not {list(self.sections)!r}")
        if not (isinstance(self.section_bars, int) and 1 <= self.section_bars <= 64):
            raise ValueError(f"form section_bars must be an int in 1..64, not {self.section_bars!r}")
        if self.repeat_bars is not None and not (isinstance(self.repeat_bars, int) and 0 <= self.repeat_bars <= self.section_bars):
            raise ValueError(f"form repeat_bars must be an int in 0..section_bars, not {self.repeat_bars!r}")
        if not (isinstance(self.close_beat, int) and 0 <= self.close_beat < BEATS_PER_BAR):
            raise ValueError(f"form close_beat must be an int in 0..{BEATS_PER_BAR - 1}, not {self.close_beat!r}")
        for name in ("cadence", "register_pull", "register_tolerance", "texture_pull", "texture_tolerance"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"form {name} must be ≥ 0, not {getattr(self, name)!r}")
        if self.register_margin is not None and not self.register_margin >= 0:
                raise ValueError(f"form register_margin must be ≥ 0, not {self.register_margin!r}")

    @property
    def planned(self) -> bool:
        return bool(self.sections)

    @property
    def beats(self) -> int:
        """The piece's length in 16th-note beats."""
        return len(self.sections) * self.section_bars * BEATS_PER_BAR

    def layout(self) -> list[Section]:
        """The plan's sections in order, with their beats and what each return replays."""
        size = self.section_bars * BEATS_PER_BAR
        replayed = self.section_bars - 1 if self.repeat_bars is None else self.repeat_bars
        first: dict[str, int] = {}
        out = []
        for i, letter in enumerate(self.sections):
            back = first.get(letter)
            first.setdefault(letter, i)
            out.append(Section(letter, i, i * size, size, back,
                               0 if back is None else replayed * BEATS_PER_BAR))
        return out


def parse_form(table: Any) -> FormPlan:
    """The plan a ``[form]`` table describes (``sections`` as a string like ``"AABB"`` or a
    list of letters); raise ValueError naming the bad field."""
    if not isinstance(table, dict):
        raise ValueError(f"[form] must be a table, not {type(table).__name__}")
    unknown = set(table) - set(FormPlan.__dataclass_fields__)
    if unknown:
        raise ValueError(f"[form] has unknown keys {sorted(unknown)}")
    values = dict(table)
    sections = values.pop("sections", ())
    if isinstance(sections, str):
        sections = tuple(sections.replace(" ", ""))
    floats = {k: float(values.pop(k)) for k in ("cadence", "register_pull", "register_tolerance", "register_margin", "texture_pull", "texture_tolerance") if k in values}
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"[form] {k} must be an integer, not {v!r}")
    return FormPlan(sections=tuple(sections), **values, **floats)

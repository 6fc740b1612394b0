"""How a sampler draws: one frozen record, checked once, shared by every model kind.

``BeatSampler`` (frame models) reads the temperature and the guard rails; ``TokenSampler``
also reads ``top_p`` and ``max_notes`` (a frame model's count head already bounds its notes
per beat). The seed and the primer are not settings: they start one stream, not a manner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SamplerSettings:
    temperature: float = 1.0
    top_p: float = 1.0
    max_note_beats: int = 32  # a note held this long is struck again
    max_silence_beats: int = 16  # after this many silent beats a note is forced
    max_notes: int = 10  # notes per beat (token models)

    def __post_init__(self) -> None:
        """Raise ValueError naming the bad setting; store numbers as float and int."""
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if self.max_note_beats < 1 or self.max_silence_beats < 0:
            raise ValueError("max_note_beats must be ≥ 1 and max_silence_beats ≥ 0")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.max_notes < 1:
            raise ValueError(f"max_notes must be ≥ 1, got {self.max_notes!r}")
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, float(getattr(self, f.name)) if f.type == "float" else int(getattr(self, f.name)))

    @classmethod
    def of(cls, settings: SamplerSettings | None = None, **values: Any) -> SamplerSettings:
        """``settings`` (or the defaults) with ``values`` put in: the samplers' keyword arguments."""
        return dataclasses.replace(settings or cls(), **values)

"""A piece composed to a plan (radio/music/form.py): sections that return, phrases that close,
a register that holds.

:class:`FormedPiece` wraps a model's beat sampler for one piece. It draws beat by beat (so the
music is the same whatever chunks the composer asks for) and, by where the beat falls in the
plan:

- in the opening bars of a **return**, it replays the section it returns to, feeding the replay
  to the sampler (``follow``) so the model continues from what was heard; past them the model
  composes the return's end afresh, so a return varies instead of looping;
- in a section's **last bar**, it steers the closing note (at the plan's ``close_beat``)
  towards the tonic triad of the piece's key, and the beats after it towards holding it: a
  long note or chord where the phrase ends, as cadences and fermatas do;
- everywhere after the first section, once the **register** of the last two bars has drifted
  from the first section's more than the tolerance, it tilts the odds of every struck pitch
  against the direction of the drift (and, with a margin, holds notes near the opening's range);
- likewise for the **texture**: a last bar thicker or busier than the opening makes ending the
  beat, and holding rather than striking, likelier; a thinner one the reverse.

The steering is a logit bias on the sampler of a steerable model kind (``steerable`` in
radio/model/kinds/: the token kind's ``logit_bias``); a sampler without one (a frame model) still
gets the plan's returns and length. Everything is in the model's key (C major / A
minor), before the composer transposes the piece.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from radio.model.kinds import kind_of
from radio.music.form import FormPlan, Section
from radio.music.keys import MAJOR, estimate_key
from radio.music.notes import BEATS_PER_BAR, HELD, STRUCK, Beat, ListOfNotes

REGISTER_BARS = 2  # the recent window whose mean pitch is held to the opening's


class BeatSource(Protocol):
    def next_beats(self, n: int) -> ListOfNotes: ...


class FormedPiece:
    """One piece's beats, drawn from ``sampler`` to ``plan``; past the plan's end it keeps drawing freely."""

    def __init__(self, sampler: BeatSource, plan: FormPlan) -> None:
        if not plan.planned:
            raise ValueError("a FormedPiece needs a plan with sections")
        self.sampler = sampler
        self.plan = plan
        self.sections = plan.layout()
        self.beat = 0  # beats drawn so far
        self.played: ListOfNotes = []
        self._follow = getattr(sampler, "follow", None)
        encoding = getattr(sampler, "encoding", None)
        self._steerable = hasattr(sampler, "logit_bias") and encoding is not None and kind_of(encoding).steerable
        if self._steerable:
            # Per-token vectors, built once: the steering is a few vector sums per beat.
            vocab = encoding.vocab_size
            pitch = np.zeros(vocab)
            self._struck, self._held, self._ends = np.zeros(vocab), np.zeros(vocab), np.zeros(vocab)
            for position in range(BEATS_PER_BAR):
                self._ends[encoding.position_token(position)] = 1.0  # a position token ends a beat
            for p in range(encoding.low, encoding.high + 1):
                for tie, flags in ((STRUCK, self._struck), (HELD, self._held)):
                    token = encoding.note_token(p, tie)
                    pitch[token] = p
                    flags[token] = 1.0
            self._struck_pitch = pitch * self._struck
            self._pitch_class = np.where(self._struck > 0, pitch.astype(int) % 12, -1)
            self._hold_bias = plan.cadence * (self._held - self._struck)  # after the closing note
            self._close_bias = -plan.cadence * self._held  # on it, until the key is known
            self._bound_bias: np.ndarray | None = None
        self._tonic_triad: frozenset[int] | None = None
        self._centre: float | None = None
        self._range: tuple[int, int] | None = None
        self._texture: tuple[float, float] | None = None  # the opening's (sounding, struck) notes per beat

    def section_at(self, beat: int) -> Section | None:
        size = self.plan.section_bars * BEATS_PER_BAR
        i = beat // size
        return self.sections[i] if i < len(self.sections) else None

    def next_beats(self, n: int) -> ListOfNotes:
        out = []
        for _ in range(n):
            out.append(self._next_beat())
        return out

    def _next_beat(self) -> Beat:
        t = self.beat
        section = self.section_at(t)
        if section is not None and t == section.start and section.index == 1:
            self._settle_key_and_register()
        offset = t - section.start if section is not None else 0
        if section is not None and section.returns_to is not None and offset < section.replay_beats:
            source = self.played[self.sections[section.returns_to].start + offset]
            beat = self._follow([source])[0] if self._follow is not None else source
        else:
            if self._steerable:
                self.sampler.logit_bias = self._bias(section, offset)  # type: ignore[attr-defined]
            beat = self.sampler.next_beats(1)[0]
        self.played.append(beat)
        self.beat += 1
        return beat

    def _settle_key_and_register(self) -> None:
        """After the first section: the key its closes aim at, and the register the rest keeps."""
        opening = self.played
        if any(opening):
            key = estimate_key(opening)
            third = 4 if key.mode == MAJOR else 3
            self._tonic_triad = frozenset({key.tonic, (key.tonic + third) % 12, (key.tonic + 7) % 12})
        self._centre = _mean_pitch(opening)
        pitches = [p for beat in opening for p, _ in beat]
        self._range = (min(pitches), max(pitches)) if pitches else None
        self._texture = _texture(opening)
        if not self._steerable:
            return
        plan = self.plan
        if self._tonic_triad is not None:
            in_triad = np.isin(self._pitch_class, sorted(self._tonic_triad)) * self._struck
            self._close_bias = plan.cadence * (2 * in_triad - self._struck - self._held)
        if self._range is not None and plan.register_margin is not None and plan.register_pull > 0:
            low, high = self._range[0] - plan.register_margin, self._range[1] + plan.register_margin
            beyond = np.maximum(self._struck_pitch - high, 0) + np.maximum(low - self._struck_pitch, 0) * self._struck
            self._bound_bias = -plan.register_pull * beyond

    def _bias(self, section: Section | None, offset: int) -> np.ndarray | None:
        if section is None:
            return None
        plan = self.plan
        parts: list[np.ndarray] = []
        if self._centre is not None and plan.register_pull > 0:
            recent = _mean_pitch(self.played[-REGISTER_BARS * BEATS_PER_BAR:])
            if recent is not None:
                drift = recent - self._centre
                excess = np.sign(drift) * max(0.0, abs(drift) - plan.register_tolerance)
                if excess:
                    parts.append(-plan.register_pull * excess / 12.0 * (self._struck_pitch - self._centre * self._struck))
        if self._bound_bias is not None:
            parts.append(self._bound_bias)
        if self._texture is not None and plan.texture_pull > 0:
            parts += self._texture_bias()
        last_bar = section.beats - BEATS_PER_BAR
        if plan.cadence > 0 and offset >= last_bar + plan.close_beat:
            # The closing note strikes the tonic chord; after it, to the section's end, it is held.
            parts.append(self._close_bias if offset == last_bar + plan.close_beat else self._hold_bias)
        return sum(parts[1:], parts[0]) if parts else None

    def _texture_bias(self) -> list[np.ndarray]:
        """Thicker or busier than the opening: end beats and hold sooner; thinner: the reverse."""
        assert self._texture is not None
        plan = self.plan
        recent = _texture(self.played[-BEATS_PER_BAR:])
        out = []
        for now, then, lean in ((recent[0], self._texture[0], self._ends),
                                (recent[1], self._texture[1], self._held - self._struck)):
            if then <= 0:
                continue
            ratio = now / then
            excess = max(0.0, ratio - 1 - plan.texture_tolerance) - max(0.0, 1 - plan.texture_tolerance - ratio)
            if excess:
                out.append(plan.texture_pull * excess * lean)
        return out


def _texture(beats: ListOfNotes) -> tuple[float, float]:
    """Sounding and struck notes per beat."""
    n = max(1, len(beats))
    return sum(len(b) for b in beats) / n, sum(tie == STRUCK for b in beats for _, tie in b) / n


def _mean_pitch(beats: ListOfNotes) -> float | None:
    pitches = [p for beat in beats for p, _ in beat]
    return float(np.mean(pitches)) if pitches else None


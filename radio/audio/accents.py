"""Dynamics derived from the notes: how loud the synth strikes each note.

The metric position counts (the bar's phase is inferred from where the onsets fall, so a
piece that starts off the stream's bar grid still leans on its own downbeats), and so does a
phrase swell that follows the melody's height. State advances beat by beat, never sample by
sample, so a chunk's cut never changes a level.
"""

from __future__ import annotations

import math

import numpy as np

from radio.styles import Dynamics

# A bare Timbre's accent: the downbeat 1.94 dB over an unaccented 16th (1.0 against 0.8).
PLAIN_ACCENT_DB = 1.94
# Metric weight of a position in the bar: the downbeat, the half bar, quarters, eighths.
METRIC_WEIGHTS = (1.0, 0.6, 0.35, 0.15)
# The bar's phase is re-inferred from onsets counted with this decay per beat (a memory of
# about a dozen bars), once this much evidence is in, and a new phase must beat the old by 10%.
METRE_MEMORY = 0.995
METRE_EVIDENCE = 24.0
# The phrase swell follows the melody's height over its mean of about the last 3 bars.
MELODY_MEMORY = 1.0 / 48.0
# A partial (or a plucked note) whose envelope has fallen this far is dropped (-80 dB).


def metric_weight(position: int, beats_per_bar: int) -> float:
    """How strong a 16th at ``position`` in the bar is: 1 on the downbeat, 0 on a plain 16th."""
    position %= beats_per_bar
    if position == 0:
        return METRIC_WEIGHTS[0]
    if beats_per_bar % 2 == 0 and position == beats_per_bar // 2:
        return METRIC_WEIGHTS[1]
    if position % 4 == 0:
        return METRIC_WEIGHTS[2]
    if position % 2 == 0:
        return METRIC_WEIGHTS[3]
    return 0.0



class Accents:
    """The accent state of one stream: onsets counted by bar position, and the melody's mean."""

    def __init__(self, dynamics: Dynamics) -> None:
        self.dynamics = dynamics
        self.bar = dynamics.beats_per_bar
        self._weights = np.array([metric_weight(p, self.bar) for p in range(self.bar)])
        self._turns = (np.arange(self.bar)[:, None] + np.arange(self.bar)[None, :]) % self.bar
        self._onsets = np.zeros(self.bar)
        self._phase = 0  # stream beat of the bar's downbeat, modulo the bar
        self._melody_mean: float | None = None

    def follow_metre(self, beat: int, struck: int) -> None:
        """Count onsets by position in the bar and move the bar's phase to where they lean."""
        self._onsets *= METRE_MEMORY
        self._onsets[beat % self.bar] += struck
        if struck and self._onsets.sum() >= METRE_EVIDENCE:
            fit = self._onsets[self._turns] @ self._weights  # fit[s]: the downbeat on stream beats = s (mod bar)
            best = int(np.argmax(fit))
            if fit[best] > 1.1 * fit[self._phase % self.bar]:
                self._phase = best

    def beat_db(self, beat: int, top: int) -> float:
        """The level (dB) every note struck on ``beat`` shares: its metric accent and the
        phrase swell, with ``top`` the beat's highest pitch."""
        self._melody_mean = top if self._melody_mean is None else self._melody_mean + (top - self._melody_mean) * MELODY_MEMORY
        position = (beat - self._phase) % self.bar
        return self.dynamics.accent_db * float(self._weights[position]) + self._phrase_db(beat, top)

    def _phrase_db(self, beat: int, top: int) -> float:
        """The phrase's swell: an arch over ``phrase_bars`` bars, lifted where the melody is high."""
        dyn = self.dynamics
        if dyn.phrase_db == 0:
            return 0.0
        length = dyn.phrase_bars * self.bar
        x = ((beat - self._phase) % length) / length
        arch = math.sin(math.pi * x) - 0.5
        height = max(-1.0, min(1.0, (top - (self._melody_mean or top)) / 12.0))
        return dyn.phrase_db * max(-0.5, min(0.5, 0.6 * arch + 0.4 * height))

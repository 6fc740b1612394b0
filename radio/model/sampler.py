"""Endless beat sampling from a style model.

Each beat: sample how many notes sound from the count head, then pick that many pitches
without replacement, weighted by the odds p/(1-p) of each pitch's sounding probability
(exp(logit/T): the law of independent Bernoullis given how many came up, drawn sequentially,
done in one step with the Gumbel top-k trick). Then decide, for each chosen pitch that was already sounding, whether it
is held ('s') or struck again ('b') from the struck head. Never arg-max: that is what made the
seed design loop. Guard rails: no note is held longer than ``max_note_beats`` (it is struck
again), the temperature rises while the music is silent, and a note is forced once silence
reaches ``max_silence_beats``.

The LSTM was trained on windows of at most 128 beats from a zero state, so every
``REFRESH_BEATS`` beats the sampler restarts from a zero state and replays the last
``REPLAY_BEATS`` beats: the state never drifts beyond what training covered.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from radio.model.lstm import sigmoid
from radio.model.sampler_settings import SamplerSettings
from radio.music.encoding import COUNT_CLASSES, encode_beat
from radio.music.notes import HELD, STRUCK, Beat, ListOfNotes, normalize, validate

if TYPE_CHECKING:
    from radio.model.model import StyleModel

REFRESH_BEATS = 128
REPLAY_BEATS = 64
SILENCE_HEAT = 0.15  # temperature grows by this fraction per silent beat...
MAX_HEAT = 3.0  # ...up to this factor


class BeatSampler:
    """Continues one stream of beats (C major / A minor); its state persists across calls."""

    def __init__(
        self,
        model: "StyleModel",
        *,
        seed: int | None = None,
        primer: ListOfNotes | None = None,
        settings: SamplerSettings | None = None,
        **values: Any,
    ) -> None:
        """``values`` are :class:`SamplerSettings` fields (``temperature=0.9``), put into ``settings``."""
        self.settings = SamplerSettings.of(settings, **values)
        self.model = model
        self.encoding = model.encoding
        self.network = model.network
        self.rng = np.random.default_rng(seed)
        self._history: deque[Beat] = deque(maxlen=REPLAY_BEATS)
        self._vec = np.zeros(self.encoding.input_size, np.float32)
        self._lengths: dict[int, int] = {}  # sounding pitch -> beats it has sounded so far
        self._silent = 0
        self._since_refresh = 0
        self.position = 0  # beat index of the next beat (drives the bar-position input)
        self._state = self.network.initial_state()
        if primer:
            primer = normalize(primer)
            validate(primer)
            for beat in primer:
                self._logits = self._feed(beat)
            # The first generated beat strikes everything, so each chunk of output is valid alone.
            self._lengths = {}
        else:
            self.position = -1
            self._logits = self._feed([])

    def _feed(self, beat: Beat) -> np.ndarray:
        encode_beat(self.encoding, beat, self.position, out=self._vec)
        self.position += 1
        self._history.append(beat)
        self._since_refresh += 1
        return self.network.step(self._vec, self._state)

    def _refresh(self) -> None:
        replay = list(self._history)
        self._state = self.network.initial_state()
        self._history.clear()
        self.position -= len(replay)
        self._since_refresh = 0
        for beat in replay:
            self._logits = self._feed(beat)

    def next_beats(self, n: int) -> ListOfNotes:
        """The next ``n`` beats of the stream."""
        out: ListOfNotes = []
        for _ in range(n):
            beat = self._sample(self._logits)
            out.append(beat)
            self._logits = self._feed(beat)
            if self._since_refresh >= REFRESH_BEATS:
                self._refresh()
        return out

    def _sample(self, logits: np.ndarray) -> Beat:
        enc = self.encoding
        heat = min(MAX_HEAT, 1.0 + SILENCE_HEAT * self._silent) if self._silent else 1.0
        temp = self.settings.temperature * heat

        count_logits = logits[enc.count_slice].astype(np.float64) / temp
        count_p = np.exp(count_logits - count_logits.max())
        if self._silent >= self.settings.max_silence_beats:
            count_p[0] = 0.0
        count = int(self.rng.choice(COUNT_CLASSES, p=count_p / count_p.sum()))
        if count == 0:
            self._silent += 1
            self._lengths = {}
            return []

        # Gumbel top-k: the k largest of logit/T + Gumbel noise are a draw without replacement
        # with probabilities proportional to exp(logit/T), i.e. to the odds p/(1-p).
        keys = logits[enc.sound_slice] / temp + self.rng.gumbel(size=enc.pitches)
        chosen = np.argpartition(-keys, count - 1)[:count] if count < enc.pitches else np.arange(enc.pitches)
        struck_p = sigmoid(logits[enc.struck_slice] / temp) if enc.has_struck else None
        beat: Beat = []
        lengths: dict[int, int] = {}
        for i in sorted(int(i) for i in chosen):
            pitch = i + enc.low
            held_for = self._lengths.get(pitch, 0)
            hold = 0 < held_for < self.settings.max_note_beats
            if hold and struck_p is not None:
                hold = self.rng.random() >= struck_p[i]
            beat.append((pitch, HELD if hold else STRUCK))
            lengths[pitch] = held_for + 1 if hold else 1
        self._lengths = lengths
        self._silent = 0
        return beat


def random_window(notes: ListOfNotes, beats: int = 128, rng: np.random.Generator | None = None) -> ListOfNotes:
    """A random window of a piece to use as a primer, starting on a bar line, notes re-struck."""
    rng = rng or np.random.default_rng()
    if len(notes) <= beats:
        window = list(notes)
    else:
        starts = range(0, len(notes) - beats + 1, 16)
        start = int(rng.choice(list(starts)))
        window = list(notes[start : start + beats])
    if window:
        window[0] = [(p, STRUCK) for p, _ in window[0]]
    return window

"""Endless beat sampling from a token model: the notes of a beat drawn one at a time, each
given the beat so far (radio/music/tokens.py has the serialisation and its grammar).

Each step samples the model's next-token distribution restricted to what the grammar allows
(the same renormalised distribution the held-out likelihood scores), with temperature and
nucleus (top-p) sampling. The guard rails are the frame sampler's: no note is held longer
than ``max_note_beats`` (it must be struck again), at most ``max_notes`` notes per beat, the
temperature rises while the music is silent, and an empty beat is refused once silence reaches
``max_silence_beats``.

The LSTM was trained on windows of ``REFRESH_TOKENS`` tokens from a zero state, so once that
many tokens have been fed the sampler restarts from a zero state and replays the last beats
(about ``REPLAY_TOKENS`` tokens' worth): the state never drifts beyond what training covered.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from radio.model.sampler import MAX_HEAT, SILENCE_HEAT
from radio.model.sampler_settings import SamplerSettings
from radio.music.notes import HELD, STRUCK, Beat, ListOfNotes, normalize, validate
from radio.music.tokens import Grammar, TokenEncoding, beat_tokens

if TYPE_CHECKING:
    from radio.model.model import StyleModel

REFRESH_TOKENS = 384  # the training window
REPLAY_TOKENS = 128


class TokenSampler:
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
        """``values`` are :class:`SamplerSettings` fields (``top_p=0.95``), put into ``settings``."""
        self.settings = SamplerSettings.of(settings, **values)
        self.model = model
        self.encoding: TokenEncoding = model.encoding  # type: ignore[assignment]
        self.network = model.network
        self.rng = np.random.default_rng(seed)
        self._history: deque[Beat] = deque(maxlen=REFRESH_TOKENS)
        self._silent = 0
        self._fed = 0  # tokens fed since the last (re)start
        self._state = self.network.initial_state()
        # Added to the logits of every draw: a composer's steer (radio/station/form.py), None for none.
        self.logit_bias: np.ndarray | None = None
        self._grammar = Grammar(self.encoding, position=0)
        self._logits = self._feed(self.encoding.position_token(0))
        if primer:
            primer = normalize(primer)
            validate(primer)
            for beat in primer:
                for token in beat_tokens(self.encoding, beat):
                    self._grammar.feed(token)
                    self._logits = self._feed(token)
                self._close_beat(beat)
            # The first generated beat strikes everything, so each chunk of output is valid alone.
            self._grammar.previous = {}

    @property
    def position(self) -> int:
        """Beat index of the next beat (drives the bar position)."""
        return self._grammar.position

    def _feed(self, token: int) -> np.ndarray:
        self._fed += 1
        return self.network.step(token, self._state)

    def _close_beat(self, beat: Beat) -> None:
        token = self.encoding.position_token(self._grammar.position + 1)
        self._grammar.feed(token)
        self._history.append(beat)
        self._logits = self._feed(token)
        if self._fed >= REFRESH_TOKENS:
            self._refresh()

    def _refresh(self) -> None:
        enc = self.encoding
        replay: list[list[int]] = []
        total = 0
        for beat in reversed(self._history):
            tokens = beat_tokens(enc, beat)
            if replay and total + len(tokens) + 1 > REPLAY_TOKENS:
                break
            replay.append(tokens)
            total += len(tokens) + 1
        replay.reverse()
        self._state = self.network.initial_state()
        self._fed = 0
        first = self._grammar.position - len(replay)
        self._feed(enc.position_token(first))
        for k, tokens in enumerate(replay):
            for token in tokens:
                self._feed(token)
            self._logits = self._feed(enc.position_token(first + k + 1))

    def next_beats(self, n: int) -> ListOfNotes:
        """The next ``n`` beats of the stream."""
        out: ListOfNotes = []
        for _ in range(n):
            beat = self._sample_beat()
            out.append(beat)
            self._close_beat(beat)
        return out

    def follow(self, beats: ListOfNotes) -> ListOfNotes:
        """Feed ``beats`` as if this sampler had drawn them, so the stream continues from them: a
        composer replays a passage and the model carries on from the replay, not from where it
        was. Returns the beats as fed: a held note that did not sound on the beat before (or has
        been held ``max_note_beats``) is struck instead, and pitches outside the encoding's range
        are dropped, as the grammar demands."""
        enc, grammar = self.encoding, self._grammar
        out: ListOfNotes = []
        for beat in beats:
            fed: Beat = []
            for pitch, tie in sorted(set(beat), reverse=True):  # top down, as the tokens go
                if not enc.low <= pitch <= enc.high or any(p == pitch for p, _ in fed):
                    continue
                held = tie == HELD and grammar.previous.get(pitch, self.settings.max_note_beats) < self.settings.max_note_beats
                fed.append((pitch, HELD if held else STRUCK))
            for token in beat_tokens(enc, fed):
                grammar.feed(token)
                self._logits = self._feed(token)
            played = grammar.beat()
            self._silent = 0 if played else self._silent + 1
            out.append(played)
            self._close_beat(played)
        return out

    def _sample_beat(self) -> Beat:
        heat = min(MAX_HEAT, 1.0 + SILENCE_HEAT * self._silent) if self._silent else 1.0
        temp = self.settings.temperature * heat
        force = self._silent >= self.settings.max_silence_beats
        grammar = self._grammar
        while True:
            mask = grammar.allowed(max_notes=self.settings.max_notes, max_held=self.settings.max_note_beats, force_note=force)
            token = self._draw(self._logits, mask, temp)
            if self.encoding.is_position(token):
                beat = grammar.beat()
                self._silent = 0 if beat else self._silent + 1
                return beat
            grammar.feed(token)
            self._logits = self._feed(token)

    def _draw(self, logits: np.ndarray, mask: np.ndarray, temp: float) -> int:
        allowed = np.flatnonzero(mask)
        if self.logit_bias is not None:
            logits = logits + self.logit_bias
        z = logits[allowed].astype(np.float64) / temp
        top = z.max()
        if not np.isfinite(top):  # NaN or inf logits: the model is broken, and must say so
            raise FloatingPointError(f"the model produced non-finite logits ({top!r})")
        p = np.exp(z - top)
        p /= p.sum()
        if self.settings.top_p < 1.0 and len(allowed) > 1:
            order = np.argsort(-p)
            keep = int(np.searchsorted(np.cumsum(p[order]), self.settings.top_p)) + 1
            allowed, p = allowed[order[:keep]], p[order[:keep]]
            p /= p.sum()
        i = int(np.searchsorted(np.cumsum(p), self.rng.random() * 1.0, side="right"))
        return int(allowed[min(i, len(allowed) - 1)])

"""Endless generation for one channel: the style's model, stepped into pieces.

A piece is the model's output (in C major / A minor) transposed to a new key for playback,
with a title and a breath of rest at its end. Where the style has a form plan, the piece
follows it (radio/station/form.py: sections that return, phrases that close, a register that
holds) and lasts as long as the plan; otherwise it runs the style's ``piece_minutes``. If the model
misbehaves (raises, returns garbage, or falls silent for too long) the piece ends
with a rest and the next one starts from a fresh sampler, so the stream never stops.

The composer is plain synchronous code: the channel runs it in a worker thread.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

from radio.music.form import FormPlan
from radio.music.keys import Key, estimate_key
from radio.music.notes import HELD, STRUCK, Beat, ListOfNotes, beats_for_seconds
from radio.styles import Style
from radio.station.form import BeatSource, FormedPiece
from radio.station.titles import piece_title

log = logging.getLogger(__name__)

LOWEST_PLAYED, HIGHEST_PLAYED = 21, 108  # the piano's range; folded into it by octaves
SHIFTS = tuple(range(-5, 7))  # playback transpositions of the C/Am output: every key once


class Model(Protocol):
    """What the composer needs from :class:`radio.model.StyleModel`."""

    version: str

    def sampler(self, *, temperature: float = 1.0, seed: int | None = None, top_p: float = 1.0) -> BeatSource: ...


def piece_seed(seed: int, counter: int) -> int:
    """The sampler seed of a channel's ``counter``-th piece: every piece differs, and a run is repeatable."""
    return (seed * 1_000_003 + counter) % 2**32


def planned_music(model: Model, plan: FormPlan, *, beats: int, temperature: float = 1.0, seed: int = 0,
                  top_p: float = 1.0) -> list[ListOfNotes]:
    """At least ``beats`` beats of ``model``'s music as the station plays it (in the model's
    key): whole pieces to ``plan``, each from a fresh sampler seeded as the composer seeds its
    pieces; without a plan, one stream of ``beats``. For evaluation and benchmarks, which must
    judge the music listeners hear."""
    if not plan.planned:
        return [model.sampler(temperature=temperature, seed=seed, top_p=top_p).next_beats(beats)]
    pieces: list[ListOfNotes] = []
    while len(pieces) * plan.beats < beats:
        sampler = model.sampler(temperature=temperature, seed=piece_seed(seed, len(pieces)), top_p=top_p)
        pieces.append(FormedPiece(sampler, plan).next_beats(plan.beats))
    return pieces


class ModelMisbehaved(Exception):
    """The model's output cannot be played; ``reason`` is a short label for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass
class PieceInfo:
    """One piece as played: its identity and, growing as it is composed, its notes."""

    piece_id: str
    number: int
    title: str
    key: str
    style: str
    model_version: str
    transpose: int
    bpm: float
    start_beat: int  # the channel's beat index at which the piece starts
    beat_seconds: float
    beats: ListOfNotes = field(default_factory=list)  # in the playback key, rests included

    @property
    def t(self) -> float:
        """Channel stream time (s) at which the piece starts."""
        return self.start_beat * self.beat_seconds

    def summary(self) -> dict:
        return {
            "piece_id": self.piece_id,
            "title": self.title,
            "key": self.key,
            "style": self.style,
            "model_version": self.model_version,
            "t": round(self.t, 4),
        }


@dataclass
class ComposedChunk:
    beats: ListOfNotes  # in the playback key
    piece: PieceInfo
    start_beat: int  # the channel's beat index of beats[0]
    new_piece: bool  # the chunk is the first of its piece


@dataclass(frozen=True)
class ComposerSettings:
    chunk_beats: int = 4  # small, so one chunk's synth + encode never holds the GIL long
    breath_beats: int = 4  # rest between pieces; release tails ring through it
    lookahead_beats: int = 32  # composed before a piece is named, to hear its key
    silence_limit_seconds: float = 8.0  # the model falling silent longer than this restarts the piece

    def __post_init__(self) -> None:
        for name in ("chunk_beats", "breath_beats", "lookahead_beats"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be an int ≥ 1, not {getattr(self, name)!r}")
        if not self.silence_limit_seconds > 0:
            raise ValueError(f"silence_limit_seconds must be > 0, not {self.silence_limit_seconds!r}")


class Composer:
    """Steps a model endlessly into chunks of beats, piece after piece."""

    def __init__(
        self,
        style: Style,
        model: Model,
        *,
        seed: int,
        settings: ComposerSettings | None = None,
        on_restart: Callable[[str], None] | None = None,
    ) -> None:
        self.style = style
        self.model = model
        self.seed = seed
        self.settings = settings or ComposerSettings()
        self.beat_seconds = 60.0 / (style.tempo_bpm * 4)
        self.beat = 0  # beats emitted so far
        self.pieces_started = 0
        self.restarts = 0
        self._on_restart = on_restart
        self._silence_limit = max(1, beats_for_seconds(self.settings.silence_limit_seconds, style.tempo_bpm))
        self._rng = random.Random(seed)
        self._piece: PieceInfo | None = None
        self._last_piece: PieceInfo | None = None
        self._sampler: BeatSource | None = None
        self._ahead: ListOfNotes = []  # composed (playback key) but not yet emitted
        self._left = 0  # beats of the current piece still to emit
        self._silent_run = 0
        self._previous: Beat = []  # the last emitted beat, for held-note continuity
        self._shift = 0
        self._pending: tuple[Model, int | None] | None = None
        self._pending_style: Style | None = None
        self._pending_lock = threading.Lock()  # swap_model runs on the event loop, the rest in the channel thread

    @property
    def model_version(self) -> str:
        return self.model.version

    @property
    def upcoming_version(self) -> str:
        """The version the next piece will be composed with: a pending swap's, else the current one."""
        with self._pending_lock:
            pending = self._pending
        return (pending[0] if pending is not None else self.model).version

    def swap_model(self, model: Model, *, at_beat: int | None = None) -> None:
        """Use ``model`` from the next piece, or from beat ``at_beat`` if that comes first."""
        with self._pending_lock:
            self._pending = (model, at_beat)

    @property
    def _piece_beats(self) -> int:
        """A piece's length in beats: the style's (its form plan's), at least one chunk."""
        return max(self.settings.chunk_beats, self.style.piece_beats)

    def restyle(self, style: Style) -> None:
        """Compose with ``style``'s settings (temperature, top_p, form, piece length) from the next
        piece. Its tempo must be the current one: the beat grid does not change mid-stream."""
        if style.tempo_bpm != self.style.tempo_bpm:
            raise ValueError(f"{style.name}: a running composer keeps its tempo ({self.style.tempo_bpm:g} bpm)")
        with self._pending_lock:
            self._pending_style = style

    def next_chunk(self) -> ComposedChunk:
        if self._piece is None:
            try:
                self._start_piece()
            except ModelMisbehaved as exc:
                return self._restart(exc)
            assert self._piece is not None
            piece, first = self._piece, True
        else:
            piece, first = self._piece, False
        if self._left <= 0 or self._swap_due():
            return self._end_piece()
        try:
            beats = self._take(min(self.settings.chunk_beats, self._left))
        except ModelMisbehaved as exc:
            return self._restart(exc)
        self._left -= len(beats)
        return self._emit(beats, piece, first)

    def _swap_due(self) -> bool:
        pending = self._pending
        return pending is not None and pending[1] is not None and self.beat >= pending[1]

    def _start_piece(self) -> None:
        with self._pending_lock:  # a swap requested right now is taken or kept, never lost
            pending, self._pending = self._pending, None
            style, self._pending_style = self._pending_style, None
        if style is not None:
            self.style = style
        if pending is not None:
            self.model = pending[0]
            log.info("%s: now composing with model %s", self.style.name, self.model.version)
        counter = self.pieces_started
        self.pieces_started += 1
        self._shift = self._rng.choice([s for s in SHIFTS if s != self._shift])
        try:
            self._sampler = self.model.sampler(
                temperature=self.style.temperature, seed=piece_seed(self.seed, counter), top_p=self.style.top_p
            )
        except Exception as exc:  # noqa: BLE001 - any failure of the model restarts the piece
            raise ModelMisbehaved("exception", f"sampler(): {exc!r}") from exc
        if self.style.form.planned:
            self._sampler = FormedPiece(self._sampler, self.style.form)
        self._silent_run = 0
        self._ahead = []
        self._ahead = self._compose(self.settings.lookahead_beats)  # _compose continues from _ahead
        key = self._estimate_key(self._ahead)  # _ahead is already in the playback key
        self._piece = PieceInfo(
            piece_id=f"{self.seed % 16**6:06x}-{counter + 1}",
            number=counter + 1,
            title=piece_title(self.style.name, self.seed, counter, key.name),
            key=key.name,
            style=self.style.name,
            model_version=self.model.version,
            transpose=self._shift,
            bpm=self.style.tempo_bpm,
            start_beat=self.beat,
            beat_seconds=self.beat_seconds,
        )
        self._left = self._piece_beats

    def _estimate_key(self, beats: ListOfNotes) -> Key:
        return estimate_key(beats) if any(beats) else Key(0, "major")

    def _end_piece(self) -> ComposedChunk:
        piece = self._piece
        assert piece is not None
        self._last_piece, self._piece = piece, None
        return self._emit([[] for _ in range(self.settings.breath_beats)], piece, False)

    def _restart(self, exc: ModelMisbehaved) -> ComposedChunk:
        self.restarts += 1
        log.warning("%s: model misbehaved (%s); restarting the piece after a rest", self.style.name, exc)
        if self._on_restart is not None:
            self._on_restart(exc.reason)
        piece = self._piece or self._last_piece
        self._piece = None
        self._sampler = None
        rest = [[] for _ in range(self.settings.breath_beats)]
        if piece is None:  # nothing has ever played: the rest belongs to no piece yet
            piece = self._placeholder()
        self._last_piece = piece
        return self._emit(rest, piece, False)

    def _placeholder(self) -> PieceInfo:
        return PieceInfo(
            piece_id=f"{self.seed % 16**6:06x}-0",
            number=0,
            title="Silence",
            key="",
            style=self.style.name,
            model_version=self.model.version,
            transpose=0,
            bpm=self.style.tempo_bpm,
            start_beat=self.beat,
            beat_seconds=self.beat_seconds,
        )

    def _take(self, n: int) -> ListOfNotes:
        if len(self._ahead) < n:
            self._ahead.extend(self._compose(n - len(self._ahead)))
        out, self._ahead = self._ahead[:n], self._ahead[n:]
        return out

    def _compose(self, n: int) -> ListOfNotes:
        """``n`` beats from the sampler, checked and moved to the playback key."""
        assert self._sampler is not None
        try:
            raw = self._sampler.next_beats(n)
        except Exception as exc:  # noqa: BLE001 - any failure of the model restarts the piece
            raise ModelMisbehaved("exception", f"next_beats(): {exc!r}") from exc
        if not isinstance(raw, list) or len(raw) != n:
            raise ModelMisbehaved("garbage", f"next_beats({n}) returned {type(raw).__name__}, not {n} beats")
        previous = self._ahead[-1] if self._ahead else self._previous
        out: ListOfNotes = []
        for beat in raw:
            played = self._play(beat, previous)
            self._silent_run = self._silent_run + 1 if not played else 0
            if self._silent_run > self._silence_limit:
                raise ModelMisbehaved("silence", f"{self._silent_run} silent beats")
            out.append(played)
            previous = played
        return out

    def _play(self, beat: object, previous: Beat) -> Beat:
        """One beat in the playback key, folded into the piano's range; 's' only where it continues."""
        if not isinstance(beat, (list, tuple)):
            raise ModelMisbehaved("garbage", f"a beat is {type(beat).__name__}")
        sounding_before = {p for p, _ in previous}
        played: dict[int, str] = {}
        for event in beat:
            try:
                pitch, tie = event
            except (TypeError, ValueError) as exc:
                raise ModelMisbehaved("garbage", f"event {event!r}") from exc
            if isinstance(pitch, bool) or not isinstance(pitch, int) or not 0 <= pitch <= 127 or tie not in (STRUCK, HELD):
                raise ModelMisbehaved("garbage", f"event {event!r}")
            p = pitch + self._shift
            while p < LOWEST_PLAYED:
                p += 12
            while p > HIGHEST_PLAYED:
                p -= 12
            if p in played:
                continue
            played[p] = HELD if tie == HELD and p in sounding_before else STRUCK
        return sorted(played.items())

    def _emit(self, beats: ListOfNotes, piece: PieceInfo, first: bool) -> ComposedChunk:
        chunk = ComposedChunk(beats=beats, piece=piece, start_beat=self.beat, new_piece=first)
        piece.beats.extend(beats)
        self.beat += len(beats)
        if beats:
            self._previous = beats[-1]
        return chunk

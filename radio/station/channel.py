"""One style's channel: composer → synth → MP3 encoder → broadcaster, plus what is playing.

The render chain runs in a worker thread that stays ``ahead_seconds`` ahead of the wall
clock; everything listeners and the web API see lives on the event loop, which the thread
reaches only through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from radio.station.calibration import ModelGains, apply_model_gain
from radio.audio.master import MasterSettings
from radio.audio.mp3 import FrameSplitter, Mp3Encoder
from radio.audio.synth import MAX_BPM, MIN_BPM, Synth, check_sound
from radio.broadcast.broadcaster import Broadcaster, BroadcastSettings, StreamClock
from radio.station.composer import ComposedChunk, Composer, ComposerSettings, Model, PieceInfo
from radio.errors import StyleError
from radio.station.events import ChannelEvent, EventFeed, EventSubscriber
from radio.metrics import StationMetrics
from radio.station.recording import FrameHistory
from radio.styles import Style

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
MPEG1_FRAME_SAMPLES = 1152
RECENT_PIECES = 12
# What an edited style.toml changes on a running channel, from its next piece (Channel.restyle).
LIVE_SETTINGS = ("display_name", "description", "temperature", "top_p", "piece_minutes", "form", "corpus_styles")
RECENT_NOTE_SECONDS = 30.0  # notes kept for a page that connects late (its piano roll fills at once)
# LAME quality 3: joint stereo at quality 2 nearly doubles the encoder's cost (about 55x
# real time against 95x for mono), and quality 3 encodes stereo for what mono at 2 cost, which
# keeps a channel's whole chain above 30x real time with the new synth (bench/bench_sound.py).
DEFAULT_QUALITY = 3


@dataclass(frozen=True)
class ChannelSettings:
    bitrate_kbps: int = 128
    quality: int = DEFAULT_QUALITY  # LAME: 0 best/slowest .. 9 fastest
    channels: int = 2  # 2: joint stereo, the voices across a stage; 1: mono (``serve --mono``)
    ahead_seconds: float = 3.0  # encoded audio kept ready beyond the wall-clock live edge
    seed: int | None = None  # composer seed; random when None
    composer: ComposerSettings = field(default_factory=ComposerSettings)
    broadcast: BroadcastSettings = field(default_factory=BroadcastSettings)
    # Station seconds per wall-clock second. Above 1 only for the soak (bench/soak.py), which
    # runs hours of station time in minutes through the very same chain.
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not 0.2 <= self.ahead_seconds <= 60:
            raise ValueError(f"ahead_seconds {self.ahead_seconds!r} must be between 0.2 and 60")
        if self.channels not in (1, 2):
            raise ValueError(f"channels {self.channels!r} must be 1 (mono) or 2 (stereo)")
        if not 0 < self.time_scale <= 100:
            raise ValueError(f"time_scale {self.time_scale!r} must be above 0 and at most 100")


def accelerated(scale: float):
    """A monotonic clock that runs ``scale`` times faster than the wall clock."""
    return lambda: time.monotonic() * scale


def check_playable(style: Style) -> None:
    """Raise :class:`StyleError` naming the setting of ``style.toml`` a channel cannot play,
    so the station skips that style instead of failing to start (or playing silence)."""
    where = f"style {style.name!r} ({style.folder / 'style.toml'})"
    if not MIN_BPM <= style.tempo_bpm <= MAX_BPM:
        raise StyleError(f"{where}: tempo_bpm = {style.tempo_bpm!r} must be between {MIN_BPM:g} and {MAX_BPM:g}")
    if not 0 < style.temperature < float("inf"):
        raise StyleError(f"{where}: temperature = {style.temperature!r} must be a number above 0")
    try:
        check_sound(style.sound)
    except StyleError as exc:
        raise StyleError(f"{where}: {exc}") from exc
    try:
        MasterSettings(gain_db=style.loudness_gain_db)
    except ValueError as exc:
        raise StyleError(f"{where}: [loudness] {exc}") from exc


class Channel:
    """A running style: its composer thread, its broadcaster and its recent pieces."""

    blend = None  # the BlendSpec of a blend channel (radio.station.blends), None for a style's own

    def __init__(
        self,
        style: Style,
        model: Model,
        *,
        settings: ChannelSettings | None = None,
        metrics: StationMetrics | None = None,
    ) -> None:
        check_playable(style)
        self.style = style
        self.settings = settings or ChannelSettings()
        self.metrics = metrics or StationMetrics()
        seed = self.settings.seed if self.settings.seed is not None else secrets.randbits(32)
        self.composer = Composer(
            style, model, seed=seed, settings=self.settings.composer, on_restart=self._count_restart
        )
        self.beat_seconds = self.composer.beat_seconds
        self.broadcaster = Broadcaster(
            style.name,
            frame_seconds=MPEG1_FRAME_SAMPLES / SAMPLE_RATE,
            settings=self.settings.broadcast,
            metrics=self.metrics,
            clock=StreamClock(accelerated(self.settings.time_scale)) if self.settings.time_scale != 1 else None,
            on_listeners=self._listeners_changed,
        )
        for family in (self.metrics.underruns, self.metrics.listener_drops, self.metrics.bytes_sent, self.metrics.listeners):
            family.labels(self.name)  # so every channel's series exists (at 0) from the start
        self._pieces: deque[PieceInfo] = deque(maxlen=RECENT_PIECES)
        self.recording = FrameHistory(MPEG1_FRAME_SAMPLES / SAMPLE_RATE)  # "record what you heard"
        self._notes: deque[ChannelEvent] = deque()
        self.events = EventFeed(lambda: self.listeners)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._produced_seconds = 0.0
        self.failed: BaseException | None = None
        # Each model plays at its own calibrated gain, so a swap is at -16 LUFS from its first minute.
        self.gains = ModelGains(style)
        self.gains.learn_in_background(model)
        self._swap_deadline: float | None = None  # see swap_deadline

    @property
    def name(self) -> str:
        return self.style.name

    # --- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        # Built here, not in the thread, so bad settings fail the caller instead of a thread.
        synth = Synth(
            self.style.sound, bpm=self.style.tempo_bpm, sample_rate=SAMPLE_RATE,
            master=MasterSettings(gain_db=self.style.loudness_gain_db), channels=self.settings.channels,
        )
        encoder = Mp3Encoder(
            bitrate_kbps=self.settings.bitrate_kbps, sample_rate=SAMPLE_RATE, quality=self.settings.quality,
            channels=self.settings.channels,
        )
        self._thread = threading.Thread(
            target=self._produce, args=(synth, encoder), name=f"channel-{self.name}", daemon=True
        )
        self._thread.start()
        self.broadcaster.start()
        log.info("channel %s started (model %s)", self.name, self.composer.model_version)

    async def stop(self) -> None:
        self._stop.set()
        await self.broadcaster.stop()
        self.events.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the render chain (worker thread) --------------------------------------------
    def _produce(self, synth: Synth, encoder: Mp3Encoder) -> None:
        splitter = FrameSplitter()
        frame_seconds = self.broadcaster.frame_seconds
        clock = self.broadcaster.clock
        stage = self.metrics.stage_seconds
        compose_h, synth_h, encode_h = (stage.labels(self.name, s) for s in ("compose", "synth", "encode"))
        audio = self.metrics.audio_seconds.labels(self.name)
        frames_out = 0
        while not self._stop.is_set():
            try:
                lead = self._produced_seconds - clock.position() - self.settings.ahead_seconds
                if lead > 0:
                    self._stop.wait(min(lead, 0.1))
                    continue
                t0 = time.perf_counter()
                chunk = self.composer.next_chunk()
                t1 = time.perf_counter()
                apply_model_gain(synth, self.gains, chunk.piece.model_version)
                try:
                    pcm = synth.render(chunk.beats)
                    if not np.isfinite(pcm).all():  # NaN would reach LAME as full-scale clicks
                        raise FloatingPointError("the synth produced non-finite samples")
                except Exception:  # noqa: BLE001 - a beat the synth rejects becomes a rest, not a stall
                    log.exception("channel %s: the synth failed on a chunk; playing a rest instead", self.name)
                    self._count_restart("render")
                    pcm = synth.render([[] for _ in chunk.beats])
                    if not np.isfinite(pcm).all():  # even the rest: silence it, keep the timeline
                        pcm = np.nan_to_num(pcm, nan=0.0, posinf=0.0, neginf=0.0)
                t2 = time.perf_counter()
                frames = splitter.feed(encoder.encode(pcm))
                t3 = time.perf_counter()
                compose_h.observe(t1 - t0)
                synth_h.observe(t2 - t1)
                encode_h.observe(t3 - t2)
                audio.inc(len(pcm) / SAMPLE_RATE)
                frames_out += len(frames)
                self._produced_seconds = frames_out * frame_seconds
                self._call(self._deliver, chunk, frames)
            except Exception as exc:  # noqa: BLE001 - a broken chunk must not end the channel
                # Listeners hear a short rest; /healthz shows the error; the chain goes on.
                self.failed = exc
                log.exception("channel %s: the render chain failed; carrying on after a short rest", self.name)
                self._count_restart("render-chain")
                self._stop.wait(0.5)

    def _call(self, fn, *args) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed under us: we are shutting down
            self._stop.set()

    def _count_restart(self, reason: str) -> None:
        self.metrics.composer_restarts.labels(self.name, reason).inc()

    # --- on the event loop -----------------------------------------------------------
    def _deliver(self, chunk: ComposedChunk, frames: list[bytes]) -> None:
        piece = chunk.piece
        if not self._pieces or self._pieces[-1] is not piece:
            self._pieces.append(piece)
            self.events.publish(ChannelEvent("piece", piece.summary()))
        notes = {
            "t": round(chunk.start_beat * self.beat_seconds, 4),
            "beat_seconds": self.beat_seconds,
            "beats": [[[p, tie] for p, tie in beat] for beat in chunk.beats],
        }
        event = ChannelEvent("notes", notes)
        self._notes.append(event)
        while self._notes and self._notes[0].data["t"] < notes["t"] - RECENT_NOTE_SECONDS - self.settings.ahead_seconds:
            self._notes.popleft()
        self.events.publish(event)
        self.recording.add(frames)
        self.broadcaster.push(frames, f"{piece.title} — {self.style.display_name}")

    def _listeners_changed(self, count: int) -> None:
        self.events.listeners_changed()

    # --- what the web API uses -------------------------------------------------------
    @property
    def listeners(self) -> int:
        return len(self.broadcaster.listeners)

    @property
    def model_version(self) -> str:
        piece = self.heard_piece()
        return piece.model_version if piece is not None else self.composer.model_version

    @property
    def model_kind(self) -> str | None:
        """The encoding of the model composing now (``token``, ``continuo``...): models blend
        only within one kind, so the mixer page offers only mixes of one kind."""
        return getattr(getattr(self.composer.model, "encoding", None), "name", None)

    @property
    def upcoming_model_version(self) -> str:
        """The version that will play once what is composed now has been heard."""
        return self.composer.upcoming_version

    def heard_piece(self) -> PieceInfo | None:
        heard = self.broadcaster.heard_time()
        current = None
        for piece in self._pieces:
            if piece.t <= heard + 1e-9 or current is None:
                current = piece
        return current

    def now_playing(self) -> dict | None:
        """The piece a listener at the live edge hears now (None before the first chunk)."""
        piece = self.heard_piece()
        if piece is None:
            return None
        heard = self.broadcaster.heard_time()
        return {
            "title": piece.title,
            "key": piece.key,
            "style": self.name,
            "started_at": round(time.time() - max(0.0, heard - piece.t), 3),
            "piece_id": piece.piece_id,
            "model_version": piece.model_version,
        }

    def recent_pieces(self) -> list[PieceInfo]:
        """Pieces already heard or playing now, oldest first, with their notes (playback key)."""
        heard = self.broadcaster.heard_time()
        current = self.heard_piece()
        return [p for p in self._pieces if p.t <= heard or p is current]

    def find_piece(self, piece_id: str) -> PieceInfo | None:
        return next((p for p in self.recent_pieces() if p.piece_id == piece_id), None)

    # --- hot swap: a model, its deadline, and when listeners will hear it ---------------
    def swap_model(self, model: Model, *, within_seconds: float | None = None) -> None:
        """Play ``model`` from the next piece boundary, or start a new piece with it once
        ``within_seconds`` of audio (as heard) have passed. The stream never pauses."""
        at_beat = None
        if within_seconds is not None:
            if within_seconds < 0 or math.isnan(within_seconds):
                raise ValueError(f"within_seconds must be ≥ 0, not {within_seconds!r}")
            at_beat = math.ceil((self.broadcaster.heard_time() + within_seconds) / self.beat_seconds)
        self.composer.swap_model(model, at_beat=at_beat)
        self.gains.learn_in_background(model)
        self._swap_deadline = None if within_seconds is None else time.monotonic() + within_seconds
        self.metrics.model_swaps.labels(self.name).inc()
        log.info(
            "channel %s: model %s will play %s",
            self.name, getattr(model, "version", "?"),
            "from the next piece" if at_beat is None else f"within {within_seconds:g} s",
        )

    def restyle(self, style: Style) -> list[str]:
        """Play ``style``'s composing settings (:data:`LIVE_SETTINGS`) from the next piece; the
        stream never pauses. Returns the settings that differ but wait for the channel's next
        start (tempo, instrument, dynamics, room, loudness: the synth is built once per run)."""
        check_playable(style)
        live = dataclasses.replace(self.style, **{name: getattr(style, name) for name in LIVE_SETTINGS})
        self.composer.restyle(live)
        self.style = live
        kept = {"folder", "model_file", *LIVE_SETTINGS}
        return [f.name for f in dataclasses.fields(style)
                if f.name not in kept and getattr(style, f.name) != getattr(live, f.name)]

    @property
    def swap_pending(self) -> bool:
        """Whether a swapped-in model has yet to reach listeners' ears."""
        return self.model_version != self.upcoming_model_version

    @property
    def swap_deadline(self) -> float | None:
        """The ``time.monotonic()`` by which the last swap starts a new piece with its model, or
        None when it waits for the next piece boundary."""
        return self._swap_deadline

    def swap_eta(self) -> float | None:
        """About how many seconds until listeners hear the upcoming model (None: not known yet).

        The composer takes a pending model at its next piece (or, with a deadline, at the first
        chunk past it) and the new piece is heard once the audio ahead of it has played: this
        follows the composer's own timing, so it is good to a beat or two. The piece's length is
        the style's ``piece_beats`` (a form plan's, when the style has one)."""
        composer = self.composer
        heard = self.broadcaster.heard_time()
        ahead = max(0.0, composer.beat * self.beat_seconds - heard)  # composed but not yet heard
        if composer.model_version == self.upcoming_model_version:
            return ahead  # already composing with it: heard once the buffer ahead has played
        breath = composer.settings.breath_beats * self.beat_seconds
        if self._swap_deadline is not None:  # the composer starts a new piece at the deadline (in its own, earlier time)
            return max(ahead, self._swap_deadline - time.monotonic()) + breath
        piece = self.heard_piece()
        if piece is None:
            return None
        length = max(composer.settings.chunk_beats, self.style.piece_beats)
        cycle = length * self.beat_seconds + breath
        boundary = piece.t + cycle  # the heard piece's end, breath included
        now_composing = composer.beat * self.beat_seconds
        while boundary < now_composing:  # the composer is already past it, still with the old model
            boundary += cycle
        return max(0.0, boundary - heard)

    def subscribe_events(self, sid: str | None = None) -> EventSubscriber:
        """A live feed; it starts with what a page needs to draw the present at once."""
        heard = self.broadcaster.heard_time()
        current = self.heard_piece()
        backlog = [ChannelEvent("piece", p.summary()) for p in self._pieces if p is current or p.t > heard]
        backlog += [n for n in self._notes if n.data["t"] >= heard - RECENT_NOTE_SECONDS]
        return self.events.subscribe(sid, backlog)

    def unsubscribe_events(self, sub: EventSubscriber) -> None:
        self.events.unsubscribe(sub)

    def stream_started(self, sid: str, stream_start: float) -> None:
        """Record where a sid's MP3 response began and tell its events feed."""
        self.events.stream_started(sid, stream_start)

    def status(self) -> dict:
        return {
            "running": self.running,
            "model_version": self.model_version,
            "listeners": self.listeners,
            "buffer_ahead_seconds": round(self.broadcaster.ahead_seconds, 3),
            "underruns": self.broadcaster.underruns,
            "composer_restarts": self.composer.restarts,
            "stream_seconds": round(self.broadcaster.released_seconds, 3),
            "last_error": f"{type(self.failed).__name__}: {self.failed}" if self.failed else None,
        }

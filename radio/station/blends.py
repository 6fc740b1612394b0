"""Blend channels, "the mixer": two or three styles' models composing together, on demand.

A blend is asked for by weights (``?baroque=0.7&folk=0.3``). The weights are normalised
and quantised to tenths (largest remainder, so they still sum to one), which makes "the
same blend" a small, shareable set: everyone asking for about 70/30 hears one channel,
one composer and one MP3 encoder. A blend's channel is an ordinary :class:`Channel`
whose model is :func:`radio.model.blend.blend_models` over the parents' live models
(by the rule its ``auto_rule`` picks: each step's logits the weighted sum of theirs, or, for
fine-tunes of one base, one network of their averaged weights; the blend's model version and
description say which) and whose style is the parents' settings mixed by the same weights:

- tempo, sampling temperature, nucleus ``top_p`` and piece length: weighted means;
- timbre: every field a weighted mean, partial by partial (a missing partial counts 0),
  so a 70/30 blend sounds mostly like the heavier parent's instrument;
- instrument voices, dynamics and room: the same, voice by voice (radio.styles.blend_sounds);
- loudness gain: the weighted mean of the parents' calibrated gains, in dB; the master
  stage's follower corrects what that misses, as for any style.

Blends start when first asked for and stop after ``grace_seconds`` with no listener on
their stream; one started for a caller who is not listening yet (``POST /api/mix``) stops
after ``first_listener_seconds`` if no listener comes. At most ``max_blends`` run at once
(``continuo serve --max-blends``); past that the caller gets :class:`BlendsFull` (the web
layer answers 503, and caps what one client may keep going: radio/web/limits.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from radio.station.channel import Channel
from radio.station.composer import Model
from radio.errors import ContinuoError
from radio.model.blend import blend_models
from radio.styles import Style, Timbre, blend_sounds

log = logging.getLogger(__name__)

STEPS = 10  # weights are quantised to tenths
MAX_PARENTS = 3
BLEND_PREFIX = "mix-"
NOT_STYLES = frozenset({"sid"})  # query parameters of a blend URL that are not weights
# A page POSTs /api/mix and opens the stream a moment later; a blend nobody opens in this long
# was not asked for by a listener, and gives its slot back.
FIRST_LISTENER_SECONDS = 10.0


class BlendError(ContinuoError):
    """A blend that cannot be made; ``status`` is the HTTP status the web layer answers."""

    status = 400


class UnknownStyle(BlendError):
    status = 404


class BlendsFull(BlendError):
    status = 503

    def __init__(self, message: str, retry_after: float = 60.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until a blend may have been reaped


class BlendsIncompatible(BlendError):
    status = 409


@dataclass(frozen=True)
class BlendSpec:
    """A quantised blend: (style, tenths) pairs, heaviest first, tenths summing to 10."""

    parts: tuple[tuple[str, int], ...]

    @property
    def name(self) -> str:
        """The channel id, e.g. ``mix-baroque70-folk30``."""
        return BLEND_PREFIX + "-".join(f"{style}{tenths * 10}" for style, tenths in self.parts)

    @property
    def styles(self) -> list[str]:
        return [style for style, _ in self.parts]

    @property
    def weights(self) -> list[float]:
        return [tenths / STEPS for _, tenths in self.parts]

    @property
    def query(self) -> str:
        return "&".join(f"{style}={tenths / STEPS:g}" for style, tenths in self.parts)

    @property
    def stream_url(self) -> str:
        return f"/stream/mix.mp3?{self.query}"

    def display_name(self, styles: Mapping[str, Style]) -> str:
        return " · ".join(f"{styles[s].display_name} {t * 10}%" for s, t in self.parts)


def quantise(weights: Mapping[str, float]) -> list[tuple[str, int]]:
    """Normalise and round to tenths by largest remainder; parts that round to 0 are dropped."""
    total = sum(weights.values())
    exact = {name: w / total * STEPS for name, w in weights.items()}
    tenths = {name: math.floor(x) for name, x in exact.items()}
    left = STEPS - sum(tenths.values())
    for name in sorted(exact, key=lambda n: (-(exact[n] - tenths[n]), -exact[n], n))[:left]:
        tenths[name] += 1
    return sorted(((n, t) for n, t in tenths.items() if t > 0), key=lambda p: (-p[1], p[0]))


def parse_blend(query: Mapping[str, str], known: Sequence[str]) -> BlendSpec | str:
    """The blend a URL's query asks for, or the one style's name when the weights round
    to a single style. Raises :class:`BlendError` naming what is wrong."""
    weights: dict[str, float] = {}
    for key, text in query.items():
        if key in NOT_STYLES:
            continue
        if key not in known:
            raise UnknownStyle(f"no style named {key!r} to blend; styles on air: {', '.join(known) or 'none'}")
        try:
            value = float(text)
        except ValueError:
            raise BlendError(f"the weight of {key} must be a number, not {text!r}") from None
        if not (math.isfinite(value) and value >= 0):
            raise BlendError(f"the weight of {key} must be a finite number ≥ 0, not {text!r}")
        weights[key] = weights.get(key, 0.0) + value
    if not weights or sum(weights.values()) <= 0:
        raise BlendError("name two or three styles with weights, e.g. /stream/mix.mp3?baroque=0.7&folk=0.3")
    parts = quantise(weights)
    if len(parts) == 1:
        return parts[0][0]
    if len(parts) > MAX_PARENTS:
        raise BlendError(
            f"a blend mixes at most {MAX_PARENTS} styles; these weights keep {len(parts)} "
            f"({', '.join(f'{s} {t * 10}%' for s, t in parts)})"
        )
    return BlendSpec(tuple(parts))


def _mean(values: Sequence[float], weights: Sequence[float]) -> float:
    return float(sum(v * w for v, w in zip(values, weights)))


def blend_rule(model: object) -> str:
    """The rule a blended model was made by (its header's ``blend_rule``; "product" if it names none)."""
    header = getattr(model, "header", None)
    return str(header.get("blend_rule", "product")) if isinstance(header, dict) else "product"


def blend_style(spec: BlendSpec, parents: Mapping[str, Style], rule: str = "product") -> Style:
    """The blend's settings: the parents' mixed by the blend's weights (see the module doc).
    ``rule`` (the model's :func:`blend_rule`) only changes the description's wording."""
    styles = [parents[name] for name in spec.styles]
    w = spec.weights
    length = max(len(s.timbre.partials) for s in styles)
    partials = tuple(
        _mean([s.timbre.partials[k] if k < len(s.timbre.partials) else 0.0 for s in styles], w) for k in range(length)
    )
    fields = {
        f.name: _mean([getattr(s.timbre, f.name) for s in styles], w)
        for f in dataclasses.fields(Timbre)
        if f.name != "partials"
    }
    display = spec.display_name(parents)
    return Style(
        name=spec.name,
        display_name=display,
        description=(
            "A blend: every step composed by the "
            + " and ".join(f"{s.display_name} ({t * 10}%)" for s, (_, t) in zip(styles, spec.parts))
            + " models together."
            if rule != "weights"
            else "A blend: composed by one model whose weights are "
            + " and ".join(f"{s.display_name}'s ({t * 10}%)" for s, (_, t) in zip(styles, spec.parts))
            + " averaged."
        ),
        tempo_bpm=_mean([s.tempo_bpm for s in styles], w),
        temperature=_mean([s.temperature for s in styles], w),
        top_p=_mean([s.top_p for s in styles], w),
        piece_minutes=_mean([s.piece_minutes for s in styles], w),
        folder=styles[0].folder,
        model_file=styles[0].model_file,
        corpus_styles=tuple(c for s in styles for c in s.corpus_styles),
        timbre=Timbre(partials=partials, **fields),
        loudness_gain_db=_mean([s.loudness_gain_db for s in styles], w),
        # One plan for the piece: the weightier parent's (the first on a tie).
        form=max(zip(styles, w), key=lambda sw: sw[1])[0].form,
        **blend_sounds(styles, w),  # voices, dynamics and room, mixed the same way
    )


class Mixer:
    """The station's blend channels: started on demand, capped, reaped when nobody listens."""

    def __init__(
        self,
        station,
        *,
        max_blends: int = 4,
        grace_seconds: float = 60.0,
        blend: Callable[[Sequence[Model], Sequence[float]], Model] = blend_models,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (isinstance(max_blends, int) and max_blends >= 0):
            raise ValueError(f"max_blends must be an int ≥ 0, not {max_blends!r}")
        if not grace_seconds > 0:
            raise ValueError(f"the blend grace period must be > 0 seconds, not {grace_seconds!r}")
        self.station = station
        self.max_blends = max_blends
        self.grace_seconds = grace_seconds
        self.blend = blend  # (models, weights) -> model; radio.model.blend in production
        self._clock = clock
        self._starting: dict[str, asyncio.Future] = {}
        self._idle_since: dict[str, float] = {}
        # Blends still waiting for their first listener, and how long they may wait: a blend
        # asked for by POST and never listened to must not hold a slot for the whole grace.
        self._first_wait: dict[str, float] = {}
        self.first_listener_seconds = min(FIRST_LISTENER_SECONDS, grace_seconds)
        self._task: asyncio.Task | None = None
        self.started = 0
        self.reaped = 0

    @property
    def channels(self) -> dict[str, Channel]:
        return self.station.blends

    def parse(self, query: Mapping[str, str]) -> BlendSpec | str:
        return parse_blend(query, list(self.station.channels))

    async def channel_for(self, spec: BlendSpec, *, listening: bool = True) -> Channel:
        """The blend's channel, started now if it is not running (and the cap allows).
        ``listening=False``: the caller is not a listener (yet), so a blend started for it
        stops after ``first_listener_seconds`` unless a listener comes."""
        channel = self.channels.get(spec.name)
        if channel is not None:
            return channel
        pending = self._starting.get(spec.name)
        if pending is not None:  # someone else is starting the same blend: share it
            return await asyncio.shield(pending)
        if self.max_blends == 0:
            raise BlendsFull("blends are turned off on this station (continuo serve --max-blends 0)", 3600)
        if len(self.channels) + len(self._starting) >= self.max_blends:
            live = ", ".join(c.style.display_name for c in self.channels.values())
            raise BlendsFull(
                f"the station already plays its {self.max_blends} blend channel(s) (continuo serve --max-blends "
                f"{self.max_blends}): {live or 'starting'}. Listen to one of those or to a single style, or try again "
                f"once a blend without listeners has stopped (within {self.grace_seconds:g} s).",
                self.grace_seconds,
            )
        future = asyncio.get_running_loop().create_future()
        self._starting[spec.name] = future
        try:
            channel = await self._start(spec)
            if not listening:
                self._first_wait[spec.name] = self.first_listener_seconds
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting callers get it, nobody else must
            raise
        finally:
            self._starting.pop(spec.name, None)
        future.set_result(channel)
        return channel

    async def _start(self, spec: BlendSpec) -> Channel:
        parents = {name: self.station.channels[name] for name in spec.styles if name in self.station.channels}
        missing = [name for name in spec.styles if name not in parents]
        if missing:
            raise UnknownStyle(f"style(s) {', '.join(missing)} are not on air")
        models = [parents[name].composer.model for name in spec.styles]
        try:
            model = await asyncio.to_thread(self.blend, models, spec.weights)
        except ValueError as exc:  # e.g. models of different encodings
            raise BlendsIncompatible(f"{spec.display_name({n: c.style for n, c in parents.items()})}: {exc}") from exc
        style = blend_style(spec, {name: c.style for name, c in parents.items()}, blend_rule(model))
        channel = Channel(style, model, settings=self.station.settings, metrics=self.station.metrics)
        channel.blend = spec
        await channel.start()
        self.channels[spec.name] = channel
        self._idle_since[spec.name] = self._clock()
        self.started += 1
        log.info("blend %s started (%s; %d of %d)", spec.name, style.display_name, len(self.channels), self.max_blends)
        return channel

    # --- reaping -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="blend-reaper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await asyncio.gather(*(c.stop() for c in self.channels.values()))
        self.channels.clear()

    async def _run(self) -> None:
        while True:
            shortest = min(self.grace_seconds, self.first_listener_seconds)
            await asyncio.sleep(max(0.05, min(5.0, shortest / 4)))
            try:
                await self.reap()
            except Exception:  # noqa: BLE001 - the reaper must outlive one bad stop
                log.exception("blend reaper failed")

    async def reap(self) -> list[str]:
        """Stop every blend that has had no listener for the grace period; returns their names."""
        now = self._clock()
        gone = []
        for name, channel in list(self.channels.items()):
            if channel.listeners:
                self._idle_since.pop(name, None)
                self._first_wait.pop(name, None)  # it has had a listener: the full grace from now on
                continue
            since = self._idle_since.setdefault(name, now)
            if now - since >= self._first_wait.get(name, self.grace_seconds):
                gone.append(name)
                self.channels.pop(name, None)
                self._idle_since.pop(name, None)
                self._first_wait.pop(name, None)
                self.reaped += 1
                await channel.stop()
                log.info("blend %s stopped: no listener for %.0f s", name, now - since)
        return gone

    def status(self) -> dict:
        return {
            "max_blends": self.max_blends,
            "grace_seconds": self.grace_seconds,
            "live": [
                {"id": name, "name": c.style.display_name, "listeners": c.listeners} for name, c in self.channels.items()
            ],
        }

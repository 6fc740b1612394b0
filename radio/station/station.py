"""The station: one channel per style, started and stopped together, and the blends
that listeners ask for (:mod:`radio.station.blends`), started on demand."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from radio.station.blends import Mixer
from radio.station.channel import Channel, ChannelSettings
from radio.station.composer import Model
from radio.errors import ContinuoError, StyleError
from radio.metrics import StationMetrics
from radio.styles import Style

log = logging.getLogger(__name__)


def _load_model(path: Path) -> Model:
    from radio.model import load_model  # numpy only; never TensorFlow

    return load_model(path)


class Station:
    """Every channel of the radio, with one metrics registry between them."""

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        *,
        metrics: StationMetrics | None = None,
        model_loader: Callable[[Path], Model] = _load_model,
        max_blends: int = 4,
        blend_grace_seconds: float = 60.0,
    ) -> None:
        self.settings = settings or ChannelSettings()
        self.metrics = metrics or StationMetrics()
        self.channels: dict[str, Channel] = {}
        self.blends: dict[str, Channel] = {}  # blend channels, by id ("mix-baroque70-folk30"); see radio.station.blends
        self.mixer = Mixer(self, max_blends=max_blends, grace_seconds=blend_grace_seconds)
        self.skipped: dict[str, str] = {}  # style -> why it has no channel (shown on /healthz)
        self._load = model_loader
        self._started = False
        # Called with each channel started after the station itself (e.g. to push it to Icecast).
        self.on_channel_started: list[Callable[[Channel], None]] = []

    async def start(self) -> None:
        self._started = True
        for channel in self.channels.values():
            await channel.start()
        self.mixer.start()

    async def stop(self) -> None:
        self._started = False
        await self.mixer.stop()
        await asyncio.gather(*(channel.stop() for channel in self.channels.values()))

    async def add_style(self, style: Style, model: Model | None = None) -> Channel:
        """A new channel, started at once if the station runs. Without ``model`` the style's
        bundled model file is loaded; a bad file raises (ModelFileError) and adds nothing."""
        if style.name in self.channels:
            raise StyleError(f"style {style.name!r} already has a channel; swap its model instead")
        if model is None:
            model = await asyncio.to_thread(self._load, style.model_path)
        channel = Channel(style, model, settings=self.settings, metrics=self.metrics)
        self.channels[style.name] = channel
        self.skipped.pop(style.name, None)
        if self._started:
            await channel.start()
            for hook in self.on_channel_started:
                hook(channel)
        return channel

    async def add_styles(self, styles: list[Style]) -> list[str]:
        """Add every style whose model loads; log and skip the rest. Returns the skipped names."""
        skipped = []
        for style in styles:
            try:
                await self.add_style(style)
            except StyleError as exc:
                skipped.append(style.name)
                self.skipped[style.name] = str(exc)
                log.error("style %s skipped: %s", style.name, exc)
            except (ContinuoError, OSError) as exc:
                skipped.append(style.name)
                self.skipped[style.name] = str(exc)
                log.error("style %s skipped: its model %s cannot be used: %s", style.name, style.model_path, exc)
        return skipped

    def channel(self, name: str) -> Channel | None:
        """A style's channel or a live blend's."""
        return self.channels.get(name) or self.blends.get(name)

"""Model versions on air: list a style's versions, activate one (a new channel, or a hot
swap through the channel's own swap API), and say when listeners will hear it.

The admin talks to the station only through :class:`OnAir` and :class:`OnAirChannel`: the
channels by name, ``add_style``, a channel's ``swap_model``/``swap_deadline``/``swap_eta``
(computed by the channel, where the swap happens) and ``restyle`` (edited settings).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Protocol

from radio.admin.comparison import compare
from radio.admin.errors import NotFound, ServiceUnavailable, Unprocessable
from radio.admin.feed import AdminFeed
from radio.admin.jobs import hide_paths
from radio.admin.style_service import StyleService
from radio.admin.version_facts import METRICS, ModelVersion
from radio.admin.versions import VersionRegistry, check_model
from radio.errors import LibraryError, ModelFileError, StyleError
from radio.library.store_threads import in_store_thread
from radio.station.composer import Model
from radio.styles import Style

log = logging.getLogger("radio.admin")


class OnAirChannel(Protocol):
    """What the admin needs of a channel (radio.station.channel.Channel)."""

    style: Style

    @property
    def model_version(self) -> str: ...
    @property
    def upcoming_model_version(self) -> str: ...
    @property
    def swap_pending(self) -> bool: ...
    @property
    def swap_deadline(self) -> float | None: ...
    def swap_model(self, model: Model, *, within_seconds: float | None = None) -> None: ...
    def swap_eta(self) -> float | None: ...
    def restyle(self, style: Style) -> list[str]: ...


class OnAir(Protocol):
    """What the admin needs of the station (radio.station.station.Station)."""

    @property
    def channels(self) -> Mapping[str, OnAirChannel]: ...
    async def add_style(self, style: Style, model: Model | None = None) -> OnAirChannel: ...


class Activations:
    def __init__(self, station: OnAir, styles: StyleService, registry: VersionRegistry, feed: AdminFeed,
                 *, swap_seconds: float | None, lock: asyncio.Lock) -> None:
        self.station = station
        self.styles = styles
        self.registry = registry
        self.feed = feed
        self.swap_seconds = swap_seconds
        self.lock = lock  # serialises activations and style creation

    def channel(self, name: str) -> OnAirChannel | None:
        return self.station.channels.get(name)

    def on_air_signature(self) -> tuple:
        """What changes on air without an admin action (a swap being heard): a feed compares
        this every second and sends the styles again when it differs."""
        return tuple(sorted(
            (name, c.model_version, c.upcoming_model_version) for name, c in self.station.channels.items()
        ))

    def swap_state(self, name: str) -> dict[str, Any] | None:
        """Whether a newly activated version is still on its way to listeners' ears, and about when
        it will be heard. None for a style that is not on air."""
        channel = self.channel(name)
        if channel is None:
            return None
        if not channel.swap_pending:
            return {"pending": False, "version": None, "eta_seconds": None, "expected_at": None, "deadline": None}
        eta = channel.swap_eta()
        expected = None if eta is None else (datetime.now(timezone.utc) + timedelta(seconds=eta)).isoformat(timespec="seconds")
        return {"pending": True, "version": channel.upcoming_model_version,
                "eta_seconds": None if eta is None else round(eta, 1), "expected_at": expected,
                "deadline": "piece boundary" if channel.swap_deadline is None else "within_seconds"}

    async def list_versions(self, name: str) -> dict[str, Any]:
        style = self.styles.style(name)
        versions = await in_store_thread(self.registry.versions, style)
        channel = self.channel(name)
        active = next((v for v in versions if v.active), None)
        out = []
        for v in versions:
            data = v.to_dict()
            data["comparison"] = compare(v, active)  # against the active version: same held-out set? better?
            out.append(data)
        return {
            "style": name,
            "playing_version": getattr(channel, "model_version", None),
            "active_version": active.version if active else None,
            "swap": self.swap_state(name),
            "metrics": [dataclasses.asdict(m) for m in METRICS],
            "versions": out,
        }

    async def activate(self, name: str, version: str, *, within_seconds: float | None = None,
                       reason: str = "activated by an admin", record: bool = True) -> dict[str, Any]:
        """Put a version on air here and (``record``) make it the style's active version everywhere."""
        style = self.styles.style(name)
        async with self.lock:
            try:
                found: ModelVersion | None = await in_store_thread(self.registry.find, style, version)
                if found is None:
                    raise NotFound(f"style {name!r} has no model version {version!r}")
                model = await in_store_thread(lambda: check_model(self.registry.fetch(found)))
            except ModelFileError as exc:
                log.warning("admin: %s version %s refused: %s", name, version, exc)
                raise Unprocessable(f"version {version} was rejected, the current model keeps playing: {hide_paths(str(exc))}") from exc
            except LibraryError as exc:  # the shared catalog or store is unreachable
                log.warning("admin: %s version %s cannot be fetched: %s", name, version, exc)
                raise ServiceUnavailable(
                    f"version {version} cannot be had now, the current model keeps playing: {hide_paths(str(exc))}"
                ) from exc
            within = self.swap_seconds if within_seconds is None else within_seconds
            channel = self.channel(name)
            if channel is None:
                try:
                    channel = await self.station.add_style(dataclasses.replace(style, model_file=found.path), model)
                except StyleError as exc:  # its style.toml asks for something a channel cannot play
                    raise Unprocessable(f"style {name!r} cannot go on air: {hide_paths(str(exc))}") from exc
                how = "a new channel"
            elif channel.model_version == found.version == channel.upcoming_model_version:
                how = "already playing"
            else:
                channel.swap_model(model, within_seconds=within)
                how = "next piece boundary" if within is None else f"within {within:g} s"
            if record:
                await in_store_thread(self.registry.set_active, name, found)
        log.info("admin: %s version %s activated (%s; %s)", name, version, how, reason)
        self.feed.publish("styles")
        return {"style": name, "version": found.version, "swap": how, "reason": reason,
                "swap_state": self.swap_state(name)}

    def restyle(self, style: Style, *, reason: str) -> dict[str, Any]:
        """Hand an edited style to its channel, if it is on air here: its composing settings play
        from the next piece; what needs a new synth waits for the channel's next start."""
        channel = self.channel(style.name)
        if channel is None:
            return {"style": style.name, "on_air": False, "live": False, "at_next_start": []}
        try:
            waiting = channel.restyle(style)
        except StyleError as exc:
            raise Unprocessable(f"style {style.name!r} cannot be played as edited: {hide_paths(str(exc))}") from exc
        log.info("admin: %s plays its edited settings from the next piece (%s)%s", style.name, reason,
                 f"; {', '.join(waiting)} from the channel's next start" if waiting else "")
        self.feed.publish("styles")
        return {"style": style.name, "on_air": True, "live": True, "at_next_start": waiting}

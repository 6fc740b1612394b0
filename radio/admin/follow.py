"""Every radio node follows the shared store: the styles created from the admin
(:class:`radio.admin.style_follow.StyleFollower`) and the active-version pointers
(:class:`ActiveFollower`), polled one after the other by one :class:`FollowLoop`.

An activation writes the style's pointer (``model_active``); whoever wrote it (this node's
admin, another node's, a trainer worker), every node polls the pointers and swaps a channel
whose pointer moved, the same way an admin activation does: the file is fetched (from S3 when
it is not on this machine yet), checked, and swapped in at the next piece boundary (or within
``CONTINUO_SWAP_SECONDS``). Polling, not change streams: it works on SQLite and on a MongoDB
without a replica set, and one small read every few seconds per node costs nothing.

If the store or the file cannot be read, the channel keeps playing what it plays, and the
follower tries again, with growing pauses, until it can. A pointer to a style this node does not
know yet is kept for later: the style may still be on its way from another node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Protocol, Sequence

from radio.admin.activation import Activations
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")

POLL_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0


class Poller(Protocol):
    async def poll(self) -> None: ...


class FollowLoop:
    """Every ``poll_seconds``, each poller in order (styles before pointers: a style must be
    here before its channel can start)."""

    def __init__(self, pollers: Sequence[Poller], poll_seconds: float = POLL_SECONDS) -> None:
        self.pollers = list(pollers)
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            for poller in self.pollers:
                await poller.poll()


class ActiveFollower:
    POLL_SECONDS = POLL_SECONDS

    def __init__(self, activations: Activations, poll_seconds: float = POLL_SECONDS) -> None:
        self.activations = activations
        self.poll_seconds = poll_seconds  # the first pause after a failure
        self.applied: dict[str, str] = {}  # style -> the pointer this node last followed ("" = bundled)
        self._retry_at: dict[str, tuple[float, float]] = {}  # style -> (when, pause) after a failure
        self._failing = False

    def follow_from(self, pointers: dict[str, str]) -> None:
        """Follow changes from ``pointers`` on (what the node restored at start)."""
        self.applied = dict(pointers)

    async def poll(self) -> None:
        registry = self.activations.registry
        try:
            pointers = await in_store_thread(registry.styles_with_active)
        except Exception as exc:
            if not self._failing:
                log.error("admin: cannot read the active versions (%s); channels play on, retrying every %g s",
                          exc, self.poll_seconds)
            self._failing = True
            return
        if self._failing:
            log.info("admin: the active versions can be read again")
        self._failing = False
        for style in sorted(set(pointers) | set(self.applied)):
            wanted = pointers.get(style, "")
            if self.applied.get(style, "") != wanted:
                await self._follow(style, wanted)

    async def _follow(self, name: str, wanted: str) -> None:
        """Put the version the pointer names (or, with none, the bundled model) on this node's channel."""
        activations = self.activations
        channel = activations.channel(name)
        if channel is None and not (wanted and activations.styles.is_home_style(name)):
            if wanted and name not in activations.styles.all_styles():
                return  # a style created on another node that has not reached this one yet
            self.applied[name] = wanted  # this node does not play the style
            return
        when, pause = self._retry_at.get(name, (0.0, 0.0))
        if time.monotonic() < when:
            return
        try:
            version = wanted
            if not version:  # the pointer was removed: the bundled model is active again
                bundled = await in_store_thread(activations.registry.bundled, activations.styles.style(name))
                version = bundled.version if bundled is not None else ""
            if version and (channel is None or channel.upcoming_model_version != version):
                await activations.activate(name, version, reason="the active version changed in the shared store",
                                       record=False)
        except Exception as exc:  # e.g. S3 is down: keep playing, try again later
            pause = min(MAX_RETRY_SECONDS, max(self.poll_seconds, pause * 2))
            self._retry_at[name] = (time.monotonic() + pause, pause)
            log.error("admin: cannot put %s version %s on air (%s); the channel plays on, retrying in %g s",
                      name, wanted or "bundled", exc, pause)
            return
        self._retry_at.pop(name, None)
        self.applied[name] = wanted

"""Every radio node follows the styles shared in the store, as it follows activations.

A style created or edited from the admin on any node is written to the shared
:class:`radio.style_file.StyleStore` (the catalog's SQLite file, or MongoDB) with a revision the
store bumps. Each node polls the revisions (:class:`radio.admin.follow.FollowLoop`, beside the
active pointers) and, for a style whose revision moved, copies its ``style.toml`` into its own
``$CONTINUO_HOME/styles/<name>/`` through :func:`radio.style_file.adopt_style_text`. From there
the style is one created here: it comes on air when a version of it is activated (the active
follower, polled next, starts its channel), and a channel already on air plays the edited
settings from its next piece.

A record that is not a style (bad TOML, a bad value, a name that is not a style name or is a
bundled style's) is logged once, with the reason, and skipped until its next revision; the
node keeps what it has and the other styles are followed as usual. A store or a disk that
cannot be read is retried at the next poll.
"""

from __future__ import annotations

import logging

from radio.admin.activation import Activations
from radio.admin.style_service import StyleService
from radio.errors import StyleError
from radio.library.store_threads import in_store_thread
from radio.style_file import StyleStore, adopt_style_text
from radio.styles import check_style_name

log = logging.getLogger("radio.admin")


class StyleFollower:
    def __init__(self, store: StyleStore, styles: StyleService, activations: Activations) -> None:
        self.store = store
        self.styles = styles
        self.activations = activations
        self.applied: dict[str, int] = {}  # style -> the revision this node has (or skipped as bad)
        self._reported: dict[str, str] = {}  # style -> the last problem logged, so it is logged once
        self._failing = False

    async def poll(self) -> None:
        try:
            revisions = await in_store_thread(self.store.revisions)
        except Exception as exc:  # noqa: BLE001 - the store is down: the channels play on
            if not self._failing:
                log.error("admin: cannot read the shared styles (%s); this node keeps the styles it has, retrying", exc)
            self._failing = True
            return
        if self._failing:
            log.info("admin: the shared styles can be read again")
        self._failing = False
        for name, revision in sorted(revisions.items()):
            if self.applied.get(name) != revision:
                await self._follow(name, revision)

    async def _follow(self, name: str, revision: int) -> None:
        try:
            check_style_name(name)  # before the name is ever part of a path
            if self.styles.is_bundled(name):
                raise StyleError("its name is a bundled style's, and the bundled style plays here")
            record = await in_store_thread(self.store.get, name)
            if record is None:
                return
            revision = record.revision
            async with self.styles.lock:  # not while this node's admin creates or edits a style
                style = await in_store_thread(adopt_style_text, self.styles.home_styles / name, record.text)
        except StyleError as exc:  # the record is not a style: wait for its next revision
            self._report(name, f"the shared style {name!r} (revision {revision}) cannot be used: {exc}; "
                               "this node keeps what it has and follows the style's next revision")
            self.applied[name] = revision
            return
        except Exception as exc:  # noqa: BLE001 - the store or this disk failed: try again next poll
            self._report(name, f"cannot copy the shared style {name!r} (revision {revision}) here: {exc}; retrying")
            return
        self._reported.pop(name, None)
        self.applied[name] = revision
        if style is None:
            return  # this node has the text already (it wrote it, or copied it before a restart)
        log.info("admin: style %s (revision %d) copied from the shared store into %s", name, revision, style.folder)
        self.styles.feed.publish("styles")
        if self.activations.channel(name) is not None:
            try:
                self.activations.restyle(style, reason="edited on another node")
            except Exception as exc:  # noqa: BLE001 - the channel plays on with the settings it has
                log.error("admin: %s keeps its current settings on air: %s", name, exc)

    def _report(self, name: str, message: str) -> None:
        if self._reported.get(name) != message:
            self._reported[name] = message
            log.error("admin: %s", message)

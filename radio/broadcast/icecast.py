"""Scale-out: push each channel's MP3 stream to an Icecast server as a source client.

One machine's listener capacity is bounded by its cores; Icecast (and its relays or a
CDN in front of it) is the standard way past that. The pusher is just another listener
of the channel's broadcaster (a cursor into the shared frame queue, so the channel is
still encoded once), whose socket happens to be an HTTP ``PUT`` to an Icecast mount
(the source protocol since Icecast 2.4). Titles go to Icecast's metadata endpoint.

If Icecast is down or drops us, the pusher retries with backoff; local listeners never
notice.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from radio.broadcast.listener import header_text
from radio.errors import ContinuoError
from radio.broadcast.tasks import cancel_and_wait

if TYPE_CHECKING:
    from radio.station.channel import Channel

log = logging.getLogger(__name__)

USER_AGENT = "continuo-icecast/0.1"


class IcecastError(ContinuoError):
    """Icecast refused or broke the source connection."""


@dataclass(frozen=True)
class IcecastTarget:
    """Where to push: ``icecast://user:password@host:port/prefix`` (user defaults to ``source``)."""

    host: str
    port: int
    user: str
    password: str
    prefix: str = ""  # mounts are <prefix>/<style>.mp3

    @classmethod
    def parse(cls, url: str) -> "IcecastTarget":
        parts = urlsplit(url)
        if parts.scheme not in ("icecast", "http") or not parts.hostname:
            raise IcecastError(f"Icecast URL {url!r} must look like icecast://source:PASSWORD@HOST:PORT[/prefix]")
        if not parts.password:
            raise IcecastError(f"Icecast URL {url!r} has no source password (icecast://source:PASSWORD@HOST:PORT)")
        return cls(
            host=parts.hostname,
            port=parts.port or 8000,
            user=unquote(parts.username or "source"),
            password=unquote(parts.password),
            prefix=parts.path.rstrip("/"),
        )

    def mount(self, style: str) -> str:
        return f"{self.prefix}/{style}.mp3"

    @property
    def authorization(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def __str__(self) -> str:  # never print the password
        return f"icecast://{self.user}@{self.host}:{self.port}{self.prefix}"


async def _read_status(reader: asyncio.StreamReader) -> tuple[int, str]:
    """Read one response head; return (status, reason)."""
    line = await reader.readline()
    if not line:
        raise IcecastError("Icecast closed the connection before answering")
    fields = line.decode("latin-1").strip().split(" ", 2)
    if len(fields) < 2 or not fields[1].isdigit():
        raise IcecastError(f"Icecast sent a malformed status line: {line!r}")
    while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
    return int(fields[1]), fields[2] if len(fields) > 2 else ""


class IcecastPusher:
    """Keeps one channel pushed to its Icecast mount for as long as the station runs."""

    def __init__(
        self, channel: "Channel", target: IcecastTarget, *, retry_min: float = 1.0, retry_max: float = 30.0,
        title_poll: float = 1.0,
    ) -> None:
        self.channel = channel
        self.target = target
        self.mount = target.mount(channel.name)
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.title_poll = title_poll
        self.connected = asyncio.Event()
        self.connects = 0
        self.last_error = ""
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"icecast-{self.channel.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        delay = self.retry_min
        while True:
            try:
                await self._push_once()
                delay = self.retry_min  # a session that ended after working starts the backoff again
            except asyncio.CancelledError:
                raise
            except (OSError, IcecastError) as exc:
                self.last_error = str(exc)
                log.warning("icecast %s%s: %s; retrying in %.0f s", self.target, self.mount, exc, delay)
            except Exception as exc:  # noqa: BLE001 - e.g. an overlong answer line: retry, never stop pushing
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("icecast %s%s failed; retrying in %.0f s", self.target, self.mount, delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)

    async def _push_once(self) -> None:
        broadcaster = self.channel.broadcaster
        await broadcaster.first_frame.wait()
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.target.host, self.target.port), 10)
        try:
            await self._handshake(reader, writer)
            listener, burst = broadcaster.subscribe(
                writer.transport, chunked=False, icy=False, peer=f"icecast {self.target.host}:{self.target.port}"
            )
            self.connects += 1
            self.connected.set()
            log.info("icecast: pushing %s to %s%s", self.channel.name, self.target, self.mount)
            try:
                writer.write(burst)
                del burst
                await self._follow_titles(listener)
                raise IcecastError(f"Icecast ended the source connection ({await listener.done})")
            finally:
                broadcaster.unsubscribe(listener)
        finally:
            writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        style = self.channel.style
        head = [
            f"PUT {quote(self.mount)} HTTP/1.1",
            f"Host: {self.target.host}:{self.target.port}",
            f"Authorization: {self.target.authorization}",
            f"User-Agent: {USER_AGENT}",
            "Content-Type: audio/mpeg",
            "Ice-Public: 0",
            f"Ice-Name: Continuo {header_text(style.display_name)}",
            f"Ice-Description: {header_text(style.description)}",
            f"Ice-Genre: {header_text(style.display_name)}",
            f"Ice-Bitrate: {self.channel.settings.bitrate_kbps}",
            f"Ice-Audio-Info: bitrate={self.channel.settings.bitrate_kbps};samplerate=44100;channels={self.channel.settings.channels}",
            "Expect: 100-continue",
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
        await writer.drain()
        status, reason = await asyncio.wait_for(_read_status(reader), 10)
        if status == 100:
            status, reason = await asyncio.wait_for(_read_status(reader), 10)
        if status != 200:
            raise IcecastError(f"Icecast refused mount {self.mount}: {status} {reason}".rstrip())

    async def _follow_titles(self, listener) -> None:
        """Until the connection ends, send Icecast the title of what it is receiving."""
        sent = None
        while not listener.done.done():
            title = self.channel.broadcaster.title_at(listener.cursor)
            if title and title != sent:
                try:
                    await self.update_title(title)
                    sent = title
                except (OSError, IcecastError, asyncio.TimeoutError) as exc:
                    log.warning("icecast: title update for %s failed: %s", self.mount, exc)
            await asyncio.wait({listener.done}, timeout=self.title_poll)

    async def update_title(self, title: str) -> None:
        """``/admin/metadata?mode=updinfo``: the source's own credentials may set its title."""
        query = f"mount={quote(self.mount)}&mode=updinfo&charset=UTF-8&song={quote(title)}"
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.target.host, self.target.port), 5)
        try:
            writer.write(
                (
                    f"GET /admin/metadata?{query} HTTP/1.0\r\nHost: {self.target.host}:{self.target.port}\r\n"
                    f"Authorization: {self.target.authorization}\r\nUser-Agent: {USER_AGENT}\r\n\r\n"
                ).encode("utf-8")
            )
            await writer.drain()
            status, reason = await asyncio.wait_for(_read_status(reader), 5)
            if status != 200:
                raise IcecastError(f"metadata update refused: {status} {reason}")
        finally:
            writer.close()


def start_pusher(channel: "Channel", target: IcecastTarget) -> IcecastPusher:
    pusher = IcecastPusher(channel, target)
    pusher.start()
    return pusher


def push_all(channels: "list[Channel]", url: str) -> list[IcecastPusher]:
    """Start a pusher for every channel; returns them so the caller can stop them."""
    target = IcecastTarget.parse(url)
    return [start_pusher(channel, target) for channel in channels]

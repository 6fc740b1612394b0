"""One listener of a channel, and the ICY metadata (the "now playing" title) woven into its bytes.

Players like VLC and mpv ask for ``Icy-MetaData: 1``; they then get a metadata block every
``metaint`` audio bytes, and an empty one (a single zero byte) while the title is unchanged.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Callable


@dataclass(eq=False, slots=True)
class Listener:
    """One connected client: a cursor into the channel's byte stream and what it was sent."""

    transport: asyncio.Transport
    cursor: int  # absolute byte offset of the next audio byte to send
    stream_start: float  # channel stream time of the first frame it received
    chunked: bool  # the HTTP response uses chunked transfer encoding
    metaint: int  # 0: no ICY metadata
    peer: str
    sid: str | None
    done: asyncio.Future
    meta_left: int = 0  # audio bytes until the next metadata block
    title_sent: str | None = None
    bytes_sent: int = 0
    joined: float = 0.0

    def frame(self, data: bytes | memoryview, title_at: Callable[[int], str]) -> list[bytes | memoryview]:
        """The audio ``data`` (starting at ``cursor``) with ICY metadata blocks woven in."""
        if not self.metaint:
            self.cursor += len(data)
            self.bytes_sent += len(data)
            return [data]
        parts: list[bytes | memoryview] = []
        view = memoryview(data)
        while view:
            n = min(self.meta_left, len(view))
            parts.append(view[:n])
            view = view[n:]
            self.cursor += n
            self.bytes_sent += n
            self.meta_left -= n
            if self.meta_left == 0:
                parts.append(self._metadata(title_at(self.cursor)))
                self.meta_left = self.metaint
        return parts

    def _metadata(self, title: str) -> bytes:
        if title == self.title_sent:
            return b"\x00"
        self.title_sent = title
        return icy_block(title)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_text(text: str) -> str:
    """``text`` as one line for an ``icy-*``/``Ice-*`` header: a newline in a style's
    description would otherwise make every response carrying it fail."""
    return " ".join(_CONTROL.sub(" ", text).split())


def icy_block(title: str) -> bytes:
    """One ICY metadata block: a length byte (×16) and ``StreamTitle='...';`` zero-padded."""
    text = title.replace("'", "’")
    payload = f"StreamTitle='{text}';".encode("utf-8")
    if len(payload) > 255 * 16:
        payload = payload[: 255 * 16 - 2] + b"';"
    blocks = -(-len(payload) // 16)
    return bytes([blocks]) + payload.ljust(blocks * 16, b"\x00")

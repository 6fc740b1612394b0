"""What every route module answers with: JSON errors, and long responses (server-sent event
streams, recordings) that cannot be held open by a client that stopped reading."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_KEEPALIVE_SECONDS = 15.0
# A feed whose write has not gone out within this long is closed. A live page reads its feed
# continuously, so a write that waits this long is a client that stopped reading; left open,
# each one pins its socket buffers and queued events (about 300 KB) for ever.
SSE_WRITE_SECONDS = 10.0
KEEPALIVE = b": keepalive\n\n"


def json_error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    """``{"error": message, ...extra}`` with ``status``: the one shape of every error we answer."""
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def json_http_error(kind: type[web.HTTPError], message: str, headers: dict[str, str] | None = None) -> web.HTTPError:
    """The same answer as :func:`json_error`, as an exception to raise from a helper."""
    return kind(text=json.dumps({"error": message}), content_type="application/json", headers=headers)


def sse_frame(event: str, data_json: str) -> bytes:
    """One server-sent event; ``data_json`` is already JSON (one line)."""
    return f"event: {event}\ndata: {data_json}\n\n".encode("utf-8")


class WriteStalled(ConnectionError):
    """The client did not take a write within the deadline; its connection has been closed."""


async def write_within(request: web.Request, response: web.StreamResponse, data: bytes, seconds: float) -> None:
    """``response.write(data)``, or abort the connection if the client has not taken it within
    ``seconds``: a client that stopped reading must not hold its buffers and socket for ever."""
    try:
        await asyncio.wait_for(response.write(data), seconds)
    except asyncio.TimeoutError:
        transport = request.transport
        if transport is not None:
            transport.abort()  # drop what is queued for it now, not after the kernel gives up
        raise WriteStalled(f"the client took no data for {seconds:g} s") from None


class EventStream:
    """A prepared ``text/event-stream`` response whose every write has a deadline."""

    def __init__(self, request: web.Request, response: web.StreamResponse, write_seconds: float) -> None:
        self.request = request
        self.response = response
        self.write_seconds = write_seconds

    @classmethod
    async def open(cls, request: web.Request, write_seconds: float | None = None) -> "EventStream":
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        return cls(request, response, SSE_WRITE_SECONDS if write_seconds is None else write_seconds)

    async def write(self, data: bytes) -> None:
        await write_within(self.request, self.response, data, self.write_seconds)

    async def event(self, name: str, data: Any) -> None:
        await self.write(sse_frame(name, json.dumps(data, default=str, separators=(",", ":"))))

    async def keepalive(self) -> None:
        await self.write(KEEPALIVE)

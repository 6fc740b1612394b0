"""``GET/HEAD /stream/<style>.mp3``: a listener's MP3 stream, with ICY metadata on request."""

from __future__ import annotations

import re

from aiohttp import web

from radio.broadcast.listener import header_text
from radio.station.channel import Channel
from radio.station.station import Station
from radio.web.limits import LIMITS, Admission, cap_key
from radio.web.responses import json_http_error

STATION = web.AppKey("station", Station)  # the running Station, for every route module
SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def find_channel(request: web.Request) -> Channel:
    """The channel named by the URL's ``{style}``; a 404 JSON answer when there is none."""
    channel = request.app[STATION].channel(request.match_info["style"])  # a style's, or a live blend's
    if channel is None:
        raise json_http_error(web.HTTPNotFound, f"no channel named {request.match_info['style']!r}")
    return channel


def listener_sid(request: web.Request) -> str | None:
    """The optional ``?sid=`` that ties a page's events feed to its MP3 stream."""
    sid = request.query.get("sid")
    if sid is not None and not SID.match(sid):
        raise json_http_error(web.HTTPBadRequest, "sid must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-'")
    return sid


async def stream(request: web.Request) -> web.StreamResponse:
    return await stream_channel(request, find_channel(request))


async def stream_channel(request: web.Request, channel: Channel, admitted: Admission | None = None) -> web.StreamResponse:
    """One listener's stream of ``channel`` (a style's or a blend's, see radio/web/mixer.py).
    ``admitted``: the listener slot, when the caller had to take it first (the mixer does, so
    that a client past its cap cannot start a blend)."""
    sid = listener_sid(request)
    icy = request.headers.get("Icy-MetaData", "").strip() == "1"
    settings = channel.settings
    resp = web.StreamResponse(
        headers={
            "Content-Type": "audio/mpeg",
            "Cache-Control": "no-cache, no-store",
            "icy-name": header_text(channel.style.display_name),
            "icy-description": header_text(channel.style.description),
            "icy-br": str(settings.bitrate_kbps),
            "icy-sr": "44100",
            "icy-pub": "0",
        }
    )
    if icy:
        resp.headers["icy-metaint"] = str(settings.broadcast.icy_metaint)
    if request.method == "HEAD":
        resp.content_length = 0
        await resp.prepare(request)
        return resp
    limits = request.app[LIMITS]
    # Past a cap: 503 + Retry-After, nothing spent.
    with admitted if admitted is not None else limits.admit(limits.listeners, request):
        broadcaster = channel.broadcaster
        await broadcaster.first_frame.wait()
        transport = request.transport
        if transport is None or transport.is_closing():
            return resp
        await resp.prepare(request)
        peer = limits.client(request)
        listener, burst = broadcaster.subscribe(
            transport, chunked=resp.headers.get("Transfer-Encoding") == "chunked", icy=icy, peer=peer, sid=sid
        )
        if sid is not None:
            channel.stream_started(sid, listener.stream_start)
        try:
            await resp.write(burst)
            del burst  # 64 KB per listener otherwise, held for the life of the connection
            await listener.done
        except (ConnectionError, RuntimeError):
            pass  # the client went away during the burst
        finally:
            broadcaster.unsubscribe(listener)
            if channel.blend is not None and not channel.listeners:
                # The last listener keeps an idle blend's slot until the mixer reaps it: listening
                # for a moment to each mix in turn must not free the per-client blend cap.
                limits.blends.kept(channel.name, cap_key(peer))
    return resp


def setup(app: web.Application) -> None:
    app.router.add_get(r"/stream/{style:[a-z0-9-]+}.mp3", stream)

"""The mixer's routes: blend channels asked for by URL.

- ``GET /stream/mix.mp3?baroque=0.7&folk=0.3``: the blend's MP3 stream, started on demand.
  Weights that round to one style redirect to that style's stream; past the
  ``--max-blends`` cap the answer is 503 with the reason and a Retry-After.
- ``POST /api/mix?baroque=0.7&folk=0.3``: start (or find) the blend and describe it, as
  ``/api/channels/<id>`` does; the page uses the id for the events feed, then opens the stream.
- ``GET /api/mix``: the live blends and the cap.

Starting a blend is admitted like a listener: the client must have room under its listener
cap, and may keep only ``max_blends_per_client`` blends going by itself (radio/web/limits.py's
BlendKeepers), so one address cannot hold every ``--max-blends`` slot. A blend started by a
POST that no listener then opens stops within seconds (the mixer's ``first_listener_seconds``).
"""

from __future__ import annotations

from aiohttp import web

from radio.station.blends import BlendError, BlendSpec, blend_style
from radio.station.channel import Channel
from radio.web.api import channel_json
from radio.web.limits import LIMITS, cap_key
from radio.web.errors import http_error
from radio.web.streams import STATION, stream_channel


def _spec(request: web.Request) -> BlendSpec | str:
    try:
        return request.app[STATION].mixer.parse(request.query)
    except BlendError as exc:
        raise http_error(exc) from exc


async def _channel(request: web.Request, spec: BlendSpec, *, listening: bool = True) -> Channel:
    """The live blend, or one started now for this client if it may start one."""
    station = request.app[STATION]
    live = station.blends.get(spec.name)
    if live is not None:  # joining (or describing) a live blend starts nothing
        return live
    limits = request.app[LIMITS]
    client = cap_key(limits.client(request))
    keepers = limits.blends
    if spec.name not in keepers.starting:  # not already being started for someone: it would be a new one
        # A listener already holds its slot; a POST must have room for the listener it will be.
        why = (None if listening else limits.listeners.refusal(client)) or keepers.refusal(client, station.blends)
        if why is not None:
            keepers.refused += 1
            raise limits.refuse("blends", why)
        keepers.starting[spec.name] = client
        mine = True
    else:
        mine = False
    try:
        channel = await station.mixer.channel_for(spec, listening=listening)
    except BlendError as exc:
        raise http_error(exc) from exc
    finally:
        if mine:
            keepers.starting.pop(spec.name, None)
    if mine:
        keepers.kept(spec.name, client)
    return channel


async def stream_mix(request: web.Request) -> web.StreamResponse:
    spec = _spec(request)
    if isinstance(spec, str):  # one style after rounding: that is its own channel
        sid = request.query.get("sid")
        raise web.HTTPFound(f"/stream/{spec}.mp3" + (f"?sid={sid}" if sid else ""))
    station = request.app[STATION]
    if request.method == "HEAD" and spec.name not in station.blends:
        # Headers only: describe the blend without starting it.
        style = blend_style(spec, {name: station.channels[name].style for name in spec.styles})
        return web.Response(
            status=200, content_type="audio/mpeg", headers={"icy-name": style.display_name, "Cache-Control": "no-cache"}
        )
    if request.method == "HEAD":
        return await stream_channel(request, await _channel(request, spec))
    limits = request.app[LIMITS]
    with limits.admit(limits.listeners, request) as admitted:  # a client past its cap starts no blend
        return await stream_channel(request, await _channel(request, spec), admitted)


async def start_mix(request: web.Request) -> web.Response:
    spec = _spec(request)
    station = request.app[STATION]
    if isinstance(spec, str):
        return web.json_response(channel_json(station.channels[spec]))
    return web.json_response(channel_json(await _channel(request, spec, listening=False)))


async def list_mixes(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATION].mixer.status())


def setup(app: web.Application) -> None:
    """Add the mixer's routes; call before :func:`radio.web.streams.setup`, whose
    ``/stream/{style}.mp3`` would otherwise take ``/stream/mix.mp3`` for a style named mix."""
    app.router.add_get("/stream/mix.mp3", stream_mix)
    app.router.add_get("/api/mix", list_mixes)
    app.router.add_post("/api/mix", start_mix)

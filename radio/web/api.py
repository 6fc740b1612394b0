"""The JSON API, the events feed (SSE), MIDI downloads, /healthz and /metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from radio.channel import Channel, ChannelEvent
from radio.composer import PieceInfo
from radio.web.streams import STATION, find_channel, json_error, listener_sid

SSE_KEEPALIVE_SECONDS = 15.0


def channel_json(channel: Channel) -> dict:
    style = channel.style
    blend = channel.blend
    return {
        "style": style.name,
        "name": style.display_name,
        "description": style.description,
        "now_playing": channel.now_playing(),
        "listeners": channel.listeners,
        "model_version": channel.model_version,
        "model_kind": channel.model_kind,
        "stream_url": blend.stream_url if blend is not None else f"/stream/{style.name}.mp3",
        "blend": {name: weight for name, weight in zip(blend.styles, blend.weights)} if blend is not None else None,
    }


async def list_channels(request: web.Request) -> web.Response:
    station = request.app[STATION]
    return web.json_response([channel_json(c) for c in station.channels.values()])


async def get_channel(request: web.Request) -> web.Response:
    channel = find_channel(request)
    return web.json_response(channel_json(channel))


async def events(request: web.Request) -> web.StreamResponse:
    channel = find_channel(request)
    sid = listener_sid(request)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await resp.prepare(request)
    sub = channel.subscribe_events(sid)
    try:
        await resp.write(b"retry: 2000\n\n")
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), SSE_KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                await resp.write(b": keepalive\n\n")
                continue
            if item is None:
                break
            batch, ended = [item], False
            while len(batch) < 64 and not sub.queue.empty():  # one write for a burst of events
                nxt = sub.queue.get_nowait()
                if nxt is None:
                    ended = True
                    break
                batch.append(nxt)
            await resp.write(b"".join(sse(event) for event in batch))
            if ended:
                break
    except (ConnectionError, RuntimeError):
        pass  # the page went away
    finally:
        channel.unsubscribe_events(sub)
    return resp


def sse(event: ChannelEvent) -> bytes:
    return f"event: {event.name}\ndata: {event.json}\n\n".encode()


def _midi_response(channel: Channel, piece: PieceInfo, beats: list) -> web.Response:
    from radio.music.midi_io import write_midi

    data = write_midi(beats, piece.bpm)
    filename = f"{channel.name}-{piece.piece_id}.mid"
    return web.Response(
        body=data,
        content_type="audio/midi",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def piece_midi(request: web.Request) -> web.Response:
    channel = find_channel(request)
    piece_id = request.match_info["piece_id"]
    piece = channel.find_piece(piece_id)
    if piece is None:
        return json_error(404, f"channel {channel.name!r} has no recent piece {piece_id!r}")
    return _midi_response(channel, piece, heard_beats(channel, piece))


async def current_midi(request: web.Request) -> web.Response:
    channel = find_channel(request)
    piece = channel.heard_piece()
    if piece is None:
        return json_error(404, f"channel {channel.name!r} has not played anything yet")
    return _midi_response(channel, piece, heard_beats(channel, piece))


def heard_beats(channel: Channel, piece: PieceInfo) -> list:
    """The piece's beats up to what listeners have heard (a finished piece: all of them)."""
    beats = list(piece.beats)
    heard = int((channel.broadcaster.heard_time() - piece.t) / piece.beat_seconds)
    return beats[: max(1, heard)]


async def healthz(request: web.Request) -> web.Response:
    station = request.app[STATION]
    channels = {name: c.status() for name, c in station.channels.items()}
    ok = bool(channels) and all(s["running"] for s in channels.values())
    # Live blends are listed too (they render like any channel), but they come and go on
    # demand, so they do not decide whether the station is healthy.
    blends = {name: c.status() for name, c in station.blends.items()}
    return web.json_response(
        {"status": "ok" if ok else "degraded", "channels": channels, "blends": blends, "skipped": station.skipped},
        status=200 if ok else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    station = request.app[STATION]
    return web.Response(body=station.metrics.render(), headers={"Content-Type": station.metrics.content_type})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/channels", list_channels)
    r.add_get("/api/channels/{style}", get_channel)
    r.add_get("/api/channels/{style}/events", events)
    r.add_get("/api/channels/{style}/current.mid", current_midi)
    r.add_get(r"/api/channels/{style}/pieces/{piece_id:[A-Za-z0-9_-]+}.mid", piece_midi)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)

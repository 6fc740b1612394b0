"""The JSON API, the events feed (SSE), MIDI downloads, /healthz and /metrics."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Callable

from aiohttp import web

from radio.station.channel import Channel
from radio.station.composer import PieceInfo
from radio.station.events import ChannelEvent
from radio.web.limits import LIMITS
from radio.web.responses import SSE_KEEPALIVE_SECONDS, EventStream, json_error, sse_frame
from radio.web.streams import STATION, find_channel, listener_sid

BAR_BEATS = 16  # a piece still playing is offered up to its last whole bar heard
MIDI_CACHE_ENTRIES = 64


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
    limits = request.app[LIMITS]
    with limits.admit(limits.event_feeds, request):
        feed = await EventStream.open(request)
        sub = channel.subscribe_events(sid)
        try:
            await feed.write(b"retry: 2000\n\n")
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), SSE_KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    await feed.keepalive()
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
                await feed.write(b"".join(sse(event) for event in batch))
                if ended:
                    break
        except (ConnectionError, RuntimeError):
            pass  # the page went away, or stopped reading and was cut off
        finally:
            channel.unsubscribe_events(sub)
        return feed.response


def sse(event: ChannelEvent) -> bytes:
    return sse_frame(event.name, event.json)


class MidiCache:
    """MIDI files built in a worker thread and kept, so that a script fetching ``current.mid``
    in a loop costs a dictionary lookup, not the event loop's time. Concurrent requests for
    the same file share one build, and at most ``concurrent`` builds run at once (a script
    asking for ever different spans of ``recording.mid`` queues, it does not take every core)."""

    def __init__(self, entries: int = MIDI_CACHE_ENTRIES, concurrent: int = 2) -> None:
        self.entries = entries
        self._files: OrderedDict[tuple, bytes] = OrderedDict()
        self._building: dict[tuple, asyncio.Future] = {}
        self._slots = asyncio.Semaphore(concurrent)
        self.builds = 0

    async def get(self, channel: Channel, piece: PieceInfo, beats: list) -> bytes:
        """A piece's MIDI file, as far as it has been heard."""
        from radio.music.midi_io import write_midi

        return await self.build((channel.name, piece.piece_id, len(beats)), lambda: write_midi(beats, piece.bpm))

    async def build(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        """The file under ``key``, made by ``make()`` in a worker thread if it is not kept yet."""
        if key in self._files:
            self._files.move_to_end(key)
            return self._files[key]
        if key in self._building:
            return await asyncio.shield(self._building[key])
        future = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            async with self._slots:
                self.builds += 1
                data = await asyncio.to_thread(make)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._building.pop(key, None)
        future.set_result(data)
        self._files[key] = data
        while len(self._files) > self.entries:
            self._files.popitem(last=False)
        return data


MIDI_CACHE = web.AppKey("midi_cache", MidiCache)


async def _midi_response(request: web.Request, channel: Channel, piece: PieceInfo, beats: list) -> web.Response:
    data = await request.app[MIDI_CACHE].get(channel, piece, beats)
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
    return await _midi_response(request, channel, piece, heard_beats(channel, piece))


async def current_midi(request: web.Request) -> web.Response:
    channel = find_channel(request)
    piece = channel.heard_piece()
    if piece is None:
        return json_error(404, f"channel {channel.name!r} has not played anything yet")
    return await _midi_response(request, channel, piece, heard_beats(channel, piece))


def heard_beats(channel: Channel, piece: PieceInfo) -> list:
    """The piece's beats up to what listeners have heard (a finished piece: all of them),
    cut at the last whole bar so that the file of a piece still playing changes once a bar."""
    beats = list(piece.beats)
    heard = int((channel.broadcaster.heard_time() - piece.t) / piece.beat_seconds)
    if heard >= len(beats):
        return beats
    if heard >= BAR_BEATS:
        heard -= heard % BAR_BEATS
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
    app[MIDI_CACHE] = MidiCache()
    r = app.router
    r.add_get("/api/channels", list_channels)
    r.add_get("/api/channels/{style}", get_channel)
    r.add_get("/api/channels/{style}/events", events)
    r.add_get("/api/channels/{style}/current.mid", current_midi)
    r.add_get(r"/api/channels/{style}/pieces/{piece_id:[A-Za-z0-9_-]+}.mid", piece_midi)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)

"""``GET /api/channels/<id>/recording.mp3`` and ``.mid``: the last minutes a listener heard.

Both take ``?seconds=`` (1..600) and ``?at=`` (the stream time the listener hears now,
which the page knows from its stream start and its audio clock; by default where a new
listener would start hearing). The MP3 is whole frames from the channel's history with
an ID3 tag; the MIDI holds the notes of the same span.

The MP3 is sent a batch of frames at a time, read from the history as it goes: never built
whole (10 minutes is 9.6 MB), so a client that does not read costs one batch, not the file.
Every write has a deadline, and recordings being sent are capped per client and in total
(503 + Retry-After past a cap, see radio/web/limits.py).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from radio.station.channel import Channel
from radio.station.recording import FramesGone, RecordingError, id3_tag, self_contained, window_beats
from radio.web.api import MIDI_CACHE
from radio.web.limits import LIMITS
from radio.web.responses import write_within
from radio.web.streams import find_channel, json_http_error

FRAMES_PER_WRITE = 128  # about 53 KB at 128 kbps: under the transport's 64 KB high-water mark
# A write the client has not taken within this long ends the recording. A download that reads at
# all takes a batch in milliseconds; this is for a client that stopped reading.
RECORDING_WRITE_SECONDS = 10.0


def _number(request: web.Request, name: str, default: float | None) -> float:
    text = request.query.get(name)
    if text is None:
        if default is None:
            raise json_http_error(web.HTTPBadRequest, f"?{name}= is required")
        return default
    try:
        return float(text)
    except ValueError:
        raise json_http_error(web.HTTPBadRequest, f"?{name}= must be a number of seconds, not {text!r}") from None


def _cut(request: web.Request):
    channel = find_channel(request)
    seconds = _number(request, "seconds", None)
    broadcaster = channel.broadcaster
    at = min(_number(request, "at", broadcaster.heard_time()), broadcaster.released_seconds)
    try:
        return channel, channel.recording.cut(seconds, at)
    except RecordingError as exc:
        raise json_http_error(web.HTTPBadRequest, str(exc)) from exc


def _filename(channel: Channel, suffix: str) -> str:
    return f"continuo-{channel.name}-{time.strftime('%Y%m%d-%H%M%S')}.{suffix}"


def _titles(channel: Channel, start: float, end: float) -> list[str]:
    pieces = [p for p in channel.recent_pieces() if p.t < end and p.number > 0]
    covered = [p for i, p in enumerate(pieces) if i + 1 == len(pieces) or pieces[i + 1].t > start]
    return [p.title for p in covered]


async def recording_mp3(request: web.Request) -> web.StreamResponse:
    channel, cut = _cut(request)
    history = channel.recording
    titles = _titles(channel, cut.start, cut.start + cut.seconds)
    tag = id3_tag(
        title=f"{channel.style.display_name}: " + (" / ".join(titles) if titles else "a recording"),
        album=f"Continuo — {channel.style.display_name}",
        comment=f"{cut.seconds / 60:.2f} minutes recorded from the stream; model {channel.model_version}",
    )
    resp = web.StreamResponse(
        headers={
            "Content-Type": "audio/mpeg",
            "Content-Disposition": f'attachment; filename="{_filename(channel, "mp3")}"',
            "X-Recording-Seconds": f"{cut.seconds:.3f}",
            "X-Recording-Start": f"{cut.start:.3f}",
            "Cache-Control": "no-store",
        }
    )
    resp.content_length = len(tag) + history.nbytes(cut)  # a short file is then a visible failure
    if request.method == "HEAD":  # the headers alone: no slot, no body (a streamed body would be sent)
        await resp.prepare(request)
        return resp
    limits = request.app[LIMITS]
    with limits.admit(limits.recordings, request):  # past a cap: 503 + Retry-After, nothing sent
        await resp.prepare(request)
        try:
            await write_within(request, resp, tag, RECORDING_WRITE_SECONDS)
            k = cut.first_frame
            while k < cut.end:
                frames = history.frames(k, min(k + FRAMES_PER_WRITE, cut.end))
                if k == cut.first_frame:
                    frames = self_contained(frames)  # only a cut's first few frames are touched
                k += len(frames)
                await write_within(request, resp, b"".join(frames), RECORDING_WRITE_SECONDS)
            await asyncio.wait_for(resp.write_eof(), RECORDING_WRITE_SECONDS)
        except FramesGone:
            # Read slower than the stream plays: the rest of the cut has left the history. Cut the
            # connection short of its Content-Length, so the client sees a failed download.
            if request.transport is not None:
                request.transport.abort()
        except (ConnectionError, RuntimeError, asyncio.TimeoutError):
            if request.transport is not None:  # gone, or stopped reading: nothing more is sent
                request.transport.abort()
        return resp


async def recording_mid(request: web.Request) -> web.Response:
    from radio.music.midi_io import write_midi

    channel, cut = _cut(request)
    pieces = list(channel.recent_pieces())
    start, end = cut.start, cut.start + cut.seconds
    beat_seconds, bpm = channel.beat_seconds, channel.style.tempo_bpm

    def make() -> bytes:  # up to 10 minutes of beats: built in a worker thread, like every MIDI download
        return write_midi(window_beats(pieces, start, end, beat_seconds), bpm)

    key = (channel.name, "recording", round(start, 3), round(cut.seconds, 3), pieces[-1].piece_id if pieces else "")
    return web.Response(
        body=await request.app[MIDI_CACHE].build(key, make),
        content_type="audio/midi",
        headers={"Content-Disposition": f'attachment; filename="{_filename(channel, "mid")}"', "Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/api/channels/{style}/recording.mp3", recording_mp3)
    app.router.add_get("/api/channels/{style}/recording.mid", recording_mid)

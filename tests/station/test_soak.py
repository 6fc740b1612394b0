"""The short soak: every bundled channel on an accelerated clock with listener churn (joins,
leaves, slow readers, mid-frame disconnects, event feeds, HEAD and MIDI requests). The long
one is ``make soak``; both come from bench/soak.py."""

from __future__ import annotations

import pytest

from bench.soak import run_soak


@pytest.mark.slow
async def test_short_soak_every_channel_with_churn():
    report = await run_soak(real_seconds=20, speed=2, steady_per_channel=1, churn_per_second=5,
                            warmup_churn_seconds=5, quality=7)
    print("\n".join(report.lines()))
    assert len(report.channels) >= 5
    assert report.underruns == 0
    assert report.fds_end == report.fds_start, "a connection or file was left open"
    assert report.delivered_ratio >= 0.99, "a steady listener lost bytes"
    assert report.server_errors == 0
    assert report.counts.get("mid-frame disconnects", 0) >= 3 and report.counts.get("event feeds", 0) >= 3
    assert report.slow_cut_off >= 1, "no slow reader was cut off at the backlog limit"
    # RSS is printed, not asserted, here: 20 s is too short for the bounded caches (recent
    # pieces, MIDI files) to fill, so growth is only meaningful in `make soak`.


async def test_the_soak_forgets_each_churn_client_when_it_ends():
    """The soak's clients run in the process it measures: one that kept every churn connection
    it ever made (with its reader's unread buffer) grew by megabytes over a long soak, and
    that growth was counted as the station's."""
    import asyncio
    import random

    from aiohttp import web

    from bench.soak import Soak, SoakReport

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 50_000)

    app = web.Application()
    app.router.add_get("/api/channels", answer)
    app.router.add_get("/api/channels/{style}/current.mid", answer)
    app.router.add_route("HEAD", "/stream/{style}.mp3", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        report = SoakReport(channels=["a"], speed=1)
        soak = Soak("127.0.0.1", runner.addresses[0][1], ["a"], 1, random.Random(1), report)
        for _ in range(20):
            soak.spawn(soak.guarded(soak.small()))
        while soak.tasks:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # the done callbacks run right after their task
        assert sum(report.counts.values()) == 20
        assert len(soak.writers) == 0, f"{len(soak.writers)} finished churn connections are still held"
    finally:
        await runner.cleanup()


async def test_the_soak_sees_each_underrun_with_its_channel_and_lateness():
    """The soak names every underrun from the broadcaster's own warning: if that warning
    changed, the soak would list none while still counting them."""
    import logging

    from bench.soak import UnderrunLog
    from radio.broadcast.broadcaster import Broadcaster, StreamClock

    now = [0.0]
    caught = UnderrunLog()
    logging.getLogger("radio.broadcast").addHandler(caught)
    try:
        b = Broadcaster("baroque", frame_seconds=0.026, clock=StreamClock(lambda: now[0]))
        b.push([b"\xff\xfb" + bytes(100)] * 10, "a title")  # 0.26 s of audio, released at once
        now[0] = 1.0  # the live edge is 0.74 s past the last frame: past the 0.25 s grace
        b.tick()
    finally:
        logging.getLogger("radio.broadcast").removeHandler(caught)
    assert b.underruns == 1
    assert [(u.channel, round(u.late_seconds, 2)) for u in caught.seen] == [("baroque", 0.74)]

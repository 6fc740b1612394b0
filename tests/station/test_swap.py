"""The channel's public swap API: swap_model, swap_pending, swap_deadline and swap_eta, the
surface the admin uses instead of reading the composer and the broadcaster."""

from __future__ import annotations

import time

from radio.station.channel import Channel


async def test_a_swap_at_the_next_piece_promises_the_piece_boundary(radio, helpers):
    r = await radio({"test": helpers.DroneModel(version="old-000000")}, piece_seconds=30.0)
    channel: Channel = r.station.channels["test"]
    await helpers.eventually(lambda: channel.heard_piece() is not None, what="a piece on air")
    assert not channel.swap_pending and channel.swap_deadline is None
    channel.swap_model(helpers.DroneModel(version="new-111111", pitch=62))
    assert channel.swap_pending and channel.upcoming_model_version == "new-111111"
    assert channel.swap_deadline is None  # waits for the next piece boundary
    eta = channel.swap_eta()
    # The heard piece is 30 s long (plus a one-beat breath) and has only just begun.
    assert eta is not None and 20.0 < eta <= 31.0


async def test_a_swap_with_a_deadline_promises_the_deadline_and_is_heard(radio, helpers):
    r = await radio({"test": helpers.DroneModel(version="old-000000")}, piece_seconds=30.0)
    channel: Channel = r.station.channels["test"]
    await helpers.eventually(lambda: channel.heard_piece() is not None, what="a piece on air")
    before = time.monotonic()
    channel.swap_model(helpers.DroneModel(version="new-111111", pitch=62), within_seconds=1.0)
    assert before + 1.0 <= channel.swap_deadline <= time.monotonic() + 1.0
    eta = channel.swap_eta()
    breath = channel.composer.settings.breath_beats * channel.beat_seconds
    assert eta is not None and 0.5 < eta <= 1.0 + breath + channel.settings.ahead_seconds
    await helpers.eventually(lambda: not channel.swap_pending, timeout=10.0, what="the new model heard")
    assert channel.model_version == "new-111111"
    # Already composing with it: what remains is the audio composed but not heard yet.
    composed = channel.settings.composer
    buffer = (composed.lookahead_beats + composed.chunk_beats) * channel.beat_seconds + channel.settings.ahead_seconds
    assert 0.0 <= channel.swap_eta() <= buffer


async def test_a_swap_with_a_negative_deadline_is_refused(radio, helpers):
    r = await radio({"test": helpers.DroneModel()})
    channel = r.station.channels["test"]
    try:
        channel.swap_model(helpers.DroneModel(version="new-111111"), within_seconds=-1.0)
    except ValueError:
        pass
    else:
        raise AssertionError("a negative deadline was taken")
    assert not channel.swap_pending and channel.swap_deadline is None

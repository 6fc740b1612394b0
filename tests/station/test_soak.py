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

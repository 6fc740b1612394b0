"""The station's Prometheus metrics, one registry per Station so several stations
(tests, benchmarks) can live in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST

STAGE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
# One broadcast tick writes to every listener of a channel; with thousands it takes tens of ms,
# and past the write interval (0.5 s) the loop cannot keep every listener on time.
SEND_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class StationMetrics:
    """Every collector the station updates, labelled by channel."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.listeners = Gauge("continuo_listeners", "Listeners connected now", ["channel"], registry=r)
        self.bytes_sent = Counter("continuo_bytes_sent", "MP3 bytes written to listeners", ["channel"], registry=r)
        self.listener_drops = Counter(
            "continuo_listener_drops", "Listeners dropped for falling too far behind", ["channel"], registry=r
        )
        self.buffer_ahead = Gauge(
            "continuo_buffer_ahead_seconds", "Encoded audio ready beyond the wall-clock live edge", ["channel"], registry=r
        )
        self.underruns = Counter(
            "continuo_underruns", "Times the live edge caught up with the encoder", ["channel"], registry=r
        )
        self.composer_restarts = Counter(
            "continuo_composer_restarts", "Pieces restarted because the model misbehaved", ["channel", "reason"], registry=r
        )
        self.stage_seconds = Histogram(
            "continuo_stage_seconds",
            "Time per chunk spent in each stage of the render chain",
            ["channel", "stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.send_seconds = Histogram(
            "continuo_broadcast_send_seconds",
            "Event-loop time per broadcast tick spent writing the released frames to every listener",
            ["channel"],
            buckets=SEND_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter(
            "continuo_audio_seconds", "Seconds of audio rendered and encoded", ["channel"], registry=r
        )
        self.refused = Counter(
            "continuo_refused", "Listeners and event feeds refused with 503 because a cap was reached", ["what"], registry=r
        )
        self.model_swaps = Counter("continuo_model_swaps", "Model swaps requested (heard from the next piece or deadline)", ["channel"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

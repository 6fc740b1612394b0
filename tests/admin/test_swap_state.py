"""The admin reads a swap's state only through the channel's swap API (OnAirChannel): a channel
with no composer and no broadcaster is enough for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from radio.admin.activation import Activations
from radio.admin.feed import AdminFeed


@dataclass
class BareChannel:
    """Only the public swap API, no composer or broadcaster to reach into."""

    model_version: str = "old"
    upcoming_model_version: str = "old"
    swap_deadline: float | None = None
    eta: float | None = None
    style: object = None

    @property
    def swap_pending(self) -> bool:
        return self.model_version != self.upcoming_model_version

    def swap_model(self, model, *, within_seconds=None) -> None:
        self.upcoming_model_version = model.version

    def swap_eta(self) -> float | None:
        return self.eta


@dataclass
class BareStation:
    channels: dict


def activations(channel: BareChannel) -> Activations:
    return Activations(BareStation({"folk": channel}), styles=None, registry=None, feed=AdminFeed(),
                       swap_seconds=None, lock=None)


def test_no_swap_pending():
    state = activations(BareChannel()).swap_state("folk")
    assert state == {"pending": False, "version": None, "eta_seconds": None, "expected_at": None, "deadline": None}
    assert activations(BareChannel()).swap_state("baroque") is None  # not on air


def test_a_pending_swap_says_the_channel_s_eta_and_deadline():
    channel = BareChannel(upcoming_model_version="new", eta=12.34)
    state = activations(channel).swap_state("folk")
    assert state["pending"] and state["version"] == "new" and state["eta_seconds"] == 12.3
    assert state["deadline"] == "piece boundary"
    expected = datetime.fromisoformat(state["expected_at"])
    assert 11 <= (expected - datetime.now(timezone.utc)).total_seconds() <= 13
    channel.swap_deadline = 123.0
    assert activations(channel).swap_state("folk")["deadline"] == "within_seconds"
    channel.eta = None  # the channel cannot say yet (nothing heard)
    state = activations(channel).swap_state("folk")
    assert state["eta_seconds"] is None and state["expected_at"] is None


def test_the_on_air_signature_follows_what_plays():
    channel = BareChannel()
    admin = activations(channel)
    before = admin.on_air_signature()
    channel.upcoming_model_version = "new"
    assert admin.on_air_signature() != before

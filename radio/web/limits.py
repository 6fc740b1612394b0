"""Caps on what one stranger can take: listeners, event feeds and recordings being sent, in
total and per client.

A *client* is the connection's remote address. Behind a reverse proxy every connection comes
from the proxy, so ``trusted_proxies`` names the proxies whose ``X-Forwarded-For`` is believed:
the client is then the right-most address in that header that is not itself a trusted proxy.
Anyone else's ``X-Forwarded-For`` is ignored, or a client could pick a fresh address for every
connection and walk round the per-client cap.

Past a cap the answer is ``503`` with ``Retry-After`` and a JSON body naming the cap; the
connection is refused before it costs a burst, a queue or a slot in the broadcaster, so
everyone already listening is untouched.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from aiohttp import web

from radio.metrics import StationMetrics
from radio.web.responses import json_http_error

# Defaults, from `python -m bench.bench_station listeners` (2-core development box, 5 channels,
# 128 kbps, listeners joining at 1,000/s). On a quiet box every listener stayed on time at every
# step up to 18,000, where the server's 20,000 open files end the test (its event loop peaked at
# 88% of a core while the crowd joined: each join costs it about half a millisecond). With other
# work on the box, delivery first dropped while the crowd joined: at 18,000 with about one core
# taken, at 15,000 with both saturated (12,000 held). 9,000 keeps a quarter below the worst step
# that held, and 9,000 listeners + 9,000 event feeds + serve's 1,024 spare fit that 20,000
# open-files hard limit, so a full station answers 503 instead of failing at accept(). One page
# holds one stream and one event feed, so the feeds get the same total.
DEFAULT_MAX_LISTENERS = 9000
DEFAULT_MAX_EVENT_CLIENTS = 9000
# Enough for a household, an office or a school behind one NAT address; small enough that one
# address cannot take a noticeable share of the total.
DEFAULT_MAX_PER_CLIENT = 32
RETRY_AFTER_SECONDS = 30
# Recordings ("save what you heard", up to 10 minutes, about 9.6 MB) are sent a batch at a time
# from the channel's history, so each costs little memory, but each is a socket and a share of
# the event loop for as long as its client reads. A page saves one at a time (MP3, then MIDI).
DEFAULT_MAX_RECORDINGS = 16
DEFAULT_MAX_RECORDINGS_PER_CLIENT = 2
# A blend is a whole channel (compose, synth, encode) and a station runs only a few (--max-blends,
# default 4): one address may keep one going by itself, so one client can never hold them all.
DEFAULT_MAX_BLENDS_PER_CLIENT = 1


@dataclass(frozen=True)
class Caps:
    """``0`` means no cap."""

    max_listeners: int = DEFAULT_MAX_LISTENERS
    max_listeners_per_client: int = DEFAULT_MAX_PER_CLIENT
    max_event_clients: int = DEFAULT_MAX_EVENT_CLIENTS
    max_event_clients_per_client: int = DEFAULT_MAX_PER_CLIENT
    trusted_proxies: frozenset[str] = frozenset()
    retry_after: int = RETRY_AFTER_SECONDS
    max_recordings: int = DEFAULT_MAX_RECORDINGS  # recording.mp3 downloads being sent at once
    max_recordings_per_client: int = DEFAULT_MAX_RECORDINGS_PER_CLIENT
    max_blends_per_client: int = DEFAULT_MAX_BLENDS_PER_CLIENT  # blends one client alone keeps going

    def __post_init__(self) -> None:
        for name in ("max_listeners", "max_listeners_per_client", "max_event_clients",
                     "max_event_clients_per_client", "retry_after", "max_recordings", "max_recordings_per_client",
                     "max_blends_per_client"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (no cap) or more, not {getattr(self, name)!r}")


def parse_proxies(spec: str) -> frozenset[str]:
    """``"10.0.0.5, ::1"`` -> the set of normalised addresses; ValueError naming a bad one."""
    out = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        try:
            out.add(str(ipaddress.ip_address(part)))
        except ValueError:
            raise ValueError(f"{part!r} in the trusted proxies is not an IP address") from None
    return frozenset(out)


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.strip().strip("[]")))
    except ValueError:
        return address.strip()


def forwarded_address(entry: str) -> str | None:
    """One ``X-Forwarded-For`` entry as a normalised IP address, or None when it is not one.

    Proxies write more than bare addresses: ``1.2.3.4:5555`` and ``[2001:db8::1]:443`` (with the
    client's port, new for every connection), ``unknown``, an obfuscated ``_hidden``. Taken as
    they are, a port would make every connection a client of its own, walking round the
    per-client caps, so the port is dropped and anything else is no address at all."""
    text = entry.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        inside, bracket, after = text[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            return None
        text = inside
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """Who is asking: the remote address, or for a trusted proxy the address it forwards for.
    When that hop is not an address (``unknown``), the proxy could not say who its client is,
    and the client is the proxy itself: one shared key, never one a client can vary."""
    remote = _normal(request.remote or "")
    if not trusted_proxies or remote not in trusted_proxies:
        return remote
    hops = [forwarded_address(h) for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",") if h.strip()]
    for hop in reversed(hops):  # the right-most entries were added by our own proxies
        if hop is None:
            return remote
        if hop not in trusted_proxies:
            return hop
    return remote


def cap_key(address: str) -> str:
    """Whose share of a per-client cap ``address`` takes. An IPv6 host is usually handed a
    whole /64 and picks an address in it at will, so each /64 counts as one client (an
    IPv4-mapped address counts as its IPv4 address); anything unparsable counts as itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(eq=False)
class Gate:
    """Counts open connections of one kind, in total and per client."""

    what: str  # "listeners" / "event feeds": named in the refusal
    total_cap: int
    per_client_cap: int
    open: Counter = field(default_factory=Counter)
    total: int = 0
    refused: int = 0

    def refusal(self, client: str) -> str | None:
        """Why ``client`` may not open one more now, or None."""
        if self.total_cap and self.total >= self.total_cap:
            return f"the station is full: {self.total_cap} {self.what} is the most it takes"
        if self.per_client_cap and self.open[client] >= self.per_client_cap:
            return f"{client} already has {self.open[client]} {self.what}, the most one address may hold"
        return None

    def enter(self, client: str) -> None:
        self.open[client] += 1
        self.total += 1

    def leave(self, client: str) -> None:
        self.total -= 1
        self.open[client] -= 1
        if self.open[client] <= 0:
            del self.open[client]


class BlendKeepers:
    """Who keeps each blend channel going, for the per-client blend cap.

    A blend is kept going by the clients listening to it; with none, by the client that last
    did, or that asked for it (``POST /api/mix``) and has not listened yet, until the mixer
    reaps it. A client may start a new blend only while it keeps fewer than ``per_client``
    going alone: re-posting mixes, or listening to each for a moment, holds one slot, never
    every ``--max-blends`` slot. Joining a blend that is already live is always allowed."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self.last: dict[str, str] = {}  # blend id -> cap key of the client that last kept it going
        self.starting: dict[str, str] = {}  # blend id -> cap key of the client it is starting for
        self.refused = 0

    def keepers(self, name: str, channel: Any) -> set[str]:
        listeners = channel.broadcaster.listeners if channel is not None else ()
        if listeners:
            return {cap_key(listener.peer) for listener in listeners}
        who = self.starting.get(name) or self.last.get(name)
        return {who} if who else set()

    def kept_alone(self, client: str, blends: Mapping[str, Any]) -> list[str]:
        """The blends only ``client`` keeps going (live or starting)."""
        for name in [n for n in self.last if n not in blends and n not in self.starting]:
            del self.last[name]  # reaped
        return sorted(n for n in {*blends, *self.starting} if self.keepers(n, blends.get(n)) == {client})

    def refusal(self, client: str, blends: Mapping[str, Any]) -> str | None:
        """Why ``client`` may not start one more blend now, or None."""
        if not self.per_client:
            return None
        held = self.kept_alone(client, blends)
        if len(held) < self.per_client:
            return None
        return (f"{client} already keeps {len(held)} blend(s) going ({', '.join(held)}), the most one address may "
                "start: listen to it, to a blend already playing, or to a single style")

    def kept(self, name: str, client: str) -> None:
        self.last[name] = client


class Limits:
    """The station's gates, one app key; route modules ask it before opening a long response."""

    def __init__(self, caps: Caps | None = None, metrics: StationMetrics | None = None) -> None:
        self.caps = caps or Caps()
        self.metrics = metrics
        self.listeners = Gate("listeners", self.caps.max_listeners, self.caps.max_listeners_per_client)
        self.event_feeds = Gate("event feeds", self.caps.max_event_clients, self.caps.max_event_clients_per_client)
        self.recordings = Gate("recordings", self.caps.max_recordings, self.caps.max_recordings_per_client)
        self.blends = BlendKeepers(self.caps.max_blends_per_client)

    def client(self, request: web.Request) -> str:
        return client_address(request, self.caps.trusted_proxies)

    def admit(self, gate: Gate, request: web.Request) -> "Admission":
        """A context manager holding one slot of ``gate``; raises a 503 when there is none."""
        client = cap_key(self.client(request))
        why = gate.refusal(client)
        if why is not None:
            gate.refused += 1
            raise self.refuse(gate.what, why)
        gate.enter(client)
        return Admission(gate, client)

    def refuse(self, what: str, why: str) -> web.HTTPError:
        """The 503 for a client past a cap on ``what``, counted in the metrics."""
        if self.metrics is not None:
            self.metrics.refused.labels(what).inc()
        retry = str(self.caps.retry_after)
        return json_http_error(web.HTTPServiceUnavailable, f"{why}; try again in {retry} s",
                               headers={"Retry-After": retry})


@dataclass(eq=False)
class Admission:
    gate: Gate
    client: str
    _left: bool = False

    def __enter__(self) -> "Admission":
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._left:
            self._left = True
            self.gate.leave(self.client)


LIMITS = web.AppKey("limits", Limits)

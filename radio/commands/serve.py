"""``continuo serve``: every bundled style as a channel, on one aiohttp server."""

from __future__ import annotations

import argparse
import os

# Before numpy loads anywhere in this process: one BLAS thread, so model steps never
# fight the synth, the encoder and the other channels for the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from radio.config import env_float, env_int  # noqa: E402
from radio.web.limits import (  # noqa: E402
    DEFAULT_MAX_BLENDS_PER_CLIENT,
    DEFAULT_MAX_EVENT_CLIENTS,
    DEFAULT_MAX_LISTENERS,
    DEFAULT_MAX_PER_CLIENT,
    DEFAULT_MAX_RECORDINGS,
    DEFAULT_MAX_RECORDINGS_PER_CLIENT,
)

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
SHUTDOWN_SECONDS = 3.0
# A connection that has not finished sending a request this long after it opened (or after
# its last response) is closed: a slowloris trickle cannot hold a socket for an hour.
IDLE_SECONDS = 20.0
# Sockets beyond the listener and feed caps: pages, API calls, admin, Icecast, files.
SPARE_FDS = 1024


def admin_where(text: str) -> str | tuple[str, int]:
    """``--admin``: "public" (on the station's port), "off", or "[HOST:]PORT" of its own."""
    text = text.strip()
    if text in ("public", "off"):
        return text
    host, _, port = text.rpartition(":")
    try:
        return (host.strip("[]") or DEFAULT_HOST, port_number(port))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"{text!r}: use public, off or [HOST:]PORT (e.g. 127.0.0.1:8001)") from None


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0-65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535)")
    return port


# The per-client and total caps: flag, environment variable, default, what it counts.
CAP_FLAGS = (
    ("--max-listeners", "CONTINUO_MAX_LISTENERS", DEFAULT_MAX_LISTENERS, "stream listeners in total"),
    ("--max-listeners-per-client", "CONTINUO_MAX_LISTENERS_PER_CLIENT", DEFAULT_MAX_PER_CLIENT,
     "stream listeners from one client address"),
    ("--max-event-clients", "CONTINUO_MAX_EVENT_CLIENTS", DEFAULT_MAX_EVENT_CLIENTS, "event feeds (SSE) in total"),
    ("--max-event-clients-per-client", "CONTINUO_MAX_EVENT_CLIENTS_PER_CLIENT", DEFAULT_MAX_PER_CLIENT,
     "event feeds from one client address"),
    ("--max-recordings", "CONTINUO_MAX_RECORDINGS", DEFAULT_MAX_RECORDINGS, "recording.mp3 downloads being sent at once"),
    ("--max-recordings-per-client", "CONTINUO_MAX_RECORDINGS_PER_CLIENT", DEFAULT_MAX_RECORDINGS_PER_CLIENT,
     "recording.mp3 downloads one client address may have at once"),
    ("--max-blends-per-client", "CONTINUO_MAX_BLENDS_PER_CLIENT", DEFAULT_MAX_BLENDS_PER_CLIENT,
     "blends one client address may keep going by itself"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("CONTINUO_HOST") or DEFAULT_HOST,
                        help=f"address to listen on (env CONTINUO_HOST; default {DEFAULT_HOST})")
    parser.add_argument("--port", type=port_number, default=env_int("CONTINUO_PORT", DEFAULT_PORT),
                        help=f"port (env CONTINUO_PORT; default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--styles", default="", help="comma-separated styles to play (default: every style in styles/)")
    parser.add_argument("--bitrate", type=int, default=128, help="MP3 bitrate in kbps (default 128)")
    parser.add_argument("--quality", type=int, default=3, help="LAME quality, 0 best .. 9 fastest (default 3)")
    parser.add_argument("--mono", action="store_true",
                        help="mono MP3 streams (default: joint stereo at the same bitrate, voices across a stage)")
    parser.add_argument("--burst-bytes", type=int, default=64 * 1024,
                        help="bytes sent at once to a new listener (default 65536)")
    parser.add_argument("--max-backlog-bytes", type=int, default=512 * 1024,
                        help="unsent bytes after which a slow listener is dropped (default 524288)")
    parser.add_argument("--ahead-seconds", type=float, default=3.0,
                        help="encoded audio kept ready beyond real time (default 3)")
    parser.add_argument("--write-interval", type=float, default=0.5,
                        help="seconds of audio per write to each listener (default 0.5)")
    parser.add_argument("--seed", type=int, default=None, help="composer seed (default: random)")
    parser.add_argument("--train-on", default=os.environ.get("CONTINUO_TRAIN_ON") or "here", metavar="WHERE",
                        help="where retrain jobs run: 'here' (a niced process beside the station, the default) or "
                             "'workers' (queued for `continuo worker`s on any machine) (env CONTINUO_TRAIN_ON)")
    parser.add_argument("--max-blends", type=int, default=4, metavar="N",
                        help="blend channels (/stream/mix.mp3?baroque=0.7&folk=0.3) live at once; past it a "
                             "listener gets 503 (default 4; 0 turns blends off)")
    parser.add_argument("--blend-grace", type=float, default=60.0, metavar="SECONDS",
                        help="a blend with no listener stops after this long (default 60)")
    parser.add_argument("--icecast", default=os.environ.get("CONTINUO_ICECAST_URL") or None, metavar="URL",
                        help="also push every channel to Icecast: icecast://source:PASSWORD@HOST:PORT[/prefix] "
                             "(env CONTINUO_ICECAST_URL)")
    caps = parser.add_argument_group("caps (past one: 503 with Retry-After; 0 means no cap)")
    for flag, env, default, what in CAP_FLAGS:
        caps.add_argument(flag, type=count, metavar="N", default=env_int(env, default),
                          help=f"{what} (env {env}; default {default})")
    caps.add_argument("--trust-proxy", default=os.environ.get("CONTINUO_TRUST_PROXY", ""), metavar="ADDR[,ADDR]",
                      help="reverse proxies whose X-Forwarded-For names the client (env CONTINUO_TRUST_PROXY; "
                           "default: none, X-Forwarded-For is ignored)")
    caps.add_argument("--idle-timeout", type=float, default=env_float("CONTINUO_IDLE_TIMEOUT", IDLE_SECONDS),
                      metavar="SECONDS",
                      help="close a connection that sends no complete request for this long (env "
                           f"CONTINUO_IDLE_TIMEOUT; default {IDLE_SECONDS:g})")
    try:
        admin_default = admin_where(os.environ.get("CONTINUO_ADMIN") or "public")
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"CONTINUO_ADMIN: {exc}") from None
    parser.add_argument("--admin", type=admin_where, default=admin_default,
                        metavar="public|off|[HOST:]PORT",
                        help="where /admin is served: on the station's port (public, the default), nowhere (off: "
                             "activated model versions are still restored and followed), "
                             "or on its own address, e.g. 127.0.0.1:8001 (env CONTINUO_ADMIN)")


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; 0 means no cap")
    return value


def run(args: argparse.Namespace) -> int:
    import asyncio

    from threadpoolctl import threadpool_limits

    from radio.config import continuo_home, make_private_dir, raise_fd_limit

    caps = build_caps(args)
    # Every listener and feed is a socket: enough descriptors for the caps and some spare,
    # not the whole hard limit (with no cap, the hard limit is all there is to go on).
    limit = raise_fd_limit(fds_wanted(caps))
    if (short := fd_shortfall(limit, caps)) is not None:
        import logging

        logging.getLogger("radio.serve").warning(short)
    make_private_dir(continuo_home())
    with threadpool_limits(limits=1):
        return asyncio.run(serve(args))


def fds_wanted(caps) -> int | None:
    """Open files for every listener and event feed the caps allow, plus spare; None: no cap."""
    if not caps.max_listeners or not caps.max_event_clients:
        return None
    return caps.max_listeners + caps.max_event_clients + SPARE_FDS


def fd_shortfall(limit: int, caps) -> str | None:
    """The warning for an open-files ``limit`` too low for the caps: past it a new connection
    fails at accept() instead of getting the caps' 503, so the operator should know at start."""
    wanted = fds_wanted(caps)
    if wanted is None or limit >= wanted:
        return None
    return (f"the open-files limit is {limit:,}, below the {wanted:,} the caps need ({caps.max_listeners:,} listeners "
            f"+ {caps.max_event_clients:,} event feeds + {SPARE_FDS:,} spare): connections past it fail instead of "
            f"getting a 503; raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower --max-listeners and "
            f"--max-event-clients")


def build_caps(args: argparse.Namespace):
    from radio.errors import ContinuoError
    from radio.web.limits import Caps, parse_proxies

    if not 0 < args.idle_timeout <= 3600:
        raise ContinuoError(f"--idle-timeout {args.idle_timeout:g} must be above 0 and at most 3600 seconds")
    try:
        return Caps(
            max_listeners=args.max_listeners,
            max_listeners_per_client=args.max_listeners_per_client,
            max_event_clients=args.max_event_clients,
            max_event_clients_per_client=args.max_event_clients_per_client,
            max_recordings=args.max_recordings,
            max_recordings_per_client=args.max_recordings_per_client,
            max_blends_per_client=args.max_blends_per_client,
            trusted_proxies=parse_proxies(args.trust_proxy),
        )
    except ValueError as exc:
        raise ContinuoError(str(exc)) from exc


def build_settings(args: argparse.Namespace):
    from radio.broadcast.broadcaster import BroadcastSettings
    from radio.station.channel import ChannelSettings
    from radio.errors import ContinuoError

    try:
        return ChannelSettings(
            bitrate_kbps=args.bitrate,
            quality=args.quality,
            channels=1 if getattr(args, "mono", False) else 2,
            ahead_seconds=args.ahead_seconds,
            seed=args.seed,
            broadcast=BroadcastSettings(
                burst_bytes=args.burst_bytes,
                max_backlog_bytes=args.max_backlog_bytes,
                write_interval=args.write_interval,
            ),
        )
    except ValueError as exc:
        raise ContinuoError(str(exc)) from exc


def chosen_styles(spec: str, skipped: dict[str, str] | None = None):
    from radio.errors import StyleError
    from radio.styles import discover_styles

    broken: dict[str, str] = {}
    styles = discover_styles(None, broken)
    if skipped is not None:
        skipped.update(broken)
    if not spec.strip():
        return list(styles.values())
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in styles]
    if broken and set(unknown) & set(broken):
        raise StyleError("; ".join(f"style {n!r} cannot be used: {broken[n]}" for n in unknown if n in broken))
    if unknown:
        raise StyleError(f"unknown style(s) {', '.join(unknown)}; known styles: {', '.join(styles) or 'none'}")
    return [styles[n] for n in names]


async def serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from radio.audio.mp3 import Mp3Encoder
    from radio.errors import ContinuoError
    from radio.broadcast.icecast import IcecastTarget, push_all, start_pusher
    from radio.library.storage_config import StorageConfig
    from radio.station.station import Station
    from radio.web.app import create_admin_app, create_app

    log = logging.getLogger("radio.serve")
    if args.train_on not in ("here", "workers"):
        raise ContinuoError(f"--train-on (or CONTINUO_TRAIN_ON) must be 'here' or 'workers', not {args.train_on!r}")
    settings = build_settings(args)
    storage = StorageConfig.from_env()  # a malformed setting fails before anything starts
    caps = build_caps(args)
    Mp3Encoder(bitrate_kbps=settings.bitrate_kbps, quality=settings.quality)  # bad --bitrate fails here, clearly
    broken: dict[str, str] = {}
    styles = chosen_styles(args.styles, broken)
    if args.icecast:
        IcecastTarget.parse(args.icecast)  # a malformed URL fails before anything starts
    if args.max_blends < 0:
        raise ContinuoError(f"--max-blends must be 0 or more, not {args.max_blends}")
    if not 1 <= args.blend_grace <= 86400:
        raise ContinuoError(f"--blend-grace must be between 1 and 86400 seconds, not {args.blend_grace:g}")
    station = Station(settings, max_blends=args.max_blends, blend_grace_seconds=args.blend_grace)
    station.skipped.update(broken)  # shown on /healthz
    skipped = await station.add_styles(styles)
    if not station.channels:
        raise ContinuoError(
            f"no style could start (skipped: {', '.join(skipped) or 'none found'}); "
            "run `make train` or check styles/<name>/model.npz"
        )
    app = create_app(station, caps=caps, admin=args.admin == "public", admin_duties=args.admin == "off",
                     train_on=args.train_on)
    runners = []
    try:
        runners.append(await start_site(app, args.host, args.port, args.idle_timeout))
        if isinstance(args.admin, tuple):
            admin_host, admin_port = args.admin
            runners.append(await start_site(create_admin_app(station, train_on=args.train_on), admin_host, admin_port,
                                           args.idle_timeout))
    except BaseException:
        for runner in runners:
            await runner.cleanup()
        raise
    runner = runners[0]
    await station.start()
    pushers = push_all(list(station.channels.values()), args.icecast) if args.icecast else []
    if args.icecast:  # a style put on air later from /admin goes to Icecast too
        target = IcecastTarget.parse(args.icecast)
        station.on_channel_started.append(lambda channel: pushers.append(start_pusher(channel, target)))
    port = runner.addresses[0][1] if runner.addresses else args.port
    log.info(
        "listening on http://%s:%d/ with %d channel(s): %s",
        args.host, port, len(station.channels), ", ".join(station.channels),
    )
    if storage.shared or args.train_on != "here":
        log.info("%s; retrain jobs run %s", storage.describe(),
                 "on `continuo worker`s" if args.train_on == "workers" else "here")
    if len(runners) > 1:
        log.info("admin on http://%s:%d/admin", args.admin[0], runners[1].addresses[0][1])
    elif args.admin == "off":
        log.info("admin is off (--admin off)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await asyncio.gather(*(p.stop() for p in pushers))
    await station.stop()
    for r in runners:
        await r.cleanup()
    log.info("stopped")
    return 0


async def start_site(app, host: str, port: int, idle_seconds: float):
    """Serve ``app`` on ``host:port``; returns its runner. A port in use fails clearly."""
    from aiohttp import web

    from radio.errors import ContinuoError

    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS,
                           keepalive_timeout=idle_seconds)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ContinuoError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return runner

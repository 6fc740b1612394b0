"""``continuo serve``: every bundled style as a channel, on one aiohttp server."""

from __future__ import annotations

import argparse
import os

# Before numpy loads anywhere in this process: one BLAS thread, so model steps never
# fight the synth, the encoder and the other channels for the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from radio.config import env_int  # noqa: E402

DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
SHUTDOWN_SECONDS = 3.0


def port_number(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535)")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=os.environ.get("CONTINUO_HOST") or DEFAULT_HOST,
                        help=f"address to listen on (env CONTINUO_HOST; default {DEFAULT_HOST})")
    parser.add_argument("--port", type=port_number, default=env_int("CONTINUO_PORT", DEFAULT_PORT),
                        help=f"port (env CONTINUO_PORT; default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--styles", default="", help="comma-separated styles to play (default: every style in styles/)")
    parser.add_argument("--bitrate", type=int, default=128, help="MP3 bitrate in kbps (default 128)")
    parser.add_argument("--quality", type=int, default=2, help="LAME quality, 0 best .. 9 fastest (default 2)")
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


def run(args: argparse.Namespace) -> int:
    import asyncio

    from threadpoolctl import threadpool_limits

    raise_fd_limit()
    with threadpool_limits(limits=1):
        return asyncio.run(serve(args))


def raise_fd_limit() -> None:
    """Every listener is a socket: lift the soft open-files limit to the hard one."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def build_settings(args: argparse.Namespace):
    from radio.broadcast import BroadcastSettings
    from radio.channel import ChannelSettings
    from radio.errors import ContinuoError

    try:
        return ChannelSettings(
            bitrate_kbps=args.bitrate,
            quality=args.quality,
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


def chosen_styles(spec: str):
    from radio.errors import StyleError
    from radio.styles import discover_styles

    styles = discover_styles()
    if not spec.strip():
        return list(styles.values())
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in styles]
    if unknown:
        raise StyleError(f"unknown style(s) {', '.join(unknown)}; known styles: {', '.join(styles) or 'none'}")
    return [styles[n] for n in names]


async def serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from aiohttp import web

    from radio.audio.mp3 import Mp3Encoder
    from radio.errors import ContinuoError
    from radio.icecast import IcecastTarget, push_all, start_pusher
    from radio.library.backends import StorageConfig
    from radio.station import Station
    from radio.web.app import create_app

    log = logging.getLogger("radio.serve")
    if args.train_on not in ("here", "workers"):
        raise ContinuoError(f"--train-on (or CONTINUO_TRAIN_ON) must be 'here' or 'workers', not {args.train_on!r}")
    settings = build_settings(args)
    storage = StorageConfig.from_env()  # a malformed setting fails before anything starts
    Mp3Encoder(bitrate_kbps=settings.bitrate_kbps, quality=settings.quality)  # bad --bitrate fails here, clearly
    styles = chosen_styles(args.styles)
    if args.icecast:
        IcecastTarget.parse(args.icecast)  # a malformed URL fails before anything starts
    if args.max_blends < 0:
        raise ContinuoError(f"--max-blends must be 0 or more, not {args.max_blends}")
    if not 1 <= args.blend_grace <= 86400:
        raise ContinuoError(f"--blend-grace must be between 1 and 86400 seconds, not {args.blend_grace:g}")
    station = Station(settings, max_blends=args.max_blends, blend_grace_seconds=args.blend_grace)
    skipped = await station.add_styles(styles)
    if not station.channels:
        raise ContinuoError(
            f"no style could start (skipped: {', '.join(skipped) or 'none found'}); "
            "run `make train` or check styles/<name>/model.npz"
        )
    app = create_app(station, train_on=args.train_on)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ContinuoError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await asyncio.gather(*(p.stop() for p in pushers))
    await station.stop()
    await runner.cleanup()
    log.info("stopped")
    return 0

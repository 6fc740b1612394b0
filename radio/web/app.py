"""The aiohttp applications: every route of the station, listed in one place.

:func:`create_app` is the public station (listener page, streams, API) and, unless told
otherwise, the admin. :func:`create_admin_app` is the admin alone, for serving it on its
own address so that the public port carries no ``/admin`` at all.
"""

from __future__ import annotations

import warnings

from aiohttp import web

from radio.station.station import Station
from radio.web import admin_routes, api, mixer, pages, recordings, streams
from radio.web.limits import LIMITS, Caps, Limits
from radio.web.logs import install_bad_request_log
from radio.web.streams import STATION


def _base_app(station: Station, options: dict[str, object]) -> web.Application:
    install_bad_request_log()  # one line per malformed request, not a traceback
    app = web.Application()
    app[STATION] = station
    with warnings.catch_warnings():  # a plain key on purpose: route modules read it with app.get("options")
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["options"] = dict(options)
    return app


def create_app(
    station: Station,
    *,
    manage_station: bool = False,
    caps: Caps | None = None,
    admin: bool = True,
    admin_duties: bool = False,
    **options: object,
) -> web.Application:
    """The station's web app. With ``manage_station`` the app starts the station on startup
    and stops it (closing every listener) on shutdown. ``caps`` limits listeners and event
    feeds (defaults: :class:`radio.web.limits.Caps`). ``admin=False`` leaves ``/admin`` out; with
    ``admin_duties`` the admin's background duties still run (activated versions restored at
    start and followed while serving: ``continuo serve --admin off``). Other ``options`` are stored in ``app["options"]`` for the admin routes."""
    app = _base_app(station, options)
    app[LIMITS] = Limits(caps, metrics=station.metrics)
    mixer.setup(app)  # first: /stream/mix.mp3 before /stream/{style}.mp3
    streams.setup(app)
    api.setup(app)
    recordings.setup(app)
    pages.setup(app, station)
    if admin:
        admin_routes.setup(app, station)
    elif admin_duties:
        admin_routes.setup_duties(app, station)
    if manage_station:
        app.on_startup.append(lambda _app: station.start())
        app.on_shutdown.append(lambda _app: station.stop())
    return app


def create_admin_app(station: Station, **options: object) -> web.Application:
    """``/admin`` and its API alone (plus the static files its page loads)."""
    app = _base_app(station, options)
    pages.setup_static(app)
    admin_routes.setup(app, station)
    return app

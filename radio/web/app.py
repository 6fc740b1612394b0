"""The aiohttp application: every route of the station, listed in one place."""

from __future__ import annotations

import importlib
import warnings

from aiohttp import web

from radio.station import Station
from radio.web import api, mixer, pages, recordings, streams
from radio.web.streams import STATION


def create_app(station: Station, *, manage_station: bool = False, **options: object) -> web.Application:
    """The station's web app. With ``manage_station`` the app starts the station on startup
    and stops it (closing every listener) on shutdown. Other ``options`` are stored in
    ``app["options"]`` for the route modules that want them (the admin's, for one)."""
    app = web.Application()
    app[STATION] = station
    with warnings.catch_warnings():  # a plain key on purpose: route modules read it with app.get("options")
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["options"] = dict(options)
    mixer.setup(app)  # first: /stream/mix.mp3 before /stream/{style}.mp3
    streams.setup(app)
    api.setup(app)
    recordings.setup(app)
    pages.setup(app, station)
    admin = _optional_module("radio.web.admin_routes")
    if admin is not None:
        admin.setup(app, station)
    if manage_station:
        app.on_startup.append(lambda _app: station.start())
        app.on_shutdown.append(lambda _app: station.stop())
    return app


def _optional_module(name: str):
    """A route module that another part of the project may not have built yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise

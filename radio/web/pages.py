"""The listener page's routes: ``/``, ``/listen/<style>`` and the static files under ``/static/``.

The page itself is plain ES modules and CSS in ``static/`` (no build step); everything it
shows comes from the station's JSON/SSE API, so these handlers only serve files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

STATIC = Path(__file__).parent / "static"
INDEX = STATIC / "index.html"

# The page and its modules change with every release while their URLs stay the same,
# so browsers must revalidate (ETag / Last-Modified) rather than reuse a stale copy.
REVALIDATE = {"Cache-Control": "no-cache"}


def setup(app: web.Application, station: Any) -> None:
    """Add the listener page's routes to ``app``; ``station.channels`` names the known styles."""

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(INDEX, headers=REVALIDATE)

    async def listen(request: web.Request) -> web.FileResponse:
        # An unknown channel still gets the page (it explains and lists the real ones),
        # but with a 404 so that links to removed channels are visibly broken.
        status = 200 if request.match_info["style"] in station.channels else 404
        return web.FileResponse(INDEX, status=status, headers=REVALIDATE)

    app.router.add_get("/", index, name="listener-page")
    app.router.add_get("/listen/{style}", listen, name="listener-channel")
    setup_static(app)


def setup_static(app: web.Application) -> None:
    """``/static/*`` and the favicon: the files both the listener and the admin page load."""

    async def static(request: web.Request) -> web.FileResponse:
        try:
            path = (STATIC / request.match_info["path"]).resolve()
        except (ValueError, OSError):  # a NUL byte or an impossible name: no such file either
            path = None
        if path is None or not path.is_relative_to(STATIC.resolve()) or not path.is_file():
            raise web.HTTPNotFound(text=f"no static file {request.match_info['path']!r}")
        return web.FileResponse(path, headers=REVALIDATE)

    async def favicon(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml"})

    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/static/{path:.+}", static, name="static")

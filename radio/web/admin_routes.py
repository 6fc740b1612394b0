"""The ``/admin`` page and the ``/admin/*`` API.

Every ``/admin/*`` route, listed once in :data:`ROUTES`, plus a catch-all for any other
``/admin/*`` path, demands ``Authorization: Bearer <token>``. A request without the right
token gets a 401 JSON answer before its body is read, so nothing happens. The page at
``/admin`` is static and asks for the token, which its data calls then send.

Handlers stay thin: they parse the request and call one of the admin's services
(:class:`radio.admin.service.AdminService` holds them: ``styles``, ``pieces``, ``jobs``,
``activations``, ``feed``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from radio.admin.auth import AdminToken, bearer_matches, load_or_create_token
from radio.admin.errors import BadRequest, quoted
from radio.admin.jobs import FINAL_STATES
from radio.admin.train_command import parse_retrain_options
from radio.admin.service import AdminService
from radio.admin.uploads import UploadLimits, read_upload
from radio.config import continuo_home, env_float, env_int, make_private_dir
from radio.errors import LibraryError
from radio.web.errors import error_answer
from radio.web.json_body import read_json
from radio.web.pages import STATIC
from radio.web.responses import SSE_KEEPALIVE_SECONDS, EventStream, json_error

log = logging.getLogger("radio.admin")

ON_AIR_POLL_SECONDS = 1.0  # how often an admin feed looks for a swap that has reached listeners
MAX_WITHIN_SECONDS = 24 * 3600.0

Handler = Callable[[web.Request, AdminService], Awaitable[web.StreamResponse]]


@dataclass
class AdminState:
    token: AdminToken
    service: AdminService | None  # None: the catalog could not be opened (see ``unavailable``)
    unavailable: str | None = None


ADMIN = web.AppKey("admin", AdminState)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


# --- handlers ------------------------------------------------------------------------
async def list_styles(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.list_styles())


async def create_style(request: web.Request, admin: AdminService) -> web.Response:
    if request.content_type.startswith("multipart/"):
        upload = await read_upload(request, admin.limits)
        return json_response(await admin.styles.create(upload.fields, upload), status=201)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object like {"name": "my-style", "composer": "..."} or a multipart form')
    return json_response(await admin.styles.create(body), status=201)


async def list_pieces(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.pieces.list(request.match_info["style"]))


async def upload_pieces(request: web.Request, admin: AdminService) -> web.Response:
    admin.styles.style(request.match_info["style"])  # an unknown style is refused before the upload is read
    upload = await read_upload(request, admin.limits)
    if not upload.files and not upload.rejected:
        raise BadRequest("the upload holds no files: send MIDI files as multipart parts with a filename")
    report = await admin.pieces.add(request.match_info["style"], upload)
    # 422 only when every file was refused; a duplicate is already there, which is no error.
    return json_response(report, status=200 if report["accepted"] or report["duplicates"] else 422)


async def delete_piece(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.pieces.delete(request.match_info["piece_id"]))


async def retrain(request: web.Request, admin: AdminService) -> web.Response:
    options = parse_retrain_options(await read_json(request))
    job = await admin.jobs.retrain(request.match_info["style"], options)
    return json_response(job.to_dict(), status=202)


async def list_jobs(request: web.Request, admin: AdminService) -> web.Response:
    style = request.query.get("style") or None
    return json_response([j.to_dict() for j in await admin.runner.list(style)])


async def get_job(request: web.Request, admin: AdminService) -> web.Response:
    return json_response((await admin.runner.get(request.match_info["job_id"])).to_dict())


async def cancel_job(request: web.Request, admin: AdminService) -> web.Response:
    job = await admin.runner.cancel(request.match_info["job_id"])
    return json_response(job.to_dict())


async def job_events(request: web.Request, admin: AdminService) -> web.StreamResponse:
    """Server-sent events: ``event: job`` with the whole job after every change, to the end."""
    job_id = request.match_info["job_id"]
    queue = admin.runner.watch(job_id)  # before reading the job, so no change falls between
    try:
        job = (await admin.runner.get(job_id)).to_dict()
        feed = await EventStream.open(request)
        try:
            await feed.event("job", job)
            while job["state"] not in FINAL_STATES:
                try:
                    job = await asyncio.wait_for(queue.get(), SSE_KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    await feed.keepalive()
                    continue
                await feed.event("job", job)
            await feed.response.write_eof()
        except ConnectionError:
            pass  # the watcher went away or stopped reading; the job goes on without it
        return feed.response
    finally:
        admin.runner.unwatch(job_id, queue)


async def library_styles(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.styles.library_styles())


async def admin_events(request: web.Request, admin: AdminService) -> web.StreamResponse:
    """Server-sent events for the admin page: ``styles`` (every style, as GET /admin/styles) at
    the start and whenever a style, its pieces, its versions or what it plays changes; ``jobs``
    (as GET /admin/jobs) at the start; ``job`` after every change of a job. The page follows the
    server with this one feed, and a reconnect starts again from a full snapshot."""
    feed = admin.feed.subscribe()  # before the snapshot, so no change falls between
    try:
        out = await EventStream.open(request)  # every write has a deadline: a stalled page is cut off
        try:
            await out.write(b"retry: 2000\n\n")
            signature = admin.activations.on_air_signature()  # before the snapshot: a swap heard meanwhile is sent again
            await out.event("styles", await admin.list_styles())
            await out.event("jobs", [j.to_dict() for j in await admin.runner.list()])
            quiet = 0.0
            while True:
                try:
                    item = await asyncio.wait_for(feed.get(), ON_AIR_POLL_SECONDS)
                except asyncio.TimeoutError:
                    item = ("tick", None)
                if item is None:
                    break  # the server is closing, or this feed fell too far behind
                kind, data = item
                styles_due = kind == "styles"
                if kind == "job":
                    await out.event("job", data)
                while not feed.empty():  # a burst of changes: one styles event for all of it
                    more = feed.get_nowait()
                    if more is None:
                        break
                    if more[0] == "job":
                        await out.event("job", more[1])
                    styles_due = styles_due or more[0] == "styles"
                now = admin.activations.on_air_signature()
                if styles_due or now != signature:
                    signature = now
                    await out.event("styles", await admin.list_styles())
                    quiet = 0.0
                elif kind == "tick":
                    quiet += ON_AIR_POLL_SECONDS
                    if quiet >= SSE_KEEPALIVE_SECONDS:
                        await out.keepalive()
                        quiet = 0.0
            await out.response.write_eof()
        except ConnectionError:
            pass  # the page went away, or stopped reading and was cut off
        return out.response
    finally:
        admin.feed.unsubscribe(feed)


async def edit_style(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.edit_style(request.match_info["style"], await read_json(request)))


async def list_models(request: web.Request, admin: AdminService) -> web.Response:
    return json_response(await admin.activations.list_versions(request.match_info["style"]))


async def activate(request: web.Request, admin: AdminService) -> web.Response:
    body = await read_json(request) or {}
    if not isinstance(body, dict) or set(body) - {"within_seconds"}:
        raise BadRequest('the body may only be {"within_seconds": <seconds>}')
    within = body.get("within_seconds")
    if within is not None and (not isinstance(within, (int, float)) or isinstance(within, bool)
                               or not 0 <= within <= MAX_WITHIN_SECONDS):
        raise BadRequest(f"within_seconds must be a number from 0 to {MAX_WITHIN_SECONDS:g}, not {within!r}")
    result = await admin.activations.activate(request.match_info["style"], request.match_info["version"], within_seconds=within)
    return json_response(result)


async def unknown_admin_route(request: web.Request, admin: AdminService) -> web.Response:
    return json_error(404, f"no admin route {request.method} {request.path}")


# The whole admin API, in one place. Tests walk this table to check auth on every route.
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/admin/styles", list_styles),
    ("GET", "/admin/events", admin_events),
    ("GET", "/admin/library", library_styles),
    ("POST", "/admin/styles", create_style),
    ("PATCH", "/admin/styles/{style}", edit_style),
    ("GET", "/admin/styles/{style}/pieces", list_pieces),
    ("POST", "/admin/styles/{style}/pieces", upload_pieces),
    ("DELETE", "/admin/pieces/{piece_id}", delete_piece),
    ("POST", "/admin/styles/{style}/retrain", retrain),
    ("GET", "/admin/styles/{style}/models", list_models),
    ("POST", "/admin/styles/{style}/models/{version}/activate", activate),
    ("GET", "/admin/jobs", list_jobs),
    ("GET", "/admin/jobs/{job_id}", get_job),
    ("GET", "/admin/jobs/{job_id}/events", job_events),
    ("DELETE", "/admin/jobs/{job_id}", cancel_job),
]


def guarded(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Check the bearer token first; answer every error in JSON; log every admin action."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        state = request.app[ADMIN]
        who = request.remote or "?"
        what = f"{request.method} {quoted(request.path)}"
        if not bearer_matches(request.headers.get("Authorization"), state.token.value):
            reason = "missing" if "Authorization" not in request.headers else "wrong"
            log.warning("admin: refused %s from %s (%s token)", what, who, reason)
            return json_error(401, f"{reason} admin token: send 'Authorization: Bearer <token>'",
                              headers={"WWW-Authenticate": 'Bearer realm="continuo-admin"'})
        try:
            if state.service is None:
                raise LibraryError(state.unavailable or "the admin could not start")
            response = await handler(request, state.service)
        except web.HTTPException as exc:
            if exc.content_type == "application/json":
                raise
            response = json_error(exc.status, exc.reason, headers={
                k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")})
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must still answer in JSON, not a text 500
            answer = error_answer(exc)
            if answer is None:
                log.exception("admin: %s from %s failed", what, who)
                response = json_error(500, f"internal error ({type(exc).__name__}); the server log has the details")
            else:
                if answer.unavailable:
                    log.error("admin: %s from %s: the catalog is unavailable: %s", what, who, exc)
                response = answer.response()
        log.info("admin: %s from %s -> %d", what, who, response.status)
        return response

    return wrapper


async def admin_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "admin.html", headers={"Cache-Control": "no-cache"})


def _open_service(app: web.Application, station: Any, *, home: Path | None, swap_seconds: float | None,
                  max_jobs: int | None, limits: UploadLimits | None) -> tuple[Path, AdminService | None, str | None]:
    """The data dir, and the admin service on it (or ``None`` and why, when the catalog cannot be opened)."""
    options = app.get("options") or {}  # create_app(station, **options) keeps them here
    home = home or options.get("home")
    swap_seconds = swap_seconds if swap_seconds is not None else options.get("swap_seconds")
    max_jobs = max_jobs or options.get("max_jobs")
    home = make_private_dir(Path(home) if home is not None else continuo_home())
    try:
        service = AdminService(
            station,
            home,
            swap_seconds=swap_seconds if swap_seconds is not None else env_float("CONTINUO_SWAP_SECONDS", minimum=0.0),
            max_jobs=max_jobs or env_int("CONTINUO_ADMIN_MAX_JOBS", 1),
            limits=limits or options.get("upload_limits") or UploadLimits.from_env(),
            # "workers": retrain jobs wait in the shared store for `continuo worker`s (--train-on)
            train_on=options.get("train_on") or os.environ.get("CONTINUO_TRAIN_ON") or "here",
        )
        return home, service, None
    except (LibraryError, sqlite3.Error) as exc:
        # The station plays on without its catalog; every admin call says why it cannot work.
        log.error("admin: the catalog cannot be opened, the admin answers 503 until a restart: %s", exc)
        return home, None, f"the catalog cannot be opened: {exc}"


def _run_with_app(app: web.Application, service: AdminService | None) -> None:
    async def start(app: web.Application) -> None:
        if service is None:
            return
        try:
            await service.start()
        except (LibraryError, sqlite3.OperationalError) as exc:  # locked at startup: the streams go on
            log.error("admin: could not restore jobs and versions at start: %s", exc)

    async def stop(app: web.Application) -> None:
        if service is not None:
            await service.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def setup_duties(app: web.Application, station: Any, *, home: Path | None = None) -> None:
    """The admin's duties without its routes (``continuo serve --admin off``): at start, each
    style's activated version goes back on air (not the bundled model), jobs a previous server
    left running are marked failed and partial files are swept; while serving, activations made
    elsewhere (a trainer worker, another node, an earlier admin session) are followed.
    No token is created and no ``/admin`` route exists."""
    _, service, _ = _open_service(app, station, home=home, swap_seconds=None, max_jobs=None, limits=None)
    _run_with_app(app, service)


def setup(
    app: web.Application,
    station: Any,
    *,
    home: Path | None = None,
    swap_seconds: float | None = None,
    max_jobs: int | None = None,
    limits: UploadLimits | None = None,
) -> None:
    """Add the admin page and API to ``app``. Settings come from the arguments, then from
    ``app["options"]`` (``home``, ``swap_seconds``, ``max_jobs``, ``upload_limits``), then the environment:
    CONTINUO_SWAP_SECONDS (hot swap deadline; unset = next piece boundary),
    CONTINUO_ADMIN_MAX_JOBS (concurrent training jobs, default 1),
    CONTINUO_TRAIN_ON (``here``, the default, or ``workers``: see ``continuo serve --train-on``),
    CONTINUO_ADMIN_MAX_UPLOAD_BYTES / CONTINUO_ADMIN_MAX_UPLOAD_FILES (per upload)."""
    home, service, why = _open_service(app, station, home=home, swap_seconds=swap_seconds, max_jobs=max_jobs,
                                       limits=limits)
    token = load_or_create_token(home)
    app[ADMIN] = AdminState(token, service) if service is not None else AdminState(token, None, why)

    app.router.add_get("/admin", admin_page, name="admin-page")
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, guarded(handler))
    app.router.add_route("*", r"/admin/{tail:[\s\S]*}", guarded(unknown_admin_route))
    _run_with_app(app, service)

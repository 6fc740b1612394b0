"""The one mapping from the errors our code raises on purpose to HTTP answers.

Every route module answers an error the same way: :func:`error_answer` says which status,
message and headers an exception gets (or None for an error nobody raised on purpose, a bug
that the caller answers with a 500), and :func:`http_error` turns it into an exception a
handler can raise. The statuses themselves live with the errors (``AdminError.status``,
``BlendError.status``), so a new kind of refusal needs no change here.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from aiohttp import web

from radio.admin.errors import AdminError
from radio.errors import LibraryError, StyleError
from radio.station.blends import BlendError, BlendsFull
from radio.web.responses import json_error, json_http_error

CATALOG_RETRY_SECONDS = 5  # Retry-After when the catalog is locked or cannot be reached
HTTP_ERRORS: dict[int, type[web.HTTPError]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    415: web.HTTPUnsupportedMediaType,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    message: str
    headers: dict[str, str] | None = None
    unavailable: bool = False  # the catalog or shared store failed, not the request

    def response(self) -> web.Response:
        return json_error(self.status, self.message, headers=self.headers)


def error_answer(exc: BaseException) -> ErrorAnswer | None:
    """How ``exc`` is answered, or None when it is not an error raised on purpose (a bug)."""
    if isinstance(exc, (AdminError, BlendError)):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, BlendsFull) else None
        return ErrorAnswer(exc.status, str(exc), headers)
    if isinstance(exc, (StyleError, ValueError)):  # a bad setting or value the checks missed
        return ErrorAnswer(400, str(exc))
    if isinstance(exc, (sqlite3.OperationalError, LibraryError)):
        # The catalog is locked by another writer or cannot be reached: the streams go on, and
        # the answer says when to try again instead of failing the request for good.
        return ErrorAnswer(503, f"the catalog is unavailable, try again shortly: {exc}",
                           {"Retry-After": str(CATALOG_RETRY_SECONDS)}, unavailable=True)
    return None


def http_error(exc: BaseException) -> web.HTTPError:
    """:func:`error_answer` as an exception to raise from a handler (a 500 for a bug)."""
    answer = error_answer(exc) or ErrorAnswer(500, f"internal error ({type(exc).__name__})")
    return json_http_error(HTTP_ERRORS.get(answer.status, web.HTTPBadRequest), answer.message, answer.headers)

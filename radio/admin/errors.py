"""Errors the admin API turns into HTTP answers (each carries its status code), and how
untrusted text goes into the admin's log lines."""

from __future__ import annotations

from radio.errors import ContinuoError


def quoted(text: object) -> str:
    """Untrusted text (a request path, a piece title from a scraped file) for a log line: quoted,
    with newlines and control characters escaped, so it cannot forge a line of its own."""
    return repr(str(text))


class AdminError(ContinuoError):
    status = 400


class BadRequest(AdminError):
    status = 400


class NotFound(AdminError):
    status = 404


class Conflict(AdminError):
    status = 409


class Unprocessable(AdminError):
    status = 422


class UnsupportedMediaType(AdminError):
    status = 415


class ServiceUnavailable(AdminError):
    """The shared catalog or store cannot be reached; the station plays on."""

    status = 503

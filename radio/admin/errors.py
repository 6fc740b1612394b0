"""Errors the admin API turns into HTTP answers: each carries its status code."""

from __future__ import annotations

from radio.errors import ContinuoError


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

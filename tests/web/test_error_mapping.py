"""One error -> HTTP mapping (radio/web/errors.py), used by the admin routes and the mixer."""

from __future__ import annotations

import json
import sqlite3

from aiohttp import web

from radio.admin.errors import BadRequest, Conflict, NotFound, ServiceUnavailable, Unprocessable, UnsupportedMediaType
from radio.errors import LibraryError, StyleError
from radio.station.blends import BlendError, BlendsFull, BlendsIncompatible, UnknownStyle
from radio.web import admin_routes, errors, mixer
from radio.web.errors import CATALOG_RETRY_SECONDS, error_answer, http_error


def test_each_error_has_one_status():
    cases = [
        (BadRequest("x"), 400), (NotFound("x"), 404), (Conflict("x"), 409), (UnsupportedMediaType("x"), 415),
        (Unprocessable("x"), 422), (ServiceUnavailable("x"), 503),
        (BlendError("x"), 400), (UnknownStyle("x"), 404), (BlendsIncompatible("x"), 409), (BlendsFull("x"), 503),
        (StyleError("x"), 400), (ValueError("x"), 400),
        (LibraryError("x"), 503), (sqlite3.OperationalError("database is locked"), 503),
    ]
    for exc, status in cases:
        answer = error_answer(exc)
        assert answer is not None and answer.status == status, exc
    assert error_answer(RuntimeError("a bug")) is None


def test_retry_after_for_a_full_mixer_and_an_unavailable_catalog():
    assert error_answer(BlendsFull("full", retry_after=12.4)).headers == {"Retry-After": "12"}
    assert error_answer(BlendsFull("full", retry_after=0.1)).headers == {"Retry-After": "1"}
    unavailable = error_answer(LibraryError("down"))
    assert unavailable.unavailable and unavailable.headers == {"Retry-After": str(CATALOG_RETRY_SECONDS)}
    assert unavailable.message == "the catalog is unavailable, try again shortly: down"


def test_http_error_is_the_same_answer_as_an_exception():
    exc = http_error(UnknownStyle("no style 'x'"))
    assert isinstance(exc, web.HTTPNotFound)
    assert json.loads(exc.text) == {"error": "no style 'x'"}
    full = http_error(BlendsFull("full", retry_after=3))
    assert isinstance(full, web.HTTPServiceUnavailable) and full.headers["Retry-After"] == "3"
    assert isinstance(http_error(Unprocessable("no")), web.HTTPUnprocessableEntity)


def test_both_route_modules_use_the_one_mapping():
    assert mixer.http_error is errors.http_error
    assert admin_routes.error_answer is errors.error_answer
    assert not hasattr(mixer, "_http_error")

"""A request's JSON body, strictly: bounded in size and depth, and no NaN or Infinity (as
literals or by overflow), which Python's json would accept."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from radio.admin.errors import BadRequest

MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32  # our bodies nest three deep; Python's parser fails at about a thousand
MAX_JSON_INT = 2**63 - 1


def _no_constant(name: str) -> Any:
    raise BadRequest(f"the body holds {name}, which is not a JSON number: send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 overflows to inf
        raise BadRequest(f"the number {text[:40]} is too large: send a finite number")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_JSON_INT:  # would overflow a float (or a database column) further on
        raise BadRequest(f"the number {text[:40]}... is too large: send at most {MAX_JSON_INT}")
    return value


def parse_json(raw: bytes | bytearray) -> Any:
    """Strict JSON: no NaN/Infinity, as literals or by overflow (Python's json accepts both),
    and no deep nesting."""
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
    except RecursionError:
        raise BadRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    stack = [(data, 1)]
    while stack:  # iterative: the depth check itself must not recurse
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data


async def read_json(request: web.Request) -> Any:
    """The request's JSON body, or None when it has none."""
    if not request.body_exists:
        return None
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise BadRequest(f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
    raw = bytearray()  # read() returns what has arrived so far, not the whole body
    while len(raw) <= MAX_JSON_BYTES and (chunk := await request.content.read(MAX_JSON_BYTES + 1 - len(raw))):
        raw += chunk
    if len(raw) > MAX_JSON_BYTES:
        raise BadRequest(f"the JSON body is larger than {MAX_JSON_BYTES} bytes")
    if not raw.strip():
        return None
    return parse_json(raw)

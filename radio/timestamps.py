"""The one timestamp format of every stored record (catalog, admin jobs, model versions,
model file headers): ISO 8601 in UTC, to the second."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

"""The admin bearer token: where it comes from and how a request is checked.

The token is ``$CONTINUO_ADMIN_TOKEN`` when set. Otherwise one is generated on first
start and kept in ``<home>/admin-token`` (mode 0600), so it survives restarts and only
the owner of the data dir can read it.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("radio.admin")

TOKEN_ENV = "CONTINUO_ADMIN_TOKEN"
TOKEN_FILE = "admin-token"
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class AdminToken:
    value: str
    source: str  # "env" or the path of the token file


def load_or_create_token(home: Path) -> AdminToken:
    """The token from the environment, else from ``<home>/admin-token``, else a new one."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        if len(env) < MIN_TOKEN_CHARS:
            raise SystemExit(f"{TOKEN_ENV} is too short: use at least {MIN_TOKEN_CHARS} characters")
        return AdminToken(env, "env")
    path = Path(home) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two servers starting at once cannot both write a different token.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="utf-8").strip()
        if len(value) < MIN_TOKEN_CHARS:
            raise SystemExit(f"{path} holds no usable admin token: delete it to generate a new one")
        return AdminToken(value, str(path))
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    print(f"continuo: generated an admin token; it is in {path} (mode 0600)", flush=True)
    return AdminToken(value, str(path))


def bearer_matches(authorization: str | None, token: str) -> bool:
    """True when the header is ``Bearer <token>``; constant time in the token's content."""
    if not authorization:
        return False
    scheme, _, supplied = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(supplied.strip().encode("utf-8"), token.encode("utf-8"))

"""The admin bearer token: where it comes from and how a request is checked.

The token is ``$CONTINUO_ADMIN_TOKEN`` when set. Otherwise one is generated on first
start and kept in ``<home>/admin-token`` (mode 0600, in a 0700 data dir), so it survives
restarts and only the owner of the data dir can read it. A token file that another user
owns, or that others may read or write, is refused: whoever could read it holds the admin.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from radio.config import make_private_dir

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
    make_private_dir(path.parent)
    try:
        # O_EXCL: two servers starting at once cannot both write a different token.
        # O_NOFOLLOW: a symlink planted in the data dir cannot redirect the write.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        check_token_file(path)
        value = path.read_text(encoding="utf-8").strip()
        if len(value) < MIN_TOKEN_CHARS:
            raise SystemExit(f"{path} holds no usable admin token: delete it to generate a new one")
        return AdminToken(value, str(path))
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    print(f"continuo: generated an admin token; it is in {path} (mode 0600)", flush=True)
    return AdminToken(value, str(path))


def check_token_file(path: Path) -> None:
    """Refuse a token file that is not a plain file of ours, private to us."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise SystemExit(f"{path} is not a plain file (a symlink?): delete it to generate a new token")
    if info.st_uid != os.getuid():
        raise SystemExit(f"{path} belongs to user id {info.st_uid}, not to this server's ({os.getuid()}): "
                         "chown it, or delete it to generate a new token")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise SystemExit(f"{path} has mode {mode:04o}, so other users can read the admin token: "
                         f"run `chmod 600 {path}` (and consider changing the token)")


def bearer_matches(authorization: str | None, token: str) -> bool:
    """True when the header is ``Bearer <token>``; constant time in the token's content."""
    if not authorization:
        return False
    scheme, _, supplied = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(supplied.strip().encode("utf-8"), token.encode("utf-8"))

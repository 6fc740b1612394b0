"""Where things live. Every path can be overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def continuo_home() -> Path:
    """The data dir (catalog, blobs, jobs, model versions): ``$CONTINUO_HOME`` or ``./var``."""
    return Path(os.environ.get("CONTINUO_HOME", "var")).resolve()


def styles_dir() -> Path:
    """The folder of bundled styles: ``$CONTINUO_STYLES`` or ``styles/`` beside the package."""
    env = os.environ.get("CONTINUO_STYLES")
    if env:
        return Path(env).resolve()
    bundled = REPO_ROOT / "styles"
    if bundled.is_dir():
        return bundled
    return Path("styles").resolve()


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}={raw!r} is not an integer") from exc

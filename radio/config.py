"""Where things live, and reading settings from the environment. Every path can be
overridden from the environment."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def continuo_home() -> Path:
    """The data dir (catalog, blobs, jobs, model versions): ``$CONTINUO_HOME`` or ``./var``."""
    return Path(os.environ.get("CONTINUO_HOME", "var")).resolve()


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) with mode 0700: the data dir holds the admin token,
    the catalog and model files, which no other local user has any business reading.
    A folder that already exists keeps its mode: it may be a volume someone set up on purpose
    (the admin token file is checked on its own)."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass  # another process made it between the check and here
    return path


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
    """``$name`` as an integer, ``default`` when unset or empty; a clear exit when it is not one."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}={raw!r} is not an integer") from exc


def env_float(name: str, default: float | None = None, *, minimum: float | None = None) -> float | None:
    """``$name`` as a finite number, ``default`` when unset or empty; a clear exit otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}={raw!r} is not a number") from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise SystemExit(f"{name}={raw!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise SystemExit(f"{name} must be at least {minimum:g}, not {value:g}")
    return value


def raise_fd_limit(wanted: int | None = None) -> int:
    """Lift the soft open-files limit toward the hard one (every listener is a socket);
    with ``wanted``, no higher than that. Returns the soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if wanted is None else min(hard, max(soft, wanted))
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


"""Fixtures for the admin tests: a fresh data dir and a known admin token.

pytest runs with --import-mode=importlib, so this folder is put on sys.path for the
shared helpers in admin_helpers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from admin_helpers import TOKEN  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CONTINUO_HOME", str(home))
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("CONTINUO_STYLES", raising=False)
    return home



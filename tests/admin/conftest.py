"""Fixtures for the admin tests: a fresh data dir and a known admin token. The shared helpers
are in tests/support/admin_helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.admin_helpers import TOKEN


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CONTINUO_HOME", str(home))
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("CONTINUO_STYLES", raising=False)
    return home



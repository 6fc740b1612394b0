"""Fuzzing with a fixed budget: every test here runs a set number of derandomized
hypothesis examples, so a run takes the same time and finds the same cases everywhere.
``CONTINUO_FUZZ_EXAMPLES`` raises the budget for a longer hunt."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("CONTINUO_FUZZ_EXAMPLES", "150"))
settings.register_profile(
    "continuo-fuzz", max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    from tests.support.admin_helpers import TOKEN

    home = tmp_path / "home"
    monkeypatch.setenv("CONTINUO_HOME", str(home))
    monkeypatch.setenv("CONTINUO_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("CONTINUO_STYLES", raising=False)
    return home

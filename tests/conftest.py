"""Shared fixtures. Area-specific fixtures live in each tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI lays ../shared beside the clone; a user's fresh clone may not have it.
CORPUS = Path(os.environ.get("CONTINUO_CORPUS", REPO.parent / "shared" / "corpus"))
ARTIFACTS = REPO / "test-artifacts"

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not (CORPUS / "MANIFEST.csv").is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def continuo_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty data dir for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("CONTINUO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

"""What tests need from ``../shared`` beside the clone, and what happens when it is missing.

A developer's fresh clone may not have the corpus: those tests skip, with the reason. CI lays
``../shared`` out on purpose, so there a missing corpus is a broken checkout, and a skip would
hide every test that needs it behind a green run: with ``CI=true`` they fail instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pytest


def in_ci(environ: Mapping[str, str]) -> bool:
    """GitHub Actions, GitLab CI and most others set CI=true."""
    return environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_corpus(corpus: Path, environ: Mapping[str, str]) -> Path:
    """``corpus`` if it holds a MANIFEST.csv; otherwise skip the test, or fail it under CI."""
    if (corpus / "MANIFEST.csv").is_file():
        return corpus
    why = f"the shared corpus is not at {corpus} (set CONTINUO_CORPUS, or lay ../shared beside the clone)"
    if in_ci(environ):
        pytest.fail(f"{why}; under CI=true a missing corpus fails instead of skipping", pytrace=False)
    pytest.skip(why)

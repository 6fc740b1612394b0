"""A missing ../shared/corpus skips on a developer's clone and fails under CI."""

from __future__ import annotations

import pytest

from tests.support.shared_data import require_corpus


def test_a_missing_corpus_fails_under_ci_and_skips_elsewhere(tmp_path):
    missing = tmp_path / "no-corpus"
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_corpus(missing, {"CI": "true"})
    with pytest.raises(pytest.skip.Exception, match="not at"):
        require_corpus(missing, {})
    with pytest.raises(pytest.skip.Exception):
        require_corpus(missing, {"CI": "false"})
    (tmp_path / "MANIFEST.csv").write_text("file,style\n")
    assert require_corpus(tmp_path, {"CI": "true"}) == tmp_path


def test_a_test_that_needs_the_corpus_errors_under_ci_when_it_is_missing(tmp_path):
    """The real fixture, in a pytest of its own: the test is reported as an error, not a skip."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CI": "true", "CONTINUO_CORPUS": str(tmp_path / "no-corpus"), "PYTHONPATH": str(repo)}
    test = "tests/music/test_midi_errors.py::test_truncated_corpus_file"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]
    env["CI"] = "false"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 skipped" in run.stdout, run.stdout[-2000:]

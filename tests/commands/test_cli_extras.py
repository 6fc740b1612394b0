"""A research command run without its extra says which extra to install and how, instead
of a ModuleNotFoundError traceback (as after only `make install`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from radio.music.midi_io import write_midi


def tune() -> bytes:
    return write_midi([[(60 + i % 12, "b")] for i in range(64)], bpm=100)

# In the child: the research packages are not installed (as after only `make install`).
HIDE_EXTRAS = '''
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in ("tensorflow", "scrapy", "music21", "matplotlib"):
            raise ModuleNotFoundError(f"No module named {top!r}", name=top)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


@pytest.mark.parametrize("argv, extra", [
    (["train", "--style", "folk", "--epochs", "1"], "train"),
    (["evaluate", "--style", "folk", "--pieces", "PIECES"], "train"),
    (["scrape", "mutopia", "--limit", "1", "--base-url", "http://127.0.0.1:9/"], "scrape"),
    (["import", "music21:bach", "--style", "baroque"], "corpus"),
])
def test_a_research_command_without_its_extra_names_it(argv, extra, tmp_path):
    (tmp_path / "sitecustomize.py").write_text(HIDE_EXTRAS)
    env = dict(os.environ, PYTHONPATH=str(tmp_path), CONTINUO_HOME=str(tmp_path / "home"))
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    (pieces / "a.mid").write_bytes(tune())
    argv = [str(pieces) if a == "PIECES" else a for a in argv]
    done = subprocess.run([sys.executable, "-m", "radio.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"'{extra}' extra" in done.stderr and "make install-dev" in done.stderr, done.stderr

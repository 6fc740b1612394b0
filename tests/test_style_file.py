"""radio.style_file: every write to a style.toml, checked and atomic."""

import shutil

import pytest

from radio.config import REPO_ROOT
from radio.errors import StyleError
from radio.style_file import set_loudness, set_style_value, write_style, write_style_text
from radio.styles import load_style


def test_a_style_that_would_not_read_back_is_never_written(tmp_path):
    folder = tmp_path / "mine"
    style = write_style(folder, {"name": "Mine", "tempo_bpm": 96}, comment="Made by a test.")
    assert style.display_name == "Mine" and style.tempo_bpm == 96
    before = (folder / "style.toml").read_text()
    assert before.startswith("# Made by a test.\n")
    with pytest.raises(StyleError):
        write_style(folder, {"name": "Mine", "top_p": 1.5}, comment="Made by a test.")
    assert (folder / "style.toml").read_text() == before
    assert [p.name for p in folder.iterdir()] == ["style.toml"]


def test_values_and_the_loudness_table_keep_the_rest_of_the_file(tmp_path):
    folder = tmp_path / "folk"
    shutil.copytree(REPO_ROOT / "styles" / "folk", folder, ignore=shutil.ignore_patterns("evaluation"))
    original = load_style(folder)
    set_style_value(folder / "style.toml", "temperature", 0.85)
    set_loudness(folder / "style.toml", 3.5, "abc123", median_lufs=-19.5, seeds=3)
    set_loudness(folder / "style.toml", 4.25, "def456", median_lufs=-20.2, seeds=3)
    text = (folder / "style.toml").read_text()
    assert text.count("[loudness]") == 1 and "python -m radio.commands.calibrate" in text
    style = load_style(folder)
    assert (style.temperature, style.loudness_gain_db, style.loudness_model) == (0.85, 4.25, "def456")
    assert style.timbre == original.timbre and style.form == original.form


def test_a_job_s_style_text_is_written_as_it_came(tmp_path):
    text = (REPO_ROOT / "styles" / "folk" / "style.toml").read_text()
    write_style_text(tmp_path / "folk", text)
    assert (tmp_path / "folk" / "style.toml").read_text() == text

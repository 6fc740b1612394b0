"""``continuo render FILE.mid --style S --out x.wav|x.mp3``."""

from __future__ import annotations

import numpy as np
import pytest

from radio.audio.wav import read_wav
from radio.cli import main
from radio.music.midi_io import write_midi

CHORD = [[(60, "b"), (64, "b"), (67, "b")]] + [[(60, "s"), (64, "s"), (67, "s")]] * 7 + [[(72, "b")]] * 8


@pytest.fixture
def score(tmp_path):
    path = tmp_path / "score.mid"
    path.write_bytes(write_midi(CHORD, 100))
    return path


def test_render_plays_a_midi_file_in_a_styles_sound(score, tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["render", str(score), "--style", "baroque", "--out", str(out)]) == 0
    samples, rate = read_wav(out)
    assert rate == 44100 and samples.ndim == 2 and samples.shape[1] == 2
    body = 16 * 60 / (100 * 4)
    assert len(samples) / rate > body + 1.0  # the room rings out after the last note
    assert np.abs(samples).max() > 0.05
    assert "baroque" in capsys.readouterr().out
    # Another style is another sound on the same score.
    other = tmp_path / "y.wav"
    assert main(["render", str(score), "--style", "folk", "--out", str(other), "--mono"]) == 0
    mono, _ = read_wav(other)
    assert mono.ndim == 1


def test_render_writes_mp3(score, tmp_path):
    out = tmp_path / "x.mp3"
    assert main(["render", str(score), "--style", "classical", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:2] == b"\xff\xfb" or data[:3] == b"ID3"
    assert len(data) > 10_000


def test_render_refuses_a_bad_midi_file_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"this is not a MIDI file")
    assert main(["render", str(bad), "--style", "baroque", "--out", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err
    assert "bad.mid" in err and "MIDI" in err
    assert not (tmp_path / "x.wav").exists()
    assert main(["render", str(tmp_path / "missing.mid"), "--style", "baroque", "--out", str(tmp_path / "x.wav")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["render", str(bad), "--style", "baroque", "--out", str(tmp_path / "x.ogg")]) == 1
    assert ".wav or .mp3" in capsys.readouterr().err


def test_render_names_an_unknown_style(score, tmp_path, capsys):
    assert main(["render", str(score), "--style", "nope", "--out", str(tmp_path / "x.wav")]) == 1
    assert "unknown style 'nope'" in capsys.readouterr().err

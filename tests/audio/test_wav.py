"""WAV writing: 16-bit PCM that the standard library reads back."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from radio.audio.wav import read_wav, write_wav


def test_wav_round_trip_is_16_bit_mono_within_one_step(tmp_path):
    x = (0.8 * np.sin(np.linspace(0, 200 * np.pi, 22050))).astype(np.float32)
    path = tmp_path / "tone.wav"
    write_wav(path, x, 22050)
    with wave.open(str(path), "rb") as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 22050, len(x))
    y, rate = read_wav(path)
    assert rate == 22050
    assert np.abs(y - x).max() <= 1 / 32767
    assert not (tmp_path / "tone.wav.part").exists()


def test_wav_stereo_and_clipping(tmp_path):
    x = np.array([[0.0, 2.0], [-2.0, 0.25]], dtype=np.float32)
    write_wav(tmp_path / "s.wav", x)
    y, _ = read_wav(tmp_path / "s.wav")
    assert y.shape == (2, 2)
    assert y[0, 1] == 1.0 and y[1, 0] == -1.0


def test_wav_refuses_nan_and_non_float_input(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "bad.wav", np.array([0.0, np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="float array"):
        write_wav(tmp_path / "bad.wav", np.array([0, 1], dtype=np.int16))
    assert not (tmp_path / "bad.wav").exists()

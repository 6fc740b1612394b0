"""WAV files: 16-bit PCM through the standard library's ``wave`` module."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from radio.audio.mp3 import to_int16


def write_wav(path: Path, samples: np.ndarray, sample_rate: int = 44100) -> None:
    """Write float samples in [-1, 1] (shape (n,) mono or (n, channels)) as 16-bit PCM."""
    samples = np.asarray(samples)
    if samples.ndim not in (1, 2) or not np.issubdtype(samples.dtype, np.floating):
        raise ValueError(
            f"samples must be a float array of shape (n,) or (n, channels), not {samples.dtype} {samples.shape}"
        )
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinity")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(to_int16(samples).astype("<i2").tobytes())
    tmp.replace(path)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as float32 in [-1, 1]: (samples (n,) or (n, channels), sample rate)."""
    with wave.open(str(path), "rb") as src:
        if src.getsampwidth() != 2:
            raise ValueError(f"{path} is {8 * src.getsampwidth()}-bit; only 16-bit PCM is read")
        channels, rate = src.getnchannels(), src.getframerate()
        data = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.float32) / 32767.0
    return (data if channels == 1 else data.reshape(-1, channels)), rate

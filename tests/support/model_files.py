"""Fixtures for the numpy model: small randomly initialised model files. A fixture plugin
(registered in tests/conftest.py) for the model and command tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from radio.model.kinds import kind_of
from radio.model.modelfile import write_model_file
from radio.music.encoding import Encoding, get_encoding


def random_arrays(encoding: Encoding, hidden: int = 32, layers: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    size = encoding.input_size
    if kind_of(encoding).embedded:
        size = 16
        arrays["embedding"] = rng.normal(0, 1.0, (encoding.vocab_size, size)).astype(np.float32)
    for k in range(layers):
        arrays[f"lstm{k}_kernel"] = rng.normal(0, 0.3, (size, 4 * hidden)).astype(np.float32)
        arrays[f"lstm{k}_recurrent"] = rng.normal(0, 0.3, (hidden, 4 * hidden)).astype(np.float32)
        arrays[f"lstm{k}_bias"] = rng.normal(0, 0.1, 4 * hidden).astype(np.float32)
        size = hidden
    arrays["head_kernel"] = rng.normal(0, 0.5, (size, encoding.output_size)).astype(np.float32)
    arrays["head_bias"] = rng.normal(-1.0, 0.5, encoding.output_size).astype(np.float32)
    return arrays


def write_random_model(path: Path, encoding_name: str = "continuo", **kwargs) -> Path:
    encoding = get_encoding(encoding_name)
    header = {
        "encoding": encoding.name,
        "encoding_version": encoding.version,
        "style": "test",
        "hyperparameters": {"hidden": kwargs.get("hidden", 32), "layers": kwargs.get("layers", 2)},
    }
    write_model_file(path, random_arrays(encoding, **kwargs), header)
    return path


@pytest.fixture
def make_arrays():
    """The random-weights factory, for tests that build their own files."""
    return random_arrays


@pytest.fixture
def continuo_model_file(tmp_path) -> Path:
    return write_random_model(tmp_path / "continuo.npz", "continuo")


@pytest.fixture
def token_model_file(tmp_path) -> Path:
    return write_random_model(tmp_path / "token.npz", "token")


@pytest.fixture
def seed_model_file(tmp_path) -> Path:
    return write_random_model(tmp_path / "seed.npz", "seed")

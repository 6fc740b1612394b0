"""Keras model -> framework-free model file (numpy arrays + JSON header).

Weights are stored as float16 (half the size). So that what we ship is what we measured,
``round_to_storage`` first rounds the Keras weights to float16 in place: the Keras model, the
evaluation and the radio then all use the very same numbers, and parity holds.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np

from radio.timestamps import utc_now
from radio.model.modelfile import read_model_file, write_model_file
from radio.music.encoding import Encoding
from radio.music.tokens import TokenEncoding

STORAGE_DTYPE = np.float16


def round_to_storage(model: keras.Model) -> None:
    model.set_weights([w.astype(STORAGE_DTYPE).astype(np.float32) for w in model.get_weights()])


def model_arrays(model: keras.Model) -> dict[str, np.ndarray]:
    """The LSTM and head weights under the names radio/model expects."""
    arrays: dict[str, np.ndarray] = {}
    k = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.LSTM):
            kernel, recurrent, bias = layer.get_weights()
            arrays[f"lstm{k}_kernel"], arrays[f"lstm{k}_recurrent"], arrays[f"lstm{k}_bias"] = kernel, recurrent, bias
            k += 1
        elif isinstance(layer, keras.layers.Dense):
            arrays["head_kernel"], arrays["head_bias"] = layer.get_weights()
        elif isinstance(layer, keras.layers.Embedding):
            (arrays["embedding"],) = layer.get_weights()
    return {name: a.astype(STORAGE_DTYPE) for name, a in arrays.items()}


def load_weights(model: keras.Model, path: str | Path, encoding: Encoding | TokenEncoding) -> None:
    """Set a Keras model's weights from a model file (the inverse of :func:`model_arrays`), to
    continue a training run. Raises ModelFileError when the file's kind or sizes differ."""
    from radio.errors import ModelFileError

    header, arrays, _ = read_model_file(path)
    if header.get("encoding") != encoding.name:
        raise ModelFileError(f"{path} is a {header.get('encoding')!r} model; cannot continue a {encoding.name!r} run from it")
    expected = model_arrays(model)
    mismatched = sorted(
        name for name in set(expected) | set(arrays) if name not in arrays or name not in expected or arrays[name].shape != expected[name].shape
    )
    if mismatched:
        raise ModelFileError(f"{path} does not fit this model's layers ({', '.join(mismatched)}): use the same --hidden and layers")
    k = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.LSTM):
            layer.set_weights([arrays[f"lstm{k}_kernel"], arrays[f"lstm{k}_recurrent"], arrays[f"lstm{k}_bias"]])
            k += 1
        elif isinstance(layer, keras.layers.Dense):
            layer.set_weights([arrays["head_kernel"], arrays["head_bias"]])
        elif isinstance(layer, keras.layers.Embedding):
            layer.set_weights([arrays["embedding"]])


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__}
    for dist in ("tensorflow", "tensorflow-cpu", "continuo"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if "tensorflow" in sys.modules:
        versions["tensorflow"] = sys.modules["tensorflow"].__version__
    return versions


def make_header(encoding: Encoding | TokenEncoding, **fields: Any) -> dict[str, Any]:
    return {
        "encoding": encoding.name,
        "encoding_version": encoding.version,
        "created_at": utc_now(),
        "versions": library_versions(),
        **fields,
    }


def export_model(keras_model: keras.Model, path: str | Path, encoding: Encoding | TokenEncoding, **header_fields: Any) -> str:
    """Write the model file atomically; return its version id."""
    return write_model_file(path, model_arrays(keras_model), make_header(encoding, **header_fields))


def amend_header(path: str | Path, **updates: Any) -> str:
    """Rewrite a model file with header fields added or replaced (atomically); return its new version."""
    header, arrays, _ = read_model_file(path)
    for key in ("format", "format_version"):
        header.pop(key, None)
    header.update(updates)
    # The stored weights are float16 values: casting back loses nothing.
    return write_model_file(path, {name: a.astype(STORAGE_DTYPE) for name, a in arrays.items()}, header)

"""The framework-free model file: an ``.npz`` of weight arrays plus a JSON header.

Arrays: ``lstm{k}_kernel``, ``lstm{k}_recurrent``, ``lstm{k}_bias`` for each layer k, then
``head_kernel`` and ``head_bias`` (float16 or float32 storage; computation is float32).
A kind whose input is a token (radio/model/kinds/, ``embedded``) adds ``embedding``.
``header`` holds the UTF-8 JSON header as a uint8 array, so no pickle is ever needed; its
``encoding`` names the model kind, and ``encoding_version`` that kind's encoding version.
Writing is atomic (a temp file in the same folder, fsync, rename), so a failed or
cancelled run never leaves a half-written model where a reader could find it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from radio.errors import ModelFileError
from radio.files import atomic_write_bytes
from radio.model.kinds import KIND_NAMES, KINDS

FORMAT = "continuo-model"
FORMAT_VERSION = 1


def write_model_file(path: str | Path, arrays: dict[str, np.ndarray], header: dict[str, Any]) -> str:
    """Write atomically; return the file's version id (first 12 hex digits of its sha256)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, **header}
    buffer = io.BytesIO()
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload["header"] = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), np.uint8)
    np.savez_compressed(buffer, **payload)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()[:12]


def read_model_file(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray], str]:
    """Return (header, float32 arrays, version). Raise :class:`ModelFileError` on anything wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist; train one with `continuo train`") from None
    except OSError as exc:
        raise ModelFileError(f"model file {path} cannot be read: {exc}") from exc
    version = hashlib.sha256(data).hexdigest()[:12]
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as exc:
        # zlib.error: a compressed member whose bytes rotted on disk
        raise ModelFileError(f"model file {path} is corrupt or truncated ({exc}); retrain or restore it") from exc
    raw = arrays.pop("header", None)
    if raw is None:
        raise ModelFileError(f"model file {path} has no header: it is not a Continuo model file")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"model file {path} has an unreadable header: {exc}") from exc
    check_header(path, header)
    return header, {name: a.astype(np.float32) for name, a in arrays.items()}, version


def check_header(path: Path, header: Any) -> None:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"model file {path} is not a Continuo model file (format {FORMAT!r} expected)")
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"model file {path} has file format version {header.get('format_version')!r}; "
            f"this radio reads version {FORMAT_VERSION}: retrain the model"
        )
    name = header.get("encoding")
    if name not in KINDS:
        raise ModelFileError(f"model file {path} uses encoding {name!r}; this radio knows {', '.join(KIND_NAMES)}")
    expected = KINDS[name].encoding.version
    if header.get("encoding_version") != expected:
        raise ModelFileError(
            f"model file {path} uses {name!r} encoding version {header.get('encoding_version')!r}, "
            f"but this radio speaks version {expected}: retrain the model with this version"
        )

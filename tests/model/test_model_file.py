"""Loading model files: round trip, version id, and clear errors for bad files."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from radio.errors import ModelFileError
from radio.model import load_model
from radio.model.modelfile import write_model_file
from radio.music.encoding import CONTINUO


def test_round_trip_keeps_arrays_header_and_version(tmp_path, make_arrays):
    arrays = make_arrays(CONTINUO, hidden=16)
    header = {"encoding": "continuo", "encoding_version": CONTINUO.version, "style": "x", "metrics": {"a": 1.5}}
    path = tmp_path / "m.npz"
    version = write_model_file(path, {k: v.astype(np.float16) for k, v in arrays.items()}, header)
    model = load_model(path)
    assert model.version == version == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert model.header["metrics"] == {"a": 1.5} and model.style == "x"
    np.testing.assert_allclose(model.network.layers[0].kernel, arrays["lstm0_kernel"], atol=1e-3)
    assert model.network.layers[0].kernel.dtype == np.float32
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temp file left behind


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.npz")


def test_corrupt_and_truncated_files(tmp_path, continuo_model_file):
    data = continuo_model_file.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a model at all" * 10)
    for name in ["trunc.npz", "junk.npz"]:
        with pytest.raises(ModelFileError, match="corrupt or truncated"):
            load_model(tmp_path / name)


def test_other_encoding_version_is_refused(tmp_path, make_arrays):
    header = {"encoding": "continuo", "encoding_version": CONTINUO.version + 1}
    write_model_file(tmp_path / "m.npz", make_arrays(CONTINUO), header)
    with pytest.raises(ModelFileError, match="encoding version"):
        load_model(tmp_path / "m.npz")


def test_unknown_encoding_and_foreign_npz(tmp_path, make_arrays):
    write_model_file(tmp_path / "m.npz", make_arrays(CONTINUO), {"encoding": "wav2vec", "encoding_version": 1})
    with pytest.raises(ModelFileError, match="encoding 'wav2vec'"):
        load_model(tmp_path / "m.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="no header"):
        load_model(tmp_path / "plain.npz")


def test_wrong_shapes_and_missing_arrays(tmp_path, make_arrays):
    header = {"encoding": "seed", "encoding_version": 1}
    write_model_file(tmp_path / "m.npz", make_arrays(CONTINUO), header)  # continuo weights, seed header
    with pytest.raises(ModelFileError, match="do not fit 138 inputs"):
        load_model(tmp_path / "m.npz")
    arrays = make_arrays(CONTINUO)
    del arrays["head_bias"]
    write_model_file(tmp_path / "n.npz", arrays, {"encoding": "continuo", "encoding_version": 1})
    with pytest.raises(ModelFileError, match="head_bias"):
        load_model(tmp_path / "n.npz")


def test_failed_write_leaves_nothing(tmp_path, make_arrays):
    path = tmp_path / "m.npz"
    with pytest.raises(TypeError):
        write_model_file(path, make_arrays(CONTINUO), {"encoding": "continuo", "bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "p.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.npy", b"\x93NUMPY junk")
    with pytest.raises(ModelFileError):
        load_model(path)


def test_radio_model_never_imports_tensorflow(continuo_model_file):
    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "from radio.model import load_model\n"
        f"m = load_model({str(continuo_model_file)!r}); m.sampler(seed=1).next_beats(10)\n"
        "assert 'tensorflow' not in sys.modules or sys.modules['tensorflow'] is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

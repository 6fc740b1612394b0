"""numpy (radio/model) vs Keras on the same inputs, and the exported file's contents."""

from __future__ import annotations

import numpy as np
import pytest

from radio.model import load_model
from radio.music.encoding import CONTINUO, SEED

pytestmark = pytest.mark.train


def random_keras_model(encoding, hidden=24, seed=0):
    import keras

    from trainer.export import round_to_storage
    from trainer.models import HyperParameters, build_model

    keras.utils.set_random_seed(seed)
    model = build_model(encoding, HyperParameters(hidden=hidden))
    rng = np.random.default_rng(seed)
    # Random biases and larger weights, so every gate and the head matter to the comparison.
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    round_to_storage(model)
    return model


@pytest.mark.parametrize("encoding", [CONTINUO, SEED], ids=lambda e: e.name)
def test_numpy_matches_keras_over_256_steps(tf, tmp_path, encoding):
    from trainer.export import export_model

    model = random_keras_model(encoding)
    path = tmp_path / "m.npz"
    export_model(model, path, encoding, style="test")
    rng = np.random.default_rng(1)
    x = (rng.random((2, 256, encoding.input_size)) < 0.08).astype(np.float32)
    expected = np.asarray(model(x, training=False))

    network = load_model(path).network
    stepped = network.run(x[0])  # one beat at a time, batch of one
    batched = network.run(x)  # the evaluation path
    assert np.max(np.abs(stepped - expected[0])) < 1e-4
    assert np.max(np.abs(batched - expected)) < 1e-4


def test_export_header_arrays_and_size(tf, tmp_path):
    from trainer.export import amend_header, export_model

    model = random_keras_model(CONTINUO, hidden=256)
    path = tmp_path / "m.npz"
    version = export_model(model, path, CONTINUO, style="folk", hyperparameters={"hidden": 256}, training={"pieces": [{"id": "a", "sha256": "b"}]})
    loaded = load_model(path)
    assert loaded.version == version
    header = loaded.header
    assert header["encoding"] == "continuo" and header["encoding_version"] == CONTINUO.version
    assert header["training"]["pieces"] == [{"id": "a", "sha256": "b"}]
    assert {"numpy", "keras", "python"} <= set(header["versions"]) and header["created_at"].endswith("+00:00")
    with np.load(path) as npz:
        assert npz["lstm0_kernel"].dtype == np.float16
        assert npz["lstm0_kernel"].shape == (CONTINUO.input_size, 4 * 256)
    assert path.stat().st_size <= 4 * 1024 * 1024

    before = loaded.network.run(np.ones((3, CONTINUO.input_size), np.float32))
    new_version = amend_header(path, metrics={"seed": {"nll_sounding": 1.0}})
    amended = load_model(path)
    assert new_version != version and amended.header["metrics"]["seed"]["nll_sounding"] == 1.0
    np.testing.assert_array_equal(amended.network.run(np.ones((3, CONTINUO.input_size), np.float32)), before)


def test_augmentation_transposes_sound_and_struck_together(tf):
    from trainer.dataset import Piece, build_windows, make_dataset

    notes = [[(60, "b"), (64, "b")], [(60, "s"), (64, "s")], [(67, "b")]] * 60
    corpus = build_windows([Piece("a", "", "", "", "", notes)], CONTINUO, 128, 64)
    seen = set()
    batches = make_dataset(corpus, CONTINUO, window=128, batch=8, shuffle=False, seed=0, augment=3).repeat(12)
    for x, y in batches:
        x, y = x.numpy(), y.numpy()
        sound, struck = x[0, 1, :88], x[0, 1, 88:176]
        pitches = np.flatnonzero(sound) + 21
        shift = int(pitches[0]) - 60
        assert list(pitches) == [60 + shift, 64 + shift] and -3 <= shift <= 3
        assert list(np.flatnonzero(struck) + 21) == [60 + shift, 64 + shift]
        np.testing.assert_array_equal(y[0, 0, :88], sound)  # targets move with the inputs
        seen.add(shift)
    assert len(seen) > 1


def test_token_model_numpy_matches_keras_over_300_tokens(tf, tmp_path):
    import keras

    from radio.music.tokens import TOKEN
    from trainer.export import export_model, round_to_storage
    from trainer.models import HyperParameters, build_token_model

    keras.utils.set_random_seed(0)
    model = build_token_model(TOKEN, HyperParameters(hidden=24, embedding=8))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in model.get_weights()])
    round_to_storage(model)
    path = tmp_path / "t.npz"
    export_model(model, path, TOKEN, style="test")
    tokens = rng.integers(1, TOKEN.vocab_size, (2, 300))
    expected = np.asarray(model(tokens, training=False))

    loaded = load_model(path)
    assert loaded.encoding is TOKEN and loaded.network.takes_tokens
    stepped = loaded.network.run(tokens[0])  # the sampler's path: one token at a time
    batched = loaded.network.run(tokens)  # the evaluation path
    assert np.max(np.abs(stepped - expected[0])) < 1e-4
    assert np.max(np.abs(batched - expected)) < 1e-4

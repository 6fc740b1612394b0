"""Training throughput: our trainer (tf.data windows + fused loss) vs a plain Keras ``fit`` of the
seed model on the same windows, in the same run, as timesteps per second and their ratio; plus the
radio's numpy inference cost per beat and its real-time factor.

Uses the folk pieces of ``../shared/corpus`` (or synthetic C-major pieces if it is absent).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import glob
import platform
import time
from pathlib import Path

import numpy as np

from radio.config import REPO_ROOT
from radio.music.encoding import CONTINUO, SEED, Encoding
from radio.music.notes import ListOfNotes

PIECES = 60
WINDOW = 128
BATCH = 64
HIDDEN = 256
MEASURED_BATCHES = 12
SAMPLER_BEATS = 4000


def load_notes() -> tuple[list[ListOfNotes], str]:
    corpus = Path(os.environ.get("CONTINUO_CORPUS", REPO_ROOT.parent / "shared" / "corpus"))
    files = sorted(glob.glob(str(corpus / "folk" / "*.mid")))[:PIECES]
    if files:
        from radio.music.prepare import prepare_piece

        return [prepare_piece(f).notes for f in files], f"{len(files)} folk pieces from {corpus}"
    rng = np.random.default_rng(0)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    pieces = [[[(int(rng.choice(scale)), "b")] for _ in range(400)] for _ in range(PIECES)]
    return pieces, f"{PIECES} synthetic pieces (no corpus found)"


def timed_fit(model, data, batches: int, **fit_kwargs) -> float:
    """Timesteps per second over ``batches`` batches, after one warm-up pass that builds the graph."""
    model.fit(data, epochs=1, steps_per_epoch=2, verbose=0, **fit_kwargs)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=batches, verbose=0, **fit_kwargs)
    return batches * BATCH * WINDOW / (time.perf_counter() - start)


def ours(pieces, encoding: Encoding) -> float:
    from trainer.dataset import Piece, build_windows, make_dataset
    from trainer.models import HyperParameters, build_model, initial_output_bias

    items = [Piece(str(i), "", "", "", "", notes) for i, notes in enumerate(pieces)]
    windows = build_windows(items, encoding, WINDOW, 64)
    data = make_dataset(windows, encoding, window=WINDOW, batch=BATCH, shuffle=True, seed=0).repeat()
    model = build_model(encoding, HyperParameters(hidden=HIDDEN), initial_output_bias(encoding, windows.rows))
    return timed_fit(model, data, MEASURED_BATCHES)


def plain_keras_seed(pieces) -> float:
    """The seed design as a textbook Keras model: two outputs, stock losses, numpy arrays in fit()."""
    import keras

    from trainer.dataset import Piece, build_windows

    windows = build_windows([Piece(str(i), "", "", "", "", n) for i, n in enumerate(pieces)], SEED, WINDOW, 64)
    need = MEASURED_BATCHES * BATCH
    idx = windows.starts[:need, None] + np.arange(WINDOW + 1)[None, :]
    x = windows.rows[idx].astype(np.float32)
    inputs, notes, counts = x[:, :-1], x[:, 1:, :128], x[:, 1:, 128:138]
    seq = keras.Input((None, SEED.input_size))
    h = keras.layers.GaussianNoise(0.1)(seq)
    for _ in range(2):
        h = keras.layers.Dropout(0.4)(keras.layers.LSTM(HIDDEN, return_sequences=True)(h))
    model = keras.Model(seq, [keras.layers.Dense(128, activation="sigmoid")(h), keras.layers.Dense(10, activation="softmax")(h)])
    model.compile(optimizer="adam", loss=["binary_crossentropy", "categorical_crossentropy"])
    model.fit(inputs[: 2 * BATCH], [notes[: 2 * BATCH], counts[: 2 * BATCH]], batch_size=BATCH, epochs=1, verbose=0)
    n = min(len(inputs), need)
    start = time.perf_counter()
    model.fit(inputs[:n], [notes[:n], counts[:n]], batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
    return n * WINDOW / (time.perf_counter() - start)


def inference() -> tuple[float, float, str]:
    from radio.model import load_model
    from radio.styles import get_style

    style = get_style("baroque")
    model = load_model(style.model_path)
    sampler = model.sampler(seed=0)
    sampler.next_beats(200)
    start = time.perf_counter()
    sampler.next_beats(SAMPLER_BEATS)
    ms = (time.perf_counter() - start) / SAMPLER_BEATS * 1000
    beat_ms = 60_000 / (style.tempo_bpm * 4)
    units = model.network.layers[0].units
    return ms, beat_ms / ms, f"baroque model ({units} units, {model.version}) at {style.tempo_bpm:g} bpm"


def main() -> None:
    import tensorflow as tf

    print(f"machine: {platform.node()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, "
          f"intra-op threads {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    pieces, source = load_notes()
    print(f"data: {source}; windows of {WINDOW} beats, batch {BATCH}, LSTM 2 x {HIDDEN}; {MEASURED_BATCHES} batches timed")
    plain = plain_keras_seed(pieces)
    our_seed = ours(pieces, SEED)
    our_continuo = ours(pieces, CONTINUO)
    print(f"plain Keras fit, seed model:      {plain:9.0f} timesteps/s")
    print(f"our trainer, seed model:          {our_seed:9.0f} timesteps/s  (ratio to plain {our_seed / plain:.2f})")
    print(f"our trainer, continuo model:      {our_continuo:9.0f} timesteps/s  (ratio to plain {our_continuo / plain:.2f})")
    ms, rtf, what = inference()
    print(f"numpy sampling, {what}: {ms:.3f} ms per beat, {rtf:.0f}x real time")


if __name__ == "__main__":
    main()

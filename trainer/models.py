"""The Keras models and their losses. Both output raw logits in the encoding's output layout.

Losses are in nats per beat (summed over pitches, averaged over beats):
- seed: Bernoulli NLL of the 128 sounding bits + cross-entropy of the 10-way count.
- continuo: Bernoulli NLL of the 88 sounding bits + Bernoulli NLL of 'struck' for each pitch
  that sounds now and sounded on the beat before (elsewhere struck is implied) + count
  cross-entropy. The first two terms are the full NLL of the beat's notes with their ties;
  the count head only steers the sampler.
Padding rows (no count bit) weigh nothing.

token: the cross-entropy of each next token (radio/music/tokens.py), in nats per token;
padding tokens weigh nothing. Per beat, it is the sum over the beat's note tokens and the
position token that closes it: the exact NLL of the beat's notes with their ties.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
from keras import layers, ops

from radio.music.encoding import Encoding


@dataclass
class HyperParameters:
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.4
    noise: float = 0.1
    window: int = 128
    stride: int = 64
    batch: int = 64
    learning_rate: float = 2e-3
    val_fraction: float = 0.1
    patience: int = 4
    # Random transposition of training batches, ± semitones. Off: with the data already in C/Am it
    # teaches other keys; on renaissance it raised held-out NLL from 1.73 to 2.41 in the same 6 min.
    augment: int = 0
    embedding: int = 64  # token model only

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def for_model(cls, model: str, **given) -> "HyperParameters":
        """The defaults for a model kind (its trainer's ``hyperparameter_defaults``,
        trainer/kinds/), with the given (non-None) values on top."""
        from trainer.kinds import trainer_kind

        defaults = trainer_kind(model).hyperparameter_defaults
        return cls(**{**defaults, **{k: v for k, v in given.items() if v is not None}})


def build_model(encoding: Encoding, hp: HyperParameters, output_bias: np.ndarray | None = None) -> keras.Model:
    """``output_bias`` (see :func:`initial_output_bias`) starts the head at the unigram
    baseline, so the short training budget is spent on what context adds to it."""
    inputs = keras.Input((None, encoding.input_size), name="beats")
    x = layers.GaussianNoise(hp.noise, name="noise")(inputs)
    for k in range(hp.layers):
        x = layers.LSTM(hp.hidden, return_sequences=True, name=f"lstm{k}")(x)
        x = layers.Dropout(hp.dropout, name=f"dropout{k}")(x)
    bias_init = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)
    logits = layers.Dense(encoding.output_size, name="head", bias_initializer=bias_init)(x)
    model = keras.Model(inputs, logits, name=f"{encoding.name}_lstm")
    model.compile(
        optimizer=keras.optimizers.Adam(hp.learning_rate, clipnorm=1.0),
        loss=BeatLoss(encoding),
    )
    return model


def build_token_model(encoding, hp: HyperParameters, output_bias: np.ndarray | None = None) -> keras.Model:
    """Embedding -> LSTM stack -> softmax over the vocabulary, predicting the next token."""
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    x = layers.Embedding(encoding.vocab_size, hp.embedding, name="embedding")(inputs)
    for k in range(hp.layers):
        x = layers.LSTM(hp.hidden, return_sequences=True, name=f"lstm{k}")(x)
        x = layers.Dropout(hp.dropout, name=f"dropout{k}")(x)
    bias_init = "zeros" if output_bias is None else keras.initializers.Constant(output_bias)
    logits = layers.Dense(encoding.vocab_size, name="head", bias_initializer=bias_init)(x)
    model = keras.Model(inputs, logits, name="token_lstm")
    model.compile(
        optimizer=keras.optimizers.Adam(hp.learning_rate, clipnorm=1.0),
        # ignore_class: padding targets weigh nothing, and the mean is over real tokens.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0, name="token_nll"),
    )
    return model


def initial_output_bias(encoding: Encoding, rows: np.ndarray) -> np.ndarray:
    """Logits of the training frequencies of every output (rows: encoded beats, uint8)."""
    rows = rows[rows[:, encoding.count_slice].sum(axis=1) > 0].astype(np.float64)  # drop padding
    bias = np.zeros(encoding.output_size)
    s, c = encoding.sound_slice, encoding.count_slice
    sound = (rows[:, s].sum(axis=0) + 1) / (len(rows) + 2)
    bias[s] = np.log(sound / (1 - sound))
    if encoding.has_struck:
        k = encoding.struck_slice
        continuing = rows[1:, s] * rows[:-1, s]
        struck = ((rows[1:, k] * continuing).sum(axis=0) + 1) / (continuing.sum(axis=0) + 2)
        bias[k] = np.log(struck / (1 - struck))
    counts = rows[:, c].sum(axis=0) + 1
    bias[c] = np.log(counts / counts.sum())
    return bias.astype(np.float32)


def _bernoulli_nll(labels, logits):
    # Summed over the last axis; numerically stable form of -[y log σ(z) + (1-y) log(1-σ(z))].
    return ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))


class BeatLoss(keras.losses.Loss):
    """y_true: (B, T, output_size + pitches) = next beat's output-layout bits + this beat's sounding bits."""

    def __init__(self, encoding: Encoding, name: str = "beat_nll", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum_over_batch_size", **kwargs)
        self.encoding = encoding

    def call(self, y_true, y_pred):
        enc = self.encoding
        s, c = enc.sound_slice, enc.count_slice
        sound_true = y_true[..., s.start : s.stop]
        count_true = y_true[..., c.start : c.stop]
        real = ops.sum(count_true, axis=-1)  # 1 for a beat, 0 for padding
        nll = ops.sum(_bernoulli_nll(sound_true, y_pred[..., s.start : s.stop]), axis=-1)
        if enc.has_struck:
            k = enc.struck_slice
            prev = y_true[..., enc.output_size :]
            mask = sound_true * prev
            struck = _bernoulli_nll(y_true[..., k.start : k.stop], y_pred[..., k.start : k.stop])
            nll = nll + ops.sum(struck * mask, axis=-1)
        count_nll = -ops.sum(count_true * ops.log_softmax(y_pred[..., c.start : c.stop], axis=-1), axis=-1)
        return (nll + count_nll) * real

    def get_config(self):
        return {"name": self.name, "encoding": self.encoding.name}

    @classmethod
    def from_config(cls, config):
        from radio.music.encoding import get_encoding

        return cls(get_encoding(config.pop("encoding")), **config)

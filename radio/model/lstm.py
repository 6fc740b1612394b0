"""A stack of LSTM layers plus a dense head, stepped one input at a time in numpy.

The maths is Keras 3's ``LSTM`` (gates ordered i, f, c, o; sigmoid gates, tanh cell):
``z = x·W + h·U + b``, ``c' = f·c + i·tanh(z_c)``, ``h' = o·tanh(c')``. Inputs and state
may carry a leading batch axis, so evaluation can run many windows at once.

A token model's input is an id looked up in an embedding. Embedding then first kernel is
one linear map, so it is folded into a table of ``z`` rows at load time: a step is a row
lookup instead of a matrix product, which is most of what makes token stepping cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form never overflows (exp(-x) would for large negative x) and is one ufunc call.
    return 0.5 + 0.5 * np.tanh(0.5 * x)


@dataclass
class LSTMLayer:
    kernel: np.ndarray  # (inputs, 4H)
    recurrent: np.ndarray  # (H, 4H)
    bias: np.ndarray  # (4H,)

    def __post_init__(self) -> None:
        self.kernel = np.ascontiguousarray(self.kernel, np.float32)
        self.recurrent = np.ascontiguousarray(self.recurrent, np.float32)
        self.bias = np.ascontiguousarray(self.bias, np.float32)
        self.units = self.recurrent.shape[0]

    def step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.step_projected(x @ self.kernel, h, c)

    def step_projected(self, zx: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A step whose input projection ``x·W`` is already done (``zx`` is not modified)."""
        z = h @ self.recurrent
        z += zx
        z += self.bias
        H = self.units
        # One sigmoid over the i, f gates, one over o: fewer small numpy calls per step.
        i_f = sigmoid(z[..., : 2 * H])
        o = sigmoid(z[..., 3 * H :])
        c_new = i_f[..., H:] * c + i_f[..., :H] * np.tanh(z[..., 2 * H : 3 * H])
        h_new = o * np.tanh(c_new)
        return h_new, c_new


@dataclass
class LSTMState:
    h: list[np.ndarray]
    c: list[np.ndarray]

    def copy(self) -> "LSTMState":
        return LSTMState([a.copy() for a in self.h], [a.copy() for a in self.c])


class LSTMStack:
    """LSTM layers followed by one dense layer producing logits.

    With an ``embedding`` (vocab, dim), inputs are token ids (ints) instead of vectors.
    """

    def __init__(
        self,
        layers: list[LSTMLayer],
        head_kernel: np.ndarray,
        head_bias: np.ndarray,
        embedding: np.ndarray | None = None,
    ) -> None:
        if not layers:
            raise ValueError("an LSTM stack needs at least one layer")
        self.layers = layers
        self.head_kernel = np.ascontiguousarray(head_kernel, np.float32)
        self.head_bias = np.ascontiguousarray(head_bias, np.float32)
        self.output_size = self.head_bias.shape[0]
        self.input_table: np.ndarray | None = None
        if embedding is None:
            self.input_size = layers[0].kernel.shape[0]
        else:
            self.input_table = np.ascontiguousarray(np.asarray(embedding, np.float32) @ layers[0].kernel)
            self.input_size = self.input_table.shape[0]  # the vocabulary

    @property
    def takes_tokens(self) -> bool:
        return self.input_table is not None

    def initial_state(self, batch: int | None = None) -> LSTMState:
        shape = lambda units: (units,) if batch is None else (batch, units)  # noqa: E731
        return LSTMState(
            [np.zeros(shape(l.units), np.float32) for l in self.layers],
            [np.zeros(shape(l.units), np.float32) for l in self.layers],
        )

    def step(self, x: np.ndarray | int, state: LSTMState) -> np.ndarray:
        """Advance ``state`` in place by one input row or token id (or a batch of them);
        return the logits."""
        if self.input_table is not None:
            h, c = self.layers[0].step_projected(self.input_table[x], state.h[0], state.c[0])
            state.h[0], state.c[0] = h, c
            rest = 1
        else:
            h = np.asarray(x, np.float32)
            rest = 0
        for k in range(rest, len(self.layers)):
            h, c = self.layers[k].step(h, state.h[k], state.c[k])
            state.h[k], state.c[k] = h, c
        return h @ self.head_kernel + self.head_bias

    def run(self, inputs: np.ndarray, state: LSTMState | None = None) -> np.ndarray:
        """Logits for a (time, inputs) or (batch, time, inputs) sequence, from zero state
        (token ids: (time,) or (batch, time))."""
        if self.input_table is not None:
            inputs = np.asarray(inputs, np.int64)
            batched = inputs.ndim == 2
        else:
            inputs = np.asarray(inputs, np.float32)
            batched = inputs.ndim == 3
        if state is None:
            state = self.initial_state(inputs.shape[0] if batched else None)
        steps = inputs.shape[1] if batched else inputs.shape[0]
        lead = inputs.shape if self.input_table is not None else inputs.shape[:-1]
        out = np.empty((*lead, self.output_size), np.float32)
        for t in range(steps):
            if batched:
                out[:, t] = self.step(inputs[:, t], state)
            else:
                out[t] = self.step(inputs[t], state)
        return out

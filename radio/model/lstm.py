"""A stack of LSTM layers plus a dense head, stepped one beat at a time in numpy.

The maths is Keras 3's ``LSTM`` (gates ordered i, f, c, o; sigmoid gates, tanh cell):
``z = x·W + h·U + b``, ``c' = f·c + i·tanh(z_c)``, ``h' = o·tanh(c')``. Inputs and state
may carry a leading batch axis, so evaluation can run many windows at once.
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
        z = x @ self.kernel
        z += h @ self.recurrent
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
    """LSTM layers followed by one dense layer producing logits."""

    def __init__(self, layers: list[LSTMLayer], head_kernel: np.ndarray, head_bias: np.ndarray) -> None:
        if not layers:
            raise ValueError("an LSTM stack needs at least one layer")
        self.layers = layers
        self.head_kernel = np.ascontiguousarray(head_kernel, np.float32)
        self.head_bias = np.ascontiguousarray(head_bias, np.float32)
        self.input_size = layers[0].kernel.shape[0]
        self.output_size = self.head_bias.shape[0]

    def initial_state(self, batch: int | None = None) -> LSTMState:
        shape = lambda units: (units,) if batch is None else (batch, units)  # noqa: E731
        return LSTMState(
            [np.zeros(shape(l.units), np.float32) for l in self.layers],
            [np.zeros(shape(l.units), np.float32) for l in self.layers],
        )

    def step(self, x: np.ndarray, state: LSTMState) -> np.ndarray:
        """Advance ``state`` in place by one input row (or batch of rows); return the logits."""
        h = np.asarray(x, np.float32)
        for k, layer in enumerate(self.layers):
            h, c = layer.step(h, state.h[k], state.c[k])
            state.h[k], state.c[k] = h, c
        return h @ self.head_kernel + self.head_bias

    def run(self, inputs: np.ndarray, state: LSTMState | None = None) -> np.ndarray:
        """Logits for a (time, inputs) or (batch, time, inputs) sequence, from zero state."""
        inputs = np.asarray(inputs, np.float32)
        batched = inputs.ndim == 3
        if state is None:
            state = self.initial_state(inputs.shape[0] if batched else None)
        steps = inputs.shape[1] if batched else inputs.shape[0]
        out = np.empty((*inputs.shape[:-1], self.output_size), np.float32)
        for t in range(steps):
            if batched:
                out[:, t] = self.step(inputs[:, t], state)
            else:
                out[t] = self.step(inputs[t], state)
        return out

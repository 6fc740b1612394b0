"""The room: a feedback delay network reverb, mono send in, decorrelated stereo out.

Eight delay lines of mutually prime lengths (about 30-75 ms, scaled by the room's
``size``) feed back into each other through a Householder matrix (``v - 2/N sum(v)``:
lossless and dense, every line feeds every other). Each line's loop gain sets its decay
to the room's RT60 (``10 ** (-3 d / (rt60 * sr))`` for a line of ``d`` samples), and a
one-zero low-pass in the loop (``damping``) makes the treble die sooner than the bass,
as air and walls do. The left and right outputs take the lines with two orthogonal sign
patterns, so the tails are decorrelated between the channels: the room surrounds the
listener instead of sitting in the middle with the dry sound.

Chunk invariance, with feedback loops in numpy: a line of ``d`` samples needs, for the
block it is writing, only samples written at least ``d`` samples ago. So the network runs
a block at a time, each block at most as long as the shortest line, and every step inside
a block is element-wise (the matrix is a sum over lines, done line after line, never a
BLAS product whose rounding could depend on the block's length). Any cut of the stream
into chunks therefore gives the same samples, bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from radio.styles import Room

# Line lengths in ms at size 1: spread out and mutually prime once in samples.
LINE_MS = (29.7, 34.1, 39.3, 44.9, 51.7, 57.3, 63.1, 71.9)
LINES = len(LINE_MS)
# Orthogonal output patterns (rows of an 8x8 Hadamard matrix): decorrelated left and right.
LEFT = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=np.float32)
RIGHT = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=np.float32)
# The input reaches the lines with alternating signs, so no output pattern cancels it.
INPUT = np.array([1, 1, 1, 1, -1, -1, -1, -1], dtype=np.float32)


def _primes_near(values: list[int]) -> list[int]:
    """Each value moved up to the next prime not already taken."""
    out: list[int] = []
    for v in values:
        n = max(2, v)
        while any(n % p == 0 for p in range(2, int(math.isqrt(n)) + 1)) or n in out:
            n += 1
        out.append(n)
    return out


class Reverb:
    """One stream's room; ``process`` takes consecutive chunks of the mono send.

    Each line is a plain buffer that is read at the common position ``pos`` and written at
    ``pos + d`` (its delay), so every block reads all eight lines with one slice; the
    buffers are moved back to their start when they fill, a copy every few seconds.
    """

    def __init__(self, room: Room, sample_rate: int = 44100) -> None:
        self.room = room
        self.sample_rate = sample_rate
        self.delays = np.array(_primes_near([round(ms * room.size * sample_rate / 1000) for ms in LINE_MS]))
        self.block = int(self.delays.min())  # a block never reads what it is itself writing
        self.predelay = round(room.predelay * sample_rate)
        self._keep = int(self.delays.max()) + self.block + 1  # what a move must carry over
        self._size = self._keep + 2 * sample_rate
        self._lines = np.zeros((LINES, self._size), dtype=np.float32)
        self._pos = 1  # the read position (index 0 is the low-pass's "one sample before")
        self._send = np.zeros(self.predelay, dtype=np.float32)  # the last pre-delay's worth of input
        gains = 10.0 ** (-3.0 * self.delays / (max(room.rt60, 1e-3) * sample_rate))
        # The loop's low-pass and decay: g ((1 - c) y[n] + c y[n-1]).
        self._now = (gains * (1.0 - room.damping)).astype(np.float32)[:, None]
        self._before = (gains * room.damping).astype(np.float32)[:, None]
        # Energy normalisation: a line with loop gain g rings with 1 / (1 - g^2) times its
        # input's power, so the input is scaled by the mean sqrt(1 - g^2): ``wet`` is then the
        # tail's level beside the dry sound whatever the RT60.
        norm = float(np.sqrt(1.0 - gains**2).mean())
        self._in = (INPUT * np.float32(norm / math.sqrt(LINES))).astype(np.float32)[:, None]
        self._out = np.float32(room.wet / math.sqrt(LINES / 2))

    def process(self, send: np.ndarray) -> np.ndarray:
        """The room's answer to the next ``len(send)`` samples: float32 (2, n)."""
        send = np.asarray(send, dtype=np.float32)
        n = len(send)
        # The pre-delay: the send as it was ``predelay`` samples ago.
        delayed = np.concatenate([self._send, send])
        self._send = delayed[n:].copy() if self.predelay else self._send
        delayed = delayed[:n]
        wet = np.empty((2, n), dtype=np.float32)
        for i in range(0, n, self.block):
            j = min(n, i + self.block)
            self._step(delayed[i:j], wet[:, i:j])
        return wet

    def _step(self, x: np.ndarray, wet: np.ndarray) -> None:
        m = len(x)
        if self._pos + self._keep + m > self._size:
            tail = self._lines[:, self._pos - 1 : self._pos - 1 + self._keep].copy()
            self._lines[:, : self._keep] = tail  # what lies beyond is written before it is read
            self._pos = 1
        pos = self._pos
        out = self._lines[:, pos : pos + m]  # what each line delivers now
        v = out * self._now
        v += self._lines[:, pos - 1 : pos - 1 + m] * self._before
        # Householder feedback (an element-wise sum over lines: the same at any block length).
        v -= v.sum(axis=0) * np.float32(2.0 / LINES)
        v += self._in * x
        for line, d in enumerate(self.delays):
            self._lines[line, pos + d : pos + d + m] = v[line]
        # LEFT is + - + - ...: the even lines less the odd; RIGHT is + + - - ...: lines 0, 1, 4, 5
        # less lines 2, 3, 6, 7. Slices, not copies.
        np.subtract(out[0::2].sum(axis=0), out[1::2].sum(axis=0), out=wet[0])
        quads = out.reshape(2, 2, 2, m)
        np.subtract(quads[:, 0].sum(axis=(0, 1)), quads[:, 1].sum(axis=(0, 1)), out=wet[1])
        wet *= self._out
        self._pos = pos + m

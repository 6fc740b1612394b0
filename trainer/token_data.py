"""A style's pieces as token windows for the token model (radio/music/tokens.py).

Every piece becomes one int16 token sequence (its beats, each opened by a position token,
the last closed by one). Windows hold ``window + 1`` tokens: the model reads tokens
0..window-1 and predicts 1..window. Pieces shorter than a window are padded with PAD, which
the loss ignores. Batches are built in numpy (a ``keras.utils.PyDataset``), so augmentation
can shift each window by its own legal amount: a transposition that would push a note out of
21..108 is never drawn, so no token is ever dropped and a window stays a valid sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from radio.music.tokens import FIRST_NOTE, PAD, TokenEncoding, encode_tokens
from trainer.dataset import Piece, window_starts


@dataclass
class TokenWindows:
    tokens: np.ndarray  # (N,) int16: every piece, each followed by its padding
    starts: np.ndarray  # (M,) int64: first token of each window

    @property
    def windows(self) -> int:
        return len(self.starts)

    def target_tokens(self, window: int) -> int:
        return int(self.starts.size * window)


def build_token_windows(pieces: list[Piece], enc: TokenEncoding, window: int, stride: int) -> TokenWindows:
    blocks: list[np.ndarray] = []
    starts: list[int] = []
    offset = 0
    for piece in pieces:
        seq = encode_tokens(enc, piece.notes)
        if len(seq) < window + 1:
            seq = np.concatenate([seq, np.full(window + 1 - len(seq), PAD, np.int16)])
        starts.extend(offset + s for s in window_starts(len(seq), window, stride))
        blocks.append(seq)
        offset += len(seq)
    return TokenWindows(np.concatenate(blocks), np.asarray(starts, np.int64))


def transpose_window(x: np.ndarray, enc: TokenEncoding, rng: np.random.Generator, augment: int) -> np.ndarray:
    """Shift every note token of one window by a random number of semitones in ±augment that
    keeps all its notes within the encoded range."""
    notes = x >= FIRST_NOTE
    if not augment or not notes.any():
        return x
    steps = (x[notes] - FIRST_NOTE) // 2  # pitch offsets from enc.low
    low, high = -int(steps.min()), enc.pitches - 1 - int(steps.max())
    shift = int(rng.integers(max(-augment, low), min(augment, high) + 1))
    if shift:
        x = x.copy()
        x[notes] += 2 * shift
    return x


def initial_token_bias(windows: TokenWindows, enc: TokenEncoding) -> np.ndarray:
    """Log frequencies of the training tokens (add-one), so the head starts at the unigram."""
    counts = np.bincount(windows.tokens.astype(np.int64), minlength=enc.vocab_size).astype(np.float64) + 1.0
    counts[PAD] = 1.0
    return np.log(counts / counts.sum()).astype(np.float32)


class TokenBatches(keras.utils.PyDataset):
    """(inputs, targets) batches of (B, window) int32 token ids, reshuffled every epoch."""

    def __init__(
        self, windows: TokenWindows, enc: TokenEncoding, *, window: int, batch: int, shuffle: bool, seed: int, augment: int = 0,
        min_batches: int = 1,
    ) -> None:
        """``min_batches``: an epoch of a few pieces repeats them (each pass reshuffled) up to this
        many batches, so early stopping judges progress over a few dozen updates, not one."""
        super().__init__()
        self.data = windows
        self.enc = enc
        self.window = window
        self.batch = batch
        self.shuffle = shuffle
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self.passes = max(1, math.ceil(min_batches * batch / max(1, windows.windows))) if shuffle else 1
        self.offsets = np.arange(window + 1)
        self.order = self._order()

    def _order(self) -> np.ndarray:
        passes = [np.arange(self.data.windows) for _ in range(self.passes)]
        if self.shuffle:
            for p in passes:
                self.rng.shuffle(p)
        return np.concatenate(passes)

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        starts = self.data.starts[self.order[index * self.batch : (index + 1) * self.batch]]
        x = self.data.tokens[starts[:, None] + self.offsets[None, :]].astype(np.int32)
        if self.augment:
            x = np.stack([transpose_window(row, self.enc, self.rng, self.augment) for row in x])
        return x[:, :-1], x[:, 1:]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self._order()

"""Keras callbacks: a wall-clock budget, a tqdm bar on stderr and the JSON-lines progress events."""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` have passed (checked after every batch).

    The interrupted epoch still gets its validation pass, and EarlyStopping then restores
    the best weights seen, so a budget never costs more than the unfinished batches.
    """

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.seconds = seconds
        self.clock = clock
        self.started = clock()
        self.exhausted = False

    def on_train_begin(self, logs=None):
        self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def on_train_batch_end(self, batch, logs=None):
        if self.seconds is not None and self.elapsed() >= self.seconds:
            self.exhausted = True
            self.model.stop_training = True


class Progress(keras.callbacks.Callback):
    """A tqdm bar (stderr) with loss and val_loss, and an ``epoch`` event for each epoch."""

    def __init__(
        self,
        *,
        epochs: int,
        batches: int,
        budget: TimeBudget,
        emit: Callable[[dict], None] | None = None,
        show_bar: bool = True,
    ):
        super().__init__()
        self.epochs = epochs
        self.batches = batches
        self.budget = budget
        self.emit = emit
        self.show_bar = show_bar
        self.bar = None
        self.last_val: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.show_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=self.batches, desc=f"epoch {epoch + 1}/{self.epochs}", unit="batch", file=sys.stderr, leave=True)
            if self.last_val is not None:
                self.bar.set_postfix(val_loss=f"{self.last_val:.3f}")

    def on_train_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            if logs and "loss" in logs:
                post = {"loss": f"{float(logs['loss']):.3f}"}
                if self.last_val is not None:
                    post["val_loss"] = f"{self.last_val:.3f}"
                self.bar.set_postfix(post)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = _number(logs.get("loss"))
        val = _number(logs.get("val_loss"))
        self.last_val = val if val is not None else self.last_val
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}" if loss is not None else "?", val_loss=f"{val:.3f}" if val is not None else "?")
            self.bar.close()
            self.bar = None
        if self.emit:
            progress = (epoch + 1) / self.epochs
            if self.budget.seconds:
                progress = max(progress, self.budget.elapsed() / self.budget.seconds)
            self.emit(
                {
                    "event": "epoch",
                    "epoch": epoch + 1,
                    "epochs": self.epochs,
                    "loss": loss,
                    "val_loss": val,
                    "progress": round(min(1.0, progress), 4),
                    "elapsed_s": round(self.budget.elapsed(), 2),
                }
            )

    def on_train_end(self, logs=None):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None

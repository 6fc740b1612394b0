"""Training and measuring a frame kind (``continuo``, ``seed``): one input vector per beat
(radio/music/encoding.py), an LSTM stack and per-pitch heads trained on the beat loss
(trainer/models.py ``build_model``), scored per pitch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from radio.model.kinds import ModelKind
from trainer.kinds.base import FitInputs
from trainer.metrics import frame_scores


@dataclass(frozen=True)
class FrameTrainer:
    model: ModelKind
    hyperparameter_defaults: dict[str, Any] = field(default_factory=dict)
    primary_nll: str = "nll_sounding"
    loss_unit: str | None = None  # nats per beat, as the curve's axis already says

    @property
    def name(self) -> str:
        return self.model.name

    def shortest_piece(self, hp) -> int:
        return hp.window  # one whole window of beats

    def fit_inputs(self, data, hp, seed: int) -> FitInputs:
        from trainer.dataset import build_windows, make_dataset
        from trainer.models import build_model, initial_output_bias

        encoding = self.model.encoding
        train_windows = build_windows(data.train, encoding, hp.window, hp.stride)
        val_windows = build_windows(data.val, encoding, hp.window, hp.window)
        train = make_dataset(
            train_windows, encoding, window=hp.window, batch=hp.batch, shuffle=True, seed=seed, augment=hp.augment
        )
        validation = make_dataset(val_windows, encoding, window=hp.window, batch=hp.batch, shuffle=False, seed=seed)
        model = build_model(encoding, hp, initial_output_bias(encoding, train_windows.rows))
        return FitInputs(model, train, validation, train_windows.target_beats(hp.window),
                         math.ceil(train_windows.windows / hp.batch))

    def scores(self, model, pieces, targets, window: int | None = None) -> dict[str, float]:
        """Per-pitch figures, and the full NLL when the encoding tells struck from held."""
        return frame_scores(model, pieces, targets)

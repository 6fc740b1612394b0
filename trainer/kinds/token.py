"""Training and measuring the ``token`` kind: an embedding, an LSTM stack and a softmax over the
vocabulary (trainer/models.py ``build_token_model``), fed padded token windows
(trainer/token_data.py), scored by the exact grammar-renormalised NLL per beat."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from radio.model.kinds import ModelKind
from radio.model.kinds.token import KIND as RADIO_KIND
from trainer.kinds.base import FitInputs
from trainer.metrics import token_scores

MIN_BATCHES_PER_EPOCH = 16  # an epoch on a few pieces repeats them (see TokenBatches)
SHORTEST_PIECE = 128  # it pads short pieces, but less than 8 bars is not enough music to learn a style from


@dataclass(frozen=True)
class TokenTrainer:
    model: ModelKind = RADIO_KIND
    # Windows and strides count tokens, not beats: 384 tokens is 60-100 beats of four-part music;
    # windows do not overlap, since every token already has the LSTM's whole window before it.
    hyperparameter_defaults: dict[str, Any] = field(
        default_factory=lambda: dict(window=384, stride=384, dropout=0.3, batch=32))
    primary_nll: str = "nll_full"
    loss_unit: str = "nats per token"

    @property
    def name(self) -> str:
        return self.model.name

    def shortest_piece(self, hp) -> int:
        return SHORTEST_PIECE

    def fit_inputs(self, data, hp, seed: int) -> FitInputs:
        from trainer.models import build_token_model
        from trainer.token_data import TokenBatches, build_token_windows, initial_token_bias

        encoding = self.model.encoding
        train_windows = build_token_windows(data.train, encoding, hp.window, hp.stride)
        val_windows = build_token_windows(data.val, encoding, hp.window, hp.window)
        train = TokenBatches(
            train_windows, encoding, window=hp.window, batch=hp.batch, shuffle=True, seed=seed, augment=hp.augment,
            min_batches=MIN_BATCHES_PER_EPOCH,
        )
        validation = TokenBatches(val_windows, encoding, window=hp.window, batch=hp.batch, shuffle=False, seed=seed)
        model = build_token_model(encoding, hp, initial_token_bias(train_windows, encoding))
        return FitInputs(model, train, validation, len(train.order) * hp.window, len(train))

    def scores(self, model, pieces, targets, window: int | None = None) -> dict[str, float]:
        """The exact full NLL per beat (a token model has no per-pitch marginals, so no
        sounding-only NLL or frame accuracy)."""
        return token_scores(model, pieces) if window is None else token_scores(model, pieces, window=window)


TRAINER = TokenTrainer()

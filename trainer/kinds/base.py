"""What the trainer knows of one model kind: :class:`TrainerKind`.

The radio's half of a kind (its encoding, sampler and file facts) is a
:class:`radio.model.kinds.ModelKind`; this half says how to train and measure it: its default
hyper-parameters, its Keras model and datasets, and its held-out scores. Nothing here imports
TensorFlow at module level: ``continuo train --help`` and ``continuo evaluate`` list and score
kinds without it, and each kind imports Keras inside :meth:`TrainerKind.fit_inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence

from radio.model.kinds import ModelKind
from radio.music.notes import ListOfNotes

if TYPE_CHECKING:
    from radio.model import StyleModel
    from trainer.dataset import StyleData
    from trainer.metrics import Targets
    from trainer.models import HyperParameters


@dataclass
class FitInputs:
    """What ``model.fit`` needs for one run of a kind, and how long an epoch is."""

    model: Any  # a compiled keras.Model
    train: Any  # a keras.utils.PyDataset or a tf.data.Dataset
    validation: Any
    timesteps_per_epoch: int  # beats (frame kinds) or tokens (token kind) the model learns from per epoch
    batches_per_epoch: int


class TrainerKind(Protocol):
    model: ModelKind  # the radio's half: name, encoding, sampler, file facts
    # Defaults over HyperParameters' own for this kind (HyperParameters.for_model applies them).
    hyperparameter_defaults: dict[str, Any]
    # The figure a run of this kind is judged by: "nll_full" (the exact NLL of a beat's notes with
    # struck/held) or "nll_sounding" (per-pitch Bernoulli NLL of the sounding notes only).
    primary_nll: str
    loss_unit: str | None  # what the Keras loss is counted in, when the loss curve's title must say

    @property
    def name(self) -> str: ...

    def shortest_piece(self, hp: HyperParameters) -> int:
        """The fewest beats a piece needs to be trained on."""
        ...

    def fit_inputs(self, data: StyleData, hp: HyperParameters, seed: int) -> FitInputs:
        """The compiled Keras model (its head biased to the training frequencies) and the
        training and validation datasets."""
        ...

    def scores(self, model: StyleModel, pieces: Sequence[ListOfNotes], targets: Targets,
               window: int | None = None) -> dict[str, float]:
        """Held-out figures of a loaded (numpy) model of this kind; ``window``: the training
        window, where the measure depends on it."""
        ...

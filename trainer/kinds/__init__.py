"""The trainer's half of every model kind, registered under the radio's names.

Each kind is one module here holding a ``TRAINER`` (a :class:`TrainerKind`): ``token.py``, and
the frame kinds ``continuo.py`` and ``seed.py`` (both :class:`FrameTrainer`, frames.py). The radio's
half is radio/model/kinds/; this registry imports that one, never the other way round. To add a
kind, write its module here and list its ``TRAINER`` in :data:`TRAINERS`. ``continuo train``,
``HyperParameters.for_model``, the held-out metrics, ``continuo evaluate`` and the benchmarks
ask this registry instead of comparing names.
"""

from __future__ import annotations

from typing import Sequence

from radio.errors import StyleError
from radio.model.kinds import KIND_NAMES, kind
from radio.music.encoding import Encoding
from radio.music.notes import ListOfNotes
from radio.music.tokens import TokenEncoding
from trainer.kinds import continuo, seed, token
from trainer.kinds.base import FitInputs, TrainerKind
from trainer.kinds.frames import FrameTrainer
from trainer.metrics import Targets

TRAINERS: dict[str, TrainerKind] = {t.name: t for t in (token.TRAINER, continuo.TRAINER, seed.TRAINER)}


def trainer_kind(name: str) -> TrainerKind:
    """The trainer of the kind ``name``: a :class:`StyleError` for an unknown kind, or for a kind
    the radio knows but nobody taught the trainer."""
    kind(name)  # an unknown kind's error names the known ones
    try:
        return TRAINERS[name]
    except KeyError:
        trained = ", ".join(n for n in KIND_NAMES if n in TRAINERS)
        raise StyleError(f"the model kind {name!r} has no trainer (trainer/kinds/); this trainer trains {trained}") from None


def trainer_kind_of(encoding: Encoding | TokenEncoding) -> TrainerKind:
    return trainer_kind(encoding.name)


def score_model(model, pieces: Sequence[ListOfNotes], targets: Targets, window: int | None = None) -> dict[str, float]:
    """Held-out scores of a loaded model of any kind, by its kind's own measure: a frame model's
    per-pitch figures (and full NLL when it tells struck from held), a token model's exact full NLL."""
    return trainer_kind_of(model.encoding).scores(model, pieces, targets, window)


__all__ = ["FitInputs", "FrameTrainer", "TRAINERS", "TrainerKind", "score_model", "trainer_kind", "trainer_kind_of"]

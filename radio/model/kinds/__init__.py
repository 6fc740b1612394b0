"""The model kinds, in one registry: every place that tells kinds apart asks it.

Each kind is one module here holding a :class:`ModelKind` record (``token.py``,
``continuo.py``, ``seed.py``). To add a kind, write its module (and its encoding in
radio/music/ if it needs a new one) and list its ``KIND`` in :data:`KINDS` below; the
trainer's half of it goes in ``trainer/kinds/``. The file loader, the sampler, the blender,
the composer's steering, the admin's retrain starts and ``continuo train --model`` all read
this registry, never the kind's name.

Numpy only: the radio never imports TensorFlow or the trainer.
"""

from __future__ import annotations

from radio.errors import StyleError
from radio.model.kinds import continuo, seed, token
from radio.model.kinds.base import BeatStream, ModelKind, SamplerFactory
from radio.music.encoding import Encoding
from radio.music.tokens import TokenEncoding

KINDS: dict[str, ModelKind] = {k.name: k for k in (token.KIND, continuo.KIND, seed.KIND)}
KIND_NAMES = KINDS.keys()  # a live view, in registration order: what `--model` accepts
DEFAULT_KIND = "token"  # what `continuo train --model` trains when not told


def kind(name: str) -> ModelKind:
    """The kind registered as ``name``; a :class:`StyleError` naming the known ones otherwise."""
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise StyleError(f"unknown model kind {name!r}; choose one of {', '.join(KIND_NAMES)} "
                         "(each is a module in radio/model/kinds/)") from None


def kind_of(encoding: Encoding | TokenEncoding) -> ModelKind:
    """The kind whose models use ``encoding`` (a loaded model's or a sampler's)."""
    return kind(encoding.name)


__all__ = ["BeatStream", "DEFAULT_KIND", "KINDS", "KIND_NAMES", "ModelKind", "SamplerFactory", "kind", "kind_of"]

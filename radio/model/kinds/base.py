"""What the radio knows of one model kind: :class:`ModelKind`.

A kind is a record, not a class hierarchy: its name (the ``encoding`` a model file's header
names), the encoding its vectors or tokens use (radio/music/), the sampler a loaded model of
it streams beats with, and the few facts the loader, the blender, the composer and the admin
ask about it. The trainer's side of a kind (Keras builder, datasets, measures) is
``trainer/kinds/``, registered under the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from radio.model.sampler_settings import SamplerSettings
from radio.music.encoding import Encoding
from radio.music.notes import ListOfNotes
from radio.music.tokens import TokenEncoding

if TYPE_CHECKING:
    from radio.model.model import StyleModel


class BeatStream(Protocol):
    """What a sampler gives the composer: beats, one stream, state kept across calls."""

    def next_beats(self, n: int) -> ListOfNotes: ...


class SamplerFactory(Protocol):
    """A sampler class (BeatSampler, TokenSampler) or anything called the same way."""

    def __call__(
        self, model: StyleModel, *, seed: int | None, primer: ListOfNotes | None, settings: SamplerSettings
    ) -> BeatStream: ...


@dataclass(frozen=True)
class ModelKind:
    name: str  # what `continuo train --model` takes and a model file's header calls its ``encoding``
    encoding: Encoding | TokenEncoding  # its ``name`` is the kind's name
    description: str  # one line, for `continuo train --help`
    sampler: SamplerFactory  # how a loaded model of this kind draws beats
    # Its sampler takes a ``logit_bias`` over the encoding's tokens, so the composer can steer it
    # towards the form plan (radio/station/form.py); a kind without one still plays the plan's returns.
    steerable: bool = False
    # File format: the network's input is a token id, looked up in an ``embedding`` array of
    # shape (encoding.vocab_size, dim) that the file holds beside the LSTM and head arrays.
    embedded: bool = False
    # Its models fine-tune from the shared base (styles/base/model.npz): an ``auto`` retrain may
    # start from the one on air or the base, siblings of one base blend by weights, and
    # ``continuo evaluate`` compares a model with the base.
    fine_tunes_from_base: bool = False
    # A reference to measure the others against (`continuo evaluate`'s "seed" column), never the
    # model `continuo evaluate` picks by itself.
    baseline: bool = False

    def __post_init__(self) -> None:
        if self.encoding.name != self.name:
            raise ValueError(f"model kind {self.name!r} has the encoding {self.encoding.name!r}: a model file names "
                             "its kind by its encoding, so the two names must be the same")

"""``token``: the notes of a beat chosen one after another (radio/music/tokens.py); the default
kind, the one the base model and every bundled style use."""

from radio.model.kinds.base import ModelKind
from radio.model.token_sampler import TokenSampler
from radio.music.tokens import TOKEN

KIND = ModelKind(
    name="token",
    encoding=TOKEN,
    description="the notes of a beat chosen one after another",
    sampler=TokenSampler,
    steerable=True,
    embedded=True,
    fine_tunes_from_base=True,
)

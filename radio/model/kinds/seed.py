"""``seed``: the original design's frames of 128 sounding bits (radio/music/encoding.py), kept as
the baseline the other kinds are measured against."""

from radio.model.kinds.base import ModelKind
from radio.model.sampler import BeatSampler
from radio.music.encoding import SEED

KIND = ModelKind(name="seed", encoding=SEED, description="the original baseline", sampler=BeatSampler, baseline=True)

"""``continuo``: one frame of per-pitch sounding and struck bits per beat (radio/music/encoding.py)."""

from radio.model.kinds.base import ModelKind
from radio.model.sampler import BeatSampler
from radio.music.encoding import CONTINUO

KIND = ModelKind(name="continuo", encoding=CONTINUO, description="per-pitch frames", sampler=BeatSampler)

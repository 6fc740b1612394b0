"""Training the ``seed`` kind, the baseline: 128 sounding bits per beat (trainer/kinds/frames.py)."""

from radio.model.kinds.seed import KIND as RADIO_KIND
from trainer.kinds.frames import FrameTrainer

TRAINER = FrameTrainer(RADIO_KIND)

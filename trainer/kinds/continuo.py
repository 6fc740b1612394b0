"""Training the ``continuo`` kind: per-pitch sounding and struck frames (trainer/kinds/frames.py)."""

from radio.model.kinds.continuo import KIND as RADIO_KIND
from trainer.kinds.frames import FrameTrainer

TRAINER = FrameTrainer(RADIO_KIND)

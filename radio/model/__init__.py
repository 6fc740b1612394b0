"""Framework-free inference: load an exported model file and sample beats in numpy.

What tells the model kinds (token, continuo, seed) apart is their registry, radio/model/kinds/.
Never imports TensorFlow or Keras: the radio process must not pay for them.
"""

from radio.model.model import StyleModel, load_model
from radio.model.sampler import BeatSampler, random_window

__all__ = ["BeatSampler", "StyleModel", "load_model", "random_window"]

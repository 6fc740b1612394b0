"""A loaded style model: its header, its kind (radio/model/kinds/), its encoding and its numpy
LSTM network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from radio.errors import ModelFileError
from radio.model.kinds import BeatStream, ModelKind, kind
from radio.model.lstm import LSTMLayer, LSTMStack
from radio.model.modelfile import read_model_file
from radio.model.sampler_settings import SamplerSettings
from radio.music.encoding import Encoding
from radio.music.notes import ListOfNotes
from radio.music.tokens import TokenEncoding


class StyleModel:
    """What the radio needs from a trained model: numpy weights, the encoding and the header."""

    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray], version: str, path: Path | None = None):
        self.header = header
        self.version = version
        self.path = path
        self.kind: ModelKind = kind(header["encoding"])
        self.encoding: Encoding | TokenEncoding = self.kind.encoding
        self.network = build_network(self.kind, arrays, path)
        # The file's arrays as loaded, for blends that interpolate weights (radio.model.blend).
        # The network holds the same float32 arrays (no copy); only the embedding, which the
        # network folds into its input table, is kept here alone.
        self.arrays = arrays

    @property
    def style(self) -> str:
        return str(self.header.get("style", ""))

    def sampler(
        self,
        *,
        seed: int | None = None,
        primer: ListOfNotes | None = None,
        settings: SamplerSettings | None = None,
        **values: Any,
    ) -> BeatStream:
        """A beat stream from this model, drawn by its kind's sampler (a BeatSampler or a
        TokenSampler). ``values`` are :class:`SamplerSettings` fields (``temperature``,
        ``top_p``, ...) put into ``settings``; ``top_p`` and ``max_notes`` apply to token models
        (a frame model's count head already bounds its notes per beat)."""
        settings = SamplerSettings.of(settings, **values)
        return self.kind.sampler(self, seed=seed, primer=primer, settings=settings)

    def __repr__(self) -> str:
        return f"StyleModel({self.encoding.name!r}, style={self.style!r}, version={self.version!r})"


def build_network(model_kind: ModelKind, arrays: dict[str, np.ndarray], path: Path | None) -> LSTMStack:
    where = f"model file {path}" if path else "model"
    encoding = model_kind.encoding
    layers: list[LSTMLayer] = []
    embedding = None
    if model_kind.embedded:
        embedding = arrays.get("embedding")
        if embedding is None:
            raise ModelFileError(f"{where} lacks the array 'embedding'; it is incomplete")
        if embedding.ndim != 2 or embedding.shape[0] != encoding.vocab_size:
            raise ModelFileError(
                f"{where}: the embedding has shape {embedding.shape}, expected ({encoding.vocab_size}, dim) "
                f"for the {encoding.name!r} encoding"
            )
    try:
        k = 0
        while f"lstm{k}_kernel" in arrays:
            layers.append(LSTMLayer(arrays[f"lstm{k}_kernel"], arrays[f"lstm{k}_recurrent"], arrays[f"lstm{k}_bias"]))
            k += 1
        head_kernel, head_bias = arrays["head_kernel"], arrays["head_bias"]
    except KeyError as exc:
        raise ModelFileError(f"{where} lacks the array {exc.args[0]!r}; it is incomplete") from None
    if not layers:
        raise ModelFileError(f"{where} has no LSTM layers")
    size = encoding.input_size if embedding is None else embedding.shape[1]
    for k, layer in enumerate(layers):
        H = layer.units
        if layer.kernel.shape != (size, 4 * H) or layer.recurrent.shape != (H, 4 * H) or layer.bias.shape != (4 * H,):
            raise ModelFileError(
                f"{where}: layer {k} has shapes {layer.kernel.shape}/{layer.recurrent.shape}/{layer.bias.shape}, "
                f"which do not fit {size} inputs and {H} units"
            )
        size = H
    if head_kernel.shape != (size, encoding.output_size) or head_bias.shape != (encoding.output_size,):
        raise ModelFileError(
            f"{where}: the output layer has shape {head_kernel.shape}, expected {(size, encoding.output_size)} "
            f"for the {encoding.name!r} encoding"
        )
    return LSTMStack(layers, head_kernel, head_bias, embedding)


def load_model(path: str | Path) -> StyleModel:
    """Load a model file; raise :class:`ModelFileError` if it is missing, corrupt or of another version."""
    path = Path(path)
    header, arrays, version = read_model_file(path)
    return StyleModel(header, arrays, version, path)

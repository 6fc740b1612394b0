"""Each style's loudness gain, from the style's own music (the command is
``python -m radio.commands.calibrate``).

For a style, render a few minutes of what its channel would play
(the bundled model through the radio's own Composer and Synth, several seeds, each with
its keys, registers and breaths between pieces) at unity gain with no follower and no
limiter, measure the BS.1770 integrated loudness of each seed's stretch, and take the
median, so one odd stretch (a piece that falls silent, a restart) does not move the gain.
The gain that brings that median to -16 LUFS is the style's (``[loudness] gain_db`` in its
``style.toml``, written by the command) or, for a registered model version, kept beside the
model file; :class:`ModelGains` is how a channel finds each model's gain.
It lives with the station because it renders through the channel's own Composer.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import statistics
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from radio.audio.loudness import TARGET_LUFS, integrated_loudness
from radio.audio.master import MasterSettings
from radio.audio.synth import Synth
from radio.files import atomic_write_text
from radio.station.composer import Composer, Model
from radio.styles import Style

SAMPLE_RATE = 44100
SEEDS = (11, 23, 37)
# A model registered or swapped in is measured on less music than a shipped one: two
# half-minute stretches are within a few tenths of a dB of the full calibration.
QUICK_MINUTES = 0.5
QUICK_SEEDS = (11, 23)
GAIN_SUFFIX = ".gain.json"

log = logging.getLogger(__name__)


def render_channel_audio(
    style: Style, model: Model, seconds: float, *, seed: int, master: MasterSettings | None,
    sample_rate: int = SAMPLE_RATE, channels: int = 2, gains: ModelGains | None = None,
    swap_to: Model | None = None, swap_at_seconds: float = 0.0,
) -> np.ndarray:
    """``seconds`` of what the style's channel plays with ``seed``: composer, synth (the
    style's instrument, dynamics and room), master; (n, 2) stereo unless ``channels=1``.

    With ``swap_to``, the model is swapped as an admin's activation does, at
    ``swap_at_seconds``, and with ``gains`` each model plays at its own gain, as a
    channel plays them (:func:`apply_model_gain`)."""
    composer = Composer(style, model, seed=seed)
    synth = Synth(style.sound, bpm=style.tempo_bpm, sample_rate=sample_rate, master=master, channels=channels)
    want = round(seconds * sample_rate)
    parts, total = [], 0
    while total < want:
        if swap_to is not None and total >= swap_at_seconds * sample_rate:
            composer.swap_model(swap_to, at_beat=composer.beat)
            swap_to = None
        chunk = composer.next_chunk()
        if gains is not None:
            apply_model_gain(synth, gains, chunk.piece.model_version)
        pcm = synth.render(chunk.beats)
        parts.append(pcm)
        total += len(pcm)
    return np.concatenate(parts)[:want]


def apply_model_gain(synth: Synth, gains: ModelGains, version: str) -> None:
    """Play the chunk of model ``version`` at that model's gain, once it is known (a swap
    changes it at a piece boundary, in the breath between pieces)."""
    gain = gains.known(version)
    if gain is not None and synth.master is not None and synth.master.settings.gain_db != gain:
        synth.master.settings = dataclasses.replace(synth.master.settings, gain_db=gain)
        synth.master.set_gain_db(gain)


def channel_master(style: Style) -> MasterSettings:
    """The master settings a channel of ``style`` plays with."""
    return MasterSettings(gain_db=style.loudness_gain_db)


@dataclass(frozen=True)
class Calibration:
    style: str
    measured_lufs: list[float]  # per seed, at unity gain
    gain_db: float
    model_version: str

    @property
    def median_lufs(self) -> float:
        return statistics.median(self.measured_lufs)


def calibrate(style: Style, model: Model, *, minutes: float = 2.0, seeds: tuple[int, ...] = SEEDS) -> Calibration:
    raw = MasterSettings(gain_db=0.0, follow=False, limit=False)
    measured = []
    for seed in seeds:
        audio = render_channel_audio(style, model, minutes * 60.0, seed=seed, master=raw)
        measured.append(integrated_loudness(audio, SAMPLE_RATE))
    finite = [m for m in measured if np.isfinite(m)]
    if not finite:
        raise ValueError(f"style {style.name!r}: every rendered stretch was silent; cannot calibrate")
    gain = round(TARGET_LUFS - statistics.median(finite), 2)
    return Calibration(style.name, measured, gain, getattr(model, "version", "?"))


def sound_key(style: Style) -> str:
    """A short hash of what the gain depends on besides the model: the style's sound."""
    return hashlib.sha256(repr((style.sound, style.tempo_bpm)).encode()).hexdigest()[:12]


def gain_file(model_path: Path) -> Path:
    """Where a model file's measured gain is kept: beside it, ``<model>.npz.gain.json``."""
    return model_path.with_name(model_path.name + GAIN_SUFFIX)


def record_model_gain(style: Style, model_path: Path) -> float:
    """Measure the gain ``style``'s channel needs with the model at ``model_path`` and keep
    it beside the file. Called when a model version is registered (retrained or fine-tuned),
    so a swap to it starts at the right loudness instead of waiting for the follower."""
    from radio.model import load_model

    model = load_model(model_path)
    result = calibrate(style, model, minutes=QUICK_MINUTES, seeds=QUICK_SEEDS)
    doc = {"model": result.model_version, "sound": sound_key(style), "gain_db": result.gain_db,
           "measured_lufs": result.measured_lufs}
    atomic_write_text(gain_file(Path(model_path)), json.dumps(doc))
    return result.gain_db


def record_model_gain_quietly(style: Style, model_path: Path) -> float | None:
    """:func:`record_model_gain` for the admin's registration: a failure is logged, never
    raised, since the model is registered whether or not its loudness could be measured."""
    try:
        return record_model_gain(style, model_path)
    except Exception:  # noqa: BLE001
        log.exception("%s: could not measure the loudness of %s", style.name, model_path)
        return None


class ModelGains:
    """The calibrated gain of every model a channel plays, by model version.

    The shipped model's gain is in ``style.toml``; a registered version's is in the file
    :func:`record_model_gain` wrote beside it; any other is measured in a background thread
    when it is swapped in (a second or two of CPU), and until then the follower corrects.
    """

    def __init__(self, style: Style) -> None:
        self.style = style
        self._known: dict[str, float] = {}
        if style.loudness_model:
            self._known[style.loudness_model] = style.loudness_gain_db
        self._lock = threading.Lock()

    def known(self, version: str) -> float | None:
        with self._lock:
            return self._known.get(version)

    def learn(self, model: Model) -> float:
        """The model's gain: known, read from beside its file, or measured now (blocking)."""
        version = getattr(model, "version", "?")
        gain = self.known(version)
        if gain is None:
            gain = self._read(model)
        if gain is None:
            gain = calibrate(self.style, model, minutes=QUICK_MINUTES, seeds=QUICK_SEEDS).gain_db
        with self._lock:
            self._known[version] = gain
        return gain

    def learn_in_background(self, model: Model) -> threading.Thread | None:
        """Measure a model file's gain off the render thread; models without a file (a
        blend's, a test's) keep the style's gain and the follower."""
        if getattr(model, "path", None) is None or self.known(getattr(model, "version", "?")) is not None:
            return None

        def work() -> None:
            try:
                self.learn(model)
            except Exception:  # noqa: BLE001 - a model that cannot be measured keeps the follower's correction
                log.exception("%s: could not measure the loudness of model %s", self.style.name, model.version)

        thread = threading.Thread(target=work, name=f"gain-{self.style.name}", daemon=True)
        thread.start()
        return thread

    def _read(self, model: Model) -> float | None:
        path = getattr(model, "path", None)
        if path is None:
            return None
        try:
            doc = json.loads(gain_file(Path(path)).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if doc.get("model") != model.version or doc.get("sound") != sound_key(self.style):
            return None  # measured for another file or another sound: stale
        return float(doc["gain_db"])

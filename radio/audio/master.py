"""The master stage after the synth's voices: style gain, a slow loudness follower, a limiter.

Every channel should sit at the same loudness (-16 LUFS, AES TD1004) whatever its timbre,
register and texture. Three steps get it there:

1. **The style's gain** (``[loudness] gain_db`` in ``style.toml``), calibrated from the
   style's own music by ``python -m radio.commands.calibrate``. It does almost all the work.
2. **A slow loudness follower** corrects what the calibration could not know: a model
   swapped for a louder one, a piece in a high register, a blend of two styles. It
   estimates the stream's loudness from K-weighted 100 ms blocks (BS.1770's weighting),
   averaged in the power domain over about ``FOLLOW_SECONDS`` (a running mean over the
   first seconds, weighted towards the target), ignoring rests (blocks 20 LU under the
   estimate, or under -70 LUFS). The correction is smoothed again over ``SMOOTH_SECONDS``
   (one loud chord in a quiet passage moves it by hundredths of a dB), moves at most
   ``SLEW_DB_PER_SECOND`` and never beyond ``MAX_CORRECTION_DB``. It is feed-forward (it measures its input, not its
   output), so it cannot oscillate, and it is far slower than a phrase, so it never pumps.
3. **A look-ahead true-peak limiter** (:mod:`radio.audio.limiter`) with its ceiling at
   ``CEILING_DBTP`` keeps the true peak under -1 dBTP, with room for the MP3 encoder's
   overshoot. It turns the gain down before a peak instead of bending the waveform, so
   below the ceiling the samples pass untouched; it delays the stream by about 52 ms.

Mono (n,) and stereo (n, 2) streams both pass through: the follower measures the sum of
the channels' K-weighted power (BS.1770's channel weights for left and right are 1) and
the limiter is linked (one gain for both channels), so the stereo image never moves.

Chunk invariance, as in the synth: every output sample is a pure function of the stream,
never of where chunks were cut. The follower works on 100 ms blocks aligned to absolute
sample 0; the gain inside a block is a straight line (plain multiply-add, exact in IEEE
arithmetic) from the value decided at its start to the one decided at its end, both
decided from blocks already complete, so a block cut across two chunks reads the same
gains. The limiter, likewise, decides its gains on blocks aligned to sample 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.audio.limiter import Limiter
from radio.audio.loudness import ABSOLUTE_GATE_LUFS, TARGET_LUFS, k_weighting_response

FOLLOW_SECONDS = 15.0  # the follower's memory: longer than a phrase, shorter than a piece
SMOOTH_SECONDS = 5.0  # the correction itself is smoothed again, so one loud chord barely moves it
PRIOR_SECONDS = 5.0  # at the start, the estimate is weighted towards the target by this much
SLEW_DB_PER_SECOND = 0.5
MAX_CORRECTION_DB = 10.0
REST_GATE_LU = -20.0  # blocks this far under the estimate are rests: they do not move it
BLOCK_SECONDS = 0.1
CEILING_DBTP = -2.0  # the MP3 encoder adds up to about half a dB to the true peak
LOOKAHEAD_SECONDS = 0.005
RELEASE_DB_PER_SECOND = 6.0  # slow enough that a chord's beating peaks barely modulate the gain


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


@dataclass(frozen=True)
class MasterSettings:
    gain_db: float = 0.0  # the style's calibrated gain
    target_lufs: float = TARGET_LUFS
    follow: bool = True  # False: fixed gain only (what calibration measures)
    limit: bool = True  # False: no limiter (calibration measures the unlimited level)
    ceiling_dbtp: float = CEILING_DBTP
    lookahead_seconds: float = LOOKAHEAD_SECONDS
    release_db_per_second: float = RELEASE_DB_PER_SECOND

    def __post_init__(self) -> None:
        if not (math.isfinite(self.gain_db) and -40 <= self.gain_db <= 40):
            raise ValueError(f"loudness gain_db {self.gain_db!r} must be a number between -40 and 40 dB")
        if not (math.isfinite(self.target_lufs) and -40 <= self.target_lufs <= -5):
            raise ValueError(f"target_lufs {self.target_lufs!r} must be between -40 and -5 LUFS")
        if not (math.isfinite(self.ceiling_dbtp) and -20 <= self.ceiling_dbtp <= 0):
            raise ValueError(f"the limiter's ceiling {self.ceiling_dbtp!r} dBTP must be between -20 and 0")
        if not 0.0005 <= self.lookahead_seconds <= 0.05:
            raise ValueError(f"the limiter's look-ahead {self.lookahead_seconds!r} s must be 0.5-50 ms")
        if not 0.5 <= self.release_db_per_second <= 200:
            raise ValueError(f"the limiter's release {self.release_db_per_second!r} dB/s must be 0.5-200")


class Master:
    """The per-stream master stage; ``process`` takes consecutive chunks of the stream."""

    def __init__(self, settings: MasterSettings | None = None, *, sample_rate: int = 44100) -> None:
        self.settings = settings or MasterSettings()
        self.sample_rate = sample_rate
        self._gain = np.float32(db_to_gain(self.settings.gain_db))
        self._limiters: dict[int, Limiter] = {}  # by channel count, made at the first chunk
        self._block = max(1, round(BLOCK_SECONDS * sample_rate))
        n = self._block
        freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
        # Parseval for a real FFT: interior bins stand for two (positive and negative) frequencies.
        weights = 2.0 * k_weighting_response(freqs, sample_rate)
        weights[0] /= 2
        if n % 2 == 0:
            weights[-1] /= 2
        self._weights = weights / (n * n)
        self._pending: list[np.ndarray] = []  # the current block's input so far
        self._filled = 0
        self._pos = 0
        target = 10 ** ((self.settings.target_lufs + 0.691) / 10)
        self._target_power = target
        self._power = target  # the estimate of the stream's K-weighted mean square
        self._weight = PRIOR_SECONDS / BLOCK_SECONDS  # blocks' worth of trust in the estimate
        self._max_weight = FOLLOW_SECONDS / BLOCK_SECONDS
        self._step_db = SLEW_DB_PER_SECOND * BLOCK_SECONDS
        self._wanted_db = 0.0  # the smoothed correction the gain moves towards
        self.correction_db = 0.0  # the follower's gain at the start of the current block
        self._next_db = 0.0  # ... and at its end
        self._from = 1.0
        self._to = 1.0

    @property
    def estimate_lufs(self) -> float:
        """The follower's current estimate of its input's loudness (after the style gain)."""
        return -0.691 + 10 * math.log10(self._power)

    def set_gain_db(self, gain_db: float) -> None:
        """Change the style gain from the next chunk on (a swapped-in model's calibrated gain)."""
        MasterSettings(gain_db=gain_db)  # the same bounds
        self._gain = np.float32(db_to_gain(gain_db))

    @property
    def delay(self) -> int:
        """Samples by which the stream comes out later than it went in (the look-ahead)."""
        return next(iter(self._limiters.values())).delay if self._limiters else 0

    def limiter(self, channels: int) -> Limiter:
        limiter = self._limiters.get(channels)
        if limiter is None:
            if self._limiters:
                raise ValueError("a master stage takes one channel count for its whole stream")
            s = self.settings
            limiter = self._limiters[channels] = Limiter(
                ceiling_dbtp=s.ceiling_dbtp, lookahead_seconds=s.lookahead_seconds,
                release_db_per_second=s.release_db_per_second, sample_rate=self.sample_rate, channels=channels,
            )
        return limiter

    def process(self, samples: np.ndarray) -> np.ndarray:
        """The next chunk of the stream, (n,) mono or (n, channels), through gain, follower
        and limiter: float32 of the same shape."""
        samples = np.asarray(samples, dtype=np.float32)
        mono = samples.ndim == 1
        x = samples[None, :] * self._gain if mono else np.ascontiguousarray(samples.T) * self._gain
        if self.settings.follow:
            x = self._follow(x)
        if self.settings.limit:
            x = self.limiter(len(x)).process(x)
        self._pos += x.shape[1]
        return x[0] if mono else np.ascontiguousarray(x.T)

    def _follow(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        i, n, block = 0, x.shape[1], self._block
        while i < n:
            offset = (self._pos + i) % block
            m = min(n - i, block - offset)
            seg = x[:, i : i + m]
            # The gain runs in a straight line across the block: multiply-adds only, so a
            # sample's gain does not depend on how the block was cut.
            ramp = np.arange(offset, offset + m, dtype=np.float32) * np.float32((self._to - self._from) / block)
            ramp += np.float32(self._from)
            np.multiply(seg, ramp, out=out[:, i : i + m])
            self._pending.append(seg)
            self._filled += m
            if self._filled == block:
                self._end_block(np.concatenate(self._pending, axis=1))
                self._pending, self._filled = [], 0
            i += m
        return out

    def _end_block(self, block: np.ndarray) -> None:
        spectrum = np.fft.rfft(block.astype(np.float64), axis=-1)
        power = float(np.sum((spectrum.real**2 + spectrum.imag**2) @ self._weights))  # summed over channels
        loud = -0.691 + 10 * math.log10(power) if power > 0 else -math.inf
        if loud > ABSOLUTE_GATE_LUFS and loud > self.estimate_lufs + REST_GATE_LU:
            self._weight = min(self._max_weight, self._weight + 1)
            self._power += (power - self._power) / self._weight
        wanted = self.settings.target_lufs - self.estimate_lufs
        wanted = max(-MAX_CORRECTION_DB, min(MAX_CORRECTION_DB, wanted))
        self._wanted_db += (wanted - self._wanted_db) * (BLOCK_SECONDS / SMOOTH_SECONDS)
        self.correction_db = self._next_db
        self._next_db += max(-self._step_db, min(self._step_db, self._wanted_db - self._next_db))
        self._from, self._to = self._to, db_to_gain(self._next_db)

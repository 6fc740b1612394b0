"""A look-ahead true-peak limiter: a gain envelope applied to the signal, never a waveshaper.

Broadcast chains limit this way: the signal is delayed, and a gain computed from what is
coming is multiplied onto it, so the gain is already down when a peak arrives and the
waveform itself is never bent. Below the ceiling the gain is exactly 1 and the samples
pass untouched; above it, the sound gets quieter for a moment instead of distorted.

The gain, per sample ``c`` of the input:

1. **Detector:** the true peak around ``c``: ``|x[c]|`` and the signal interpolated at
   ``c + 1/4, 1/2, 3/4`` (a 16-tap windowed-sinc, 4x oversampling as BS.1770's true-peak
   meter does), the larger of the two channels (linked stereo: the image does not move).
   Blocks whose samples are all 4 dB under the ceiling skip the interpolation.
2. **Required gain** ``g[c] = min(0, ceiling - peak[c])`` in dB.
3. **Release:** ``r[c] = min(g[c], r[c - 1] + release step)``: the gain recovers at a
   steady rate in dB after a peak. A min-plus recursion, so it is computed per block in
   closed form (``min(cummin(g - i step) + i step, ...)``), not sample by sample.
4. **Look-ahead:** ``m[c]`` = the minimum of ``r`` over the last ``L`` samples, then
   ``s[c]`` = the mean of ``m`` over the last ``L`` samples: a smooth attack of ``L``
   samples. Every ``m`` in the mean's window covers sample ``c - L + 1``, so
   ``s[c] <= r[c - L + 1] <= g[c - L + 1]``: the gain for sample ``c - L + 1`` is
   ``s[c]``, and it always brings that sample's true peak under the ceiling.

Chunk invariance: the gain is computed on blocks of ``BLOCK`` samples aligned to absolute
sample 0, each exactly once, with indices relative to the block. The output is the input
delayed by ``delay = BLOCK + L + detector lag`` samples (about 52 ms at 44.1 kHz), which is
long enough that every output sample's gain was decided by a complete block. A stream is
therefore shifted by that delay; its length and timing are otherwise unchanged.
"""

from __future__ import annotations

import numpy as np

BLOCK = 2048
TAPS = 16  # per phase of the detector's interpolator
LAG = TAPS // 2  # the detector needs this many samples after the one it rates
SKIP_MARGIN_DB = 4.0  # inter-sample peaks of this music stay well within this of the sample peak


def _bank() -> np.ndarray:
    """(3, TAPS) filters interpolating at +1/4, +1/2, +3/4 from taps at offsets -7..8."""
    k = np.arange(-LAG + 1, LAG + 1)
    rows = []
    for f in (0.25, 0.5, 0.75):
        t = k - f
        window = np.i0(6.0 * np.sqrt(np.clip(1 - (t / (LAG + 1)) ** 2, 0, 1))) / np.i0(6.0)
        row = np.sinc(t) * window
        rows.append(row / row.sum())
    return np.array(rows, dtype=np.float32)


_BANK = _bank()


class Limiter:
    """One stream's limiter; ``process`` takes consecutive (channels, n) chunks."""

    def __init__(
        self,
        *,
        ceiling_dbtp: float = -2.0,
        lookahead_seconds: float = 0.005,
        release_db_per_second: float = 6.0,
        sample_rate: int = 44100,
        channels: int = 1,
    ) -> None:
        self.ceiling_db = float(ceiling_dbtp)
        self._ceiling = 10.0 ** (self.ceiling_db / 20.0)
        self._skip_below = np.float32(self._ceiling * 10.0 ** (-SKIP_MARGIN_DB / 20.0))
        self.lookahead = max(2, round(lookahead_seconds * sample_rate))
        self.delay = BLOCK + self.lookahead + LAG
        self.channels = channels
        self._step = release_db_per_second / sample_rate
        L = self.lookahead
        self._x = np.zeros((channels, self.delay + TAPS), dtype=np.float32)  # input history
        self._x0 = -(self.delay + TAPS)  # stream position of self._x[:, 0]
        self._pos = 0  # input samples taken
        self._blocks = 0  # gain blocks decided
        # Gains for input samples from self._g0 on; before the stream, silence at unity gain
        # up to the first sample the first block decides.
        self._g0 = -self.delay
        self._gain = np.ones(self.delay - LAG - L + 1, dtype=np.float32)
        self._r = 0.0  # the release recursion's last value (dB)
        self._r_tail = np.zeros(L - 1)  # the last L - 1 values of r, then of m
        self._m_tail = np.zeros(L - 1)
        self._ramp = np.arange(BLOCK, dtype=np.float64)
        self.reduced_samples = 0  # samples whose gain was below 1 (a figure for benchmarks)

    def process(self, x: np.ndarray) -> np.ndarray:
        """The next chunk, (channels, n) float32, limited and delayed by ``delay`` samples."""
        n = x.shape[1]
        self._x = np.concatenate([self._x, x], axis=1)
        self._pos += n
        while (self._blocks + 1) * BLOCK <= self._pos:
            self._decide(self._blocks * BLOCK)
            self._blocks += 1
        lo = self._pos - n - self.delay  # the input positions that come out now
        xs = self._x[:, lo - self._x0 : lo - self._x0 + n]
        gain = self._gain[lo - self._g0 : lo - self._g0 + n]
        out = xs * gain
        # Keep what later blocks and outputs still need.
        keep_x = min(self._blocks * BLOCK - LAG - TAPS, self._pos - self.delay)
        if keep_x > self._x0:
            self._x = self._x[:, keep_x - self._x0 :]
            self._x0 = keep_x
        keep_g = self._pos - self.delay
        if keep_g > self._g0:
            self._gain = self._gain[keep_g - self._g0 :]
            self._g0 = keep_g
        return out

    def _decide(self, start: int) -> None:
        """Decide the gains the block of detector positions [start, start + BLOCK) yields."""
        L = self.lookahead
        c0 = start - LAG  # the samples this block rates: c0 .. c0 + BLOCK - 1
        seg = self._x[:, c0 - LAG + 1 - self._x0 : c0 + BLOCK + LAG - self._x0]  # taps for each
        core = seg[:, LAG - 1 : LAG - 1 + BLOCK]
        peak = np.abs(core).max(axis=0)
        if peak.max() >= self._skip_below:
            for row in _BANK:
                for ch in seg:
                    np.maximum(peak, np.abs(np.correlate(ch, row, mode="valid"))[:BLOCK], out=peak)
        over = peak > self._ceiling
        if not over.any() and self._r == 0.0 and not self._r_tail.any() and not self._m_tail.any():
            gains = np.ones(BLOCK, dtype=np.float32)
        else:
            g = np.zeros(BLOCK)
            g[over] = self.ceiling_db - 20.0 * np.log10(peak[over].astype(np.float64))
            i = self._ramp
            c = np.minimum.accumulate(g - i * self._step)
            r = np.minimum(np.minimum(c + i * self._step, self._r + (i + 1) * self._step), g)
            self._r = float(r[-1])
            m = _sliding_min(np.concatenate([self._r_tail, r]), L)
            self._r_tail = r[-(L - 1) :]
            cs = np.concatenate([[0.0], np.cumsum(np.concatenate([self._m_tail, m]))])
            s = (cs[L:] - cs[:-L]) / L
            self._m_tail = m[-(L - 1) :]
            s[np.abs(s) < 1e-9] = 0.0  # a mean of zeros stays exactly unity gain
            gains = np.power(10.0, s / 20.0).astype(np.float32)
            self.reduced_samples += int(np.count_nonzero(gains < 1))
        # Gain s[c] belongs to input sample c - L + 1.
        first = c0 - L + 1
        assert first == self._g0 + len(self._gain), "gain blocks must follow each other"
        self._gain = np.concatenate([self._gain, gains])


def _sliding_min(x: np.ndarray, width: int) -> np.ndarray:
    """min(x[i : i + width]) for every i (len(x) - width + 1 values), van Herk/Gil-Werman."""
    n = len(x)
    pad = (-n) % width
    padded = np.concatenate([x, np.full(pad, np.inf)]).reshape(-1, width)
    prefix = np.minimum.accumulate(padded, axis=1).ravel()
    suffix = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    count = n - width + 1
    return np.minimum(suffix[:count], prefix[width - 1 : width - 1 + count])


"""Loudness measured the broadcast way: ITU-R BS.1770-4 / EBU R128, in numpy only.

- **Integrated loudness** (LUFS): the signal through the K-weighting filter (a high shelf
  of +4 dB above about 1.5 kHz, then a high-pass at 38 Hz), mean square over 400 ms
  blocks every 100 ms, blocks below -70 LUFS dropped (absolute gate), then blocks more
  than 10 LU below the mean of the rest dropped (relative gate).
- **Loudness range** (LU, EBU Tech 3342): the spread between the 10th and 95th
  percentiles of 3 s short-term loudness, gated at -70 LUFS and 20 LU below their mean.
- **True peak** (dBTP): the peak of the signal oversampled 4x by a windowed-sinc
  interpolator, which finds the peaks between samples that a DAC will reconstruct.

The K-filter is an IIR pair; here it is applied as its impulse response truncated where
it has decayed below 1e-9 of its start, by FFT overlap-save, so a 10-minute stream is
measured in about a second without scipy. ``tests/audio/test_loudness.py`` checks it
against pyloudnorm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TARGET_LUFS = -16.0  # AES TD1004/TD1008 for streaming
TRUE_PEAK_LIMIT_DBTP = -1.0
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
BLOCK_SECONDS = 0.4
SHORT_TERM_SECONDS = 3.0
HOP_SECONDS = 0.1
OVERSAMPLE = 4
_IMPULSE_SAMPLES = 16384  # the K-filter's impulse response is below 1e-9 long before this
_SEGMENT = 1 << 18
_SINC_TAPS = 32  # per phase of the true-peak interpolator


@dataclass(frozen=True)
class LoudnessReport:
    """One measurement of a stretch of audio."""

    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    seconds: float

    def line(self) -> str:
        return (
            f"{self.integrated_lufs:6.1f} LUFS  LRA {self.loudness_range_lu:4.1f} LU  "
            f"true peak {self.true_peak_dbtp:5.1f} dBTP  ({self.seconds:.0f} s)"
        )


def _biquads(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The K-weighting filter's two stages (b, a), designed for ``sample_rate`` from the
    analogue prototype of BS.1770 (the same parameters pyloudnorm uses)."""
    stages = []
    # Stage 1: high shelf, +4 dB, Q = 1/sqrt(2), 1500 Hz.
    a_gain = 10 ** (4.0 / 40)
    w0 = 2 * math.pi * 1500.0 / sample_rate
    alpha = math.sin(w0) / (2 * (1 / math.sqrt(2)))
    cos, sq = math.cos(w0), 2 * math.sqrt(a_gain) * alpha
    b = [
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos + sq),
        -2 * a_gain * ((a_gain - 1) + (a_gain + 1) * cos),
        a_gain * ((a_gain + 1) + (a_gain - 1) * cos - sq),
    ]
    a = [(a_gain + 1) - (a_gain - 1) * cos + sq, 2 * ((a_gain - 1) - (a_gain + 1) * cos), (a_gain + 1) - (a_gain - 1) * cos - sq]
    stages.append((np.array(b) / a[0], np.array(a) / a[0]))
    # Stage 2: high pass, Q = 0.5, 38 Hz.
    w0 = 2 * math.pi * 38.0 / sample_rate
    alpha = math.sin(w0) / (2 * 0.5)
    cos = math.cos(w0)
    b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
    a = [1 + alpha, -2 * cos, 1 - alpha]
    stages.append((np.array(b) / a[0], np.array(a) / a[0]))
    return stages


def k_weighting_response(freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter at ``freqs_hz``: the power gain per frequency."""
    z = np.exp(-1j * 2 * math.pi * np.asarray(freqs_hz, dtype=np.float64) / sample_rate)
    power = np.ones(len(z))
    for b, a in _biquads(sample_rate):
        h = (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
        power *= np.abs(h) ** 2
    return power


_impulse_cache: dict[int, np.ndarray] = {}


def _k_impulse(sample_rate: int) -> np.ndarray:
    h = _impulse_cache.get(sample_rate)
    if h is None:
        n = _IMPULSE_SAMPLES
        x = np.zeros(n)
        x[0] = 1.0
        for b, a in _biquads(sample_rate):  # direct form I, once per sample rate
            y = np.zeros(n)
            x1 = x2 = y1 = y2 = 0.0
            for i in range(n):
                xi = x[i]
                yi = b[0] * xi + b[1] * x1 + b[2] * x2 - a[1] * y1 - a[2] * y2
                x2, x1, y2, y1 = x1, xi, y1, yi
                y[i] = yi
            x = y
        h = _impulse_cache[sample_rate] = x
    return h


def k_weight(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """The signal through the K-weighting filter (float64, same length)."""
    x = np.asarray(samples, dtype=np.float64)
    h = _k_impulse(sample_rate)
    taps = len(h)
    n = _SEGMENT
    hop = n - taps + 1
    H = np.fft.rfft(h, n)
    out = np.empty(len(x))
    padded = np.concatenate([np.zeros(taps - 1), x])
    for start in range(0, len(x), hop):
        seg = padded[start : start + n]
        y = np.fft.irfft(np.fft.rfft(seg, n) * H, n)[taps - 1 : len(seg)]
        out[start : start + len(y)] = y
    return out


def weighted_power(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per sample, the K-weighted signal squared, summed over the channels of an (n,) or
    (n, channels) signal (BS.1770: left and right weigh 1 each)."""
    x = np.asarray(samples)
    if x.ndim == 1:
        w = k_weight(x, sample_rate)
        return w * w
    total = np.zeros(len(x))
    for ch in range(x.shape[1]):
        w = k_weight(x[:, ch], sample_rate)
        total += w * w
    return total


def _window_powers(squared: np.ndarray, sample_rate: int, window_seconds: float) -> np.ndarray:
    """Mean of ``squared`` over every window of ``window_seconds``, one every 100 ms."""
    window = round(window_seconds * sample_rate)
    hop = round(HOP_SECONDS * sample_rate)
    if len(squared) < window:
        return np.zeros(0)
    csum = np.concatenate([[0.0], np.cumsum(squared)])
    starts = np.arange(0, len(squared) - window + 1, hop)
    return (csum[starts + window] - csum[starts]) / window


def _lufs(power: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 gated integrated loudness of a mono (n,) or stereo (n, 2) signal (LUFS);
    -inf if all is gated."""
    return _integrated(_window_powers(weighted_power(samples, sample_rate), sample_rate, BLOCK_SECONDS))


def _integrated(powers: np.ndarray) -> float:
    kept = powers[_lufs(powers) > ABSOLUTE_GATE_LUFS]
    if not len(kept):
        return float("-inf")
    gate = _lufs(kept.mean()) + RELATIVE_GATE_LU
    kept = kept[_lufs(kept) > gate]
    return float(_lufs(kept.mean())) if len(kept) else float("-inf")


def loudness_range(samples: np.ndarray, sample_rate: int) -> float:
    """EBU Tech 3342 loudness range (LU) of a signal; 0 for less than 3 s of sound."""
    return _range(_window_powers(weighted_power(samples, sample_rate), sample_rate, SHORT_TERM_SECONDS))


def _range(powers: np.ndarray) -> float:
    kept = powers[_lufs(powers) > ABSOLUTE_GATE_LUFS]
    if len(kept) < 2:
        return 0.0
    gate = _lufs(kept.mean()) + LRA_RELATIVE_GATE_LU
    levels = _lufs(kept[_lufs(kept) > gate])
    lo, hi = np.percentile(levels, [10, 95])
    return float(hi - lo)


_sinc_cache: dict[int, np.ndarray] = {}


def _interpolator(factor: int) -> np.ndarray:
    """(factor, taps) polyphase windowed-sinc filters; phase 0 is the identity."""
    bank = _sinc_cache.get(factor)
    if bank is None:
        half = _SINC_TAPS // 2
        k = np.arange(-half + 1, half + 1)
        rows = []
        for p in range(factor):
            t = k - p / factor  # distance (in input samples) from the interpolated point
            # A Kaiser window (beta 8: stop band near -80 dB) over the filter's span.
            window = np.i0(8.0 * np.sqrt(np.clip(1 - (t / (half + 1)) ** 2, 0, 1))) / np.i0(8.0)
            row = np.sinc(t) * window
            rows.append(row / row.sum())  # unity gain at DC for every phase
        bank = _sinc_cache[factor] = np.array(rows)
    return bank


def true_peak(samples: np.ndarray, sample_rate: int = 44100, factor: int = OVERSAMPLE) -> float:
    """The largest absolute value of the signal oversampled ``factor`` times (linear),
    over every channel of an (n, channels) signal."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2:
        return max((true_peak(x[:, ch], sample_rate, factor) for ch in range(x.shape[1])), default=0.0)
    if not len(x):
        return 0.0
    bank = _interpolator(factor)
    taps = bank.shape[1]
    half = taps // 2
    peak = float(np.abs(x).max())
    padded = np.concatenate([np.zeros(half), x, np.zeros(half)])
    step = _SEGMENT
    for start in range(0, len(x), step):
        seg = padded[start : start + step + taps - 1]
        for p in range(1, factor):
            y = np.convolve(seg, bank[p][::-1], mode="valid")
            peak = max(peak, float(np.abs(y).max()))
    return peak


def to_db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else float("-inf")


def measure(samples: np.ndarray, sample_rate: int = 44100) -> LoudnessReport:
    """Integrated loudness, loudness range and true peak of a mono or stereo signal."""
    weighted = weighted_power(samples, sample_rate)
    return LoudnessReport(
        integrated_lufs=_integrated(_window_powers(weighted, sample_rate, BLOCK_SECONDS)),
        loudness_range_lu=_range(_window_powers(weighted, sample_rate, SHORT_TERM_SECONDS)),
        true_peak_dbtp=to_db(true_peak(samples, sample_rate)),
        sample_peak_dbfs=to_db(float(np.abs(np.asarray(samples)).max()) if len(samples) else 0.0),
        seconds=len(samples) / sample_rate,
    )


def thd_db(y: np.ndarray, freqs: tuple[float, ...], rate: int = 44100) -> float:
    """Total harmonic distortion plus noise of a steady tone or chord (dB): the power away from
    ``freqs`` (±6 Hz) over the power at them, in the last two thirds of ``y`` (past any attack).
    What the limiter's distortion is judged by, beside the waveshaper it replaced."""
    seg = y[len(y) // 3 :].astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg * np.blackman(len(seg)))) ** 2
    bins = np.fft.rfftfreq(len(seg), 1 / rate)
    own = np.zeros(len(bins), bool)
    for f in freqs:
        own |= np.abs(bins - f) < 6.0
    return float(10 * np.log10(spectrum[~own].sum() / spectrum[own].sum()))

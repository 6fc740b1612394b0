"""A voice's timbre made playable: the partials of one pitch, the curves of one voice.

Additive synthesis: each note is a sum of sine partials (the voice's ``Timbre``), those at
or above Nyquist dropped and the upper ones gently rolled off. A :class:`Tone` is what the
oscillators (:mod:`radio.audio.players`) read for one pitch: a single-cycle table where the
partials are harmonic, direct oscillators otherwise, and one oscillator per partial for the
evolving start of a note. A :class:`Part` is one of the instrument's voices with its
attack/decay and release curves precomputed, so an envelope is a slice, not a formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.styles import Timbre

# Partials are gently rolled off above this frequency so high notes do not sound glassy.
BRIGHTNESS_HZ = 5000.0
# A second, detuned copy of the fundamental at this fraction of its amplitude gives a
# slow chorus beat of a few tenths of a hertz when the timbre asks for detune.
CHORUS_MIX = 0.35
# Decay approaches the sustain level exponentially, about 95% of the way after `decay`;
# after DECAY_SETTLED time constants (a residue below 2**-20) the level is the sustain.
DECAY_TIME_CONSTANTS = 3.0
DECAY_SETTLED = 14.0
# An evolving note joins the steady path once every partial's decaying part is below this
# fraction of its level (-66 dB): the envelope step left at the switch is inaudible.
EVOLVING_SETTLED = 5e-4
# Harmonic timbres play from a single-cycle table of 2**TABLE_BITS entries with linear
# interpolation (error below -80 dB for the first ten partials).
TABLE_BITS = 11
TABLE_SIZE = 2**TABLE_BITS
# A partial (or a plucked note) whose envelope has fallen this far is dropped (-80 dB).
SILENT = 1e-4


def onset_curve(attack: int, decay_rate: np.float32, sustain: np.float32) -> np.ndarray:
    """Attack (linear from 0) then exponential decay, until it is within 2**-20 of sustain."""
    settled = attack + int(math.ceil(DECAY_SETTLED / float(decay_rate)))
    t = np.arange(settled, dtype=np.float32)
    curve = sustain + (np.float32(1.0) - sustain) * np.exp(-decay_rate * (t - np.float32(attack)))
    curve[:attack] = t[:attack] / np.float32(attack)
    return curve.astype(np.float32)


def peak(timbre: Timbre) -> float:
    """The largest value a note's waveform can reach at full envelope (harmonic estimate)."""
    theta = np.linspace(0.0, 2.0 * math.pi, 4096, endpoint=False)
    wave = sum(a * np.sin(k * theta) for k, a in enumerate(timbre.partials, start=1))
    chorus = timbre.partials[0] * CHORUS_MIX if timbre.detune_cents > 0 else 0.0
    return float(np.max(np.abs(wave))) + chorus


def phase_step(freq: float, sample_rate: int) -> int:
    """Phase advance per sample, with 2**32 as one cycle (about 1e-5 Hz resolution)."""
    return round(freq / sample_rate * 2**32) % 2**32


@dataclass(frozen=True)
class Tone:
    """One voice's timbre at one pitch, ready to play."""

    table: np.ndarray | None  # (TABLE_SIZE, 2) float32 value/slope pairs of the harmonic partials
    table_inc: np.uint32  # the fundamental's phase step per sample (2**32 = one cycle)
    inc: np.ndarray  # (k, 1) uint32 phase steps of the partials played by direct oscillators
    amps: np.ndarray  # (k, 1) float32 their amplitudes
    # The evolving start of a note: every partial (and the chorus copy) its own oscillator.
    p_inc: np.ndarray  # (m, 1) uint32
    p_amp: np.ndarray  # (m,) float32
    p_log_amp: np.ndarray  # (m, 1) float32 log((1 - sustain) amp): the decaying part's level
    p_harmonic: np.ndarray | None  # harmonic numbers, ascending (0: the chorus copy); None if inharmonic
    p_attack_end: int  # samples after which every partial has spoken
    p_until: np.ndarray  # (m,) int64: the sample from which each partial is 80 dB down and dropped
    p_ratio: np.ndarray  # (m, 1) float32 frequency over the fundamental's (scales the vibrato)
    p_inv_attack: np.ndarray  # (m, 1) float32 1 / attack samples
    p_rate: np.ndarray  # (m, 1) float32 decay per sample
    settle: int  # samples after which every partial sits at the sustain level (0: never evolving)
    end: int | None  # samples after which a note without sustain is silent
    vib_index: float  # peak phase deviation of the fundamental (radians)
    vib_inc: np.uint32  # the vibrato's phase step
    vib_fade: float  # samples over which the vibrato fades in



class Part:
    """One of the instrument's voices: its timbre and the curves read from it."""

    def __init__(self, timbre: Timbre, sample_rate: int) -> None:
        self.timbre = timbre
        self.attack = max(1, round(timbre.attack * sample_rate))
        self.decay_rate = np.float32(DECAY_TIME_CONSTANTS / max(1.0, timbre.decay * sample_rate))
        self.release = max(1, round(timbre.release * sample_rate))
        self.sustain = np.float32(timbre.sustain)
        # An evolving timbre's start is played partial by partial; once the steady path
        # takes over, every partial sits at the sustain level, so it has no common curve.
        self.onset = (
            np.zeros(0, np.float32) if timbre.evolving else onset_curve(self.attack, self.decay_rate, self.sustain)
        )
        # (1 - x)^2 falls to exactly zero with zero slope: no click at the end of the tail.
        self.fade = np.square(1.0 - np.arange(self.release, dtype=np.float32) / np.float32(self.release))
        self.norm = 1.0 / peak(timbre)



def build_tone(timbre: Timbre, pitch: int, sample_rate: int) -> Tone:
    """The voice's partials below Nyquist at ``pitch``: a wavetable and/or direct
    oscillators for the steady part, one oscillator per partial for the evolving start."""
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    sr = sample_rate
    partials = []  # (harmonic number, frequency, amplitude)
    for k, amp in enumerate(timbre.partials, start=1):
        f = k * f0 * math.sqrt(1.0 + timbre.inharmonicity * k * k)
        if amp > 0 and f < sr / 2:
            partials.append((k, f, amp / math.sqrt(1.0 + (f / BRIGHTNESS_HZ) ** 2)))
    table = None
    direct = [(f, amp) for _, f, amp in partials]
    if timbre.inharmonicity == 0 and partials:
        # Harmonic partials repeat every cycle of the fundamental: sum them once into
        # a single-cycle table stored as (value, slope to the next entry) pairs.
        theta = np.arange(TABLE_SIZE + 1) * (2.0 * math.pi / TABLE_SIZE)
        cycle = sum(amp * np.sin(k * theta) for k, _, amp in partials)
        table = np.stack([cycle[:-1], np.diff(cycle)], axis=1).astype(np.float32)
        direct = []
    chorus = None
    if timbre.detune_cents > 0 and timbre.partials[0] > 0:
        chorus = (f0 * 2.0 ** (timbre.detune_cents / 1200.0), timbre.partials[0] * CHORUS_MIX)
        direct.append(chorus)
    # The evolving start: partial k speaks over attack * (1 + swell (k - 1)) and decays
    # with the time constant decay / k**partial_decay, shorter for higher pitches.
    evolving = [(k, f, amp) for k, f, amp in partials] + ([(1, *chorus)] if chorus else [])
    scale = 2.0 ** (-timbre.pitch_decay * (pitch - 60) / 12.0)
    attacks = np.array([max(1.0, timbre.attack * sr * (1.0 + timbre.swell * (k - 1))) for k, _, _ in evolving])
    rates = np.array(
        [DECAY_TIME_CONSTANTS * k**timbre.partial_decay / max(1.0, timbre.decay * sr * scale) for k, _, _ in evolving]
    )
    amps = np.array([amp for _, _, amp in evolving])
    settle, end = 0, None
    if timbre.evolving and evolving:
        if timbre.sustain > 0:
            # Once (1 - s) exp(-rate t) is under EVOLVING_SETTLED the steady path takes over.
            decays = math.log(max(1.0, (1.0 - timbre.sustain) / EVOLVING_SETTLED)) / rates
            settle = int(math.ceil(max(attacks.max(), decays.max())))
        else:  # nothing to settle to: the note dies when its slowest partial is 80 dB down
            settle = end = int(math.ceil(-math.log(SILENT) / rates.min()))
    vib_index = 0.0
    if timbre.vibrato_hz > 0 and timbre.vibrato_cents > 0:
        # Each voice's vibrato runs at a slightly different rate, so a chord's voices
        # do not waver in lockstep; the depth is a phase deviation of df / f_vib.
        rate_hz = timbre.vibrato_hz * (1.0 + 0.04 * ((pitch * 5) % 7 - 3) / 3.0)
        vib_index = f0 * (2.0 ** (timbre.vibrato_cents / 1200.0) - 1.0) / rate_hz
    else:
        rate_hz = 0.0
    return Tone(
        table=table,
        table_inc=np.uint32(phase_step(f0, sr)),
        inc=np.array([phase_step(f, sr) for f, _ in direct], dtype=np.uint32)[:, None],
        amps=np.array([amp for _, amp in direct], dtype=np.float32)[:, None],
        p_inc=np.array([phase_step(f, sr) for _, f, _ in evolving], dtype=np.uint32)[:, None],
        p_amp=np.array([amp for _, _, amp in evolving], dtype=np.float32),
        p_log_amp=np.log(np.array([amp * (1.0 - timbre.sustain) for _, _, amp in evolving], dtype=np.float32)
                         + np.float32(1e-30))[:, None],
        p_harmonic=(
            np.array([k for k, _, _ in partials] + ([0] if chorus else []))
            if timbre.inharmonicity == 0 else None
        ),
        p_attack_end=int(math.ceil(attacks.max())) if len(attacks) else 0,
        p_until=(
            np.ceil(np.log(np.maximum(amps / (SILENT * amps.max()), 1.0)) / rates).astype(np.int64)
            if timbre.sustain == 0 and len(amps) else np.full(len(evolving), np.iinfo(np.int64).max)
        ),
        p_ratio=np.array([f / f0 for _, f, _ in evolving], dtype=np.float32)[:, None],
        p_inv_attack=(1.0 / attacks).astype(np.float32)[:, None],
        p_rate=rates.astype(np.float32)[:, None],
        settle=settle,
        end=end,
        vib_index=vib_index,
        vib_inc=np.uint32(phase_step(rate_hz, sr)),
        vib_fade=max(1.0, timbre.vibrato_delay * sr),
    )

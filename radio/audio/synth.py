"""The additive oscillator synth: a ``list_of_notes`` stream in, float32 mono samples out.

Mono, because the music is a handful of voices with no spatial placement to convey, a
mono MP3 at 128 kbps spends every bit on one channel instead of two, and LAME encodes
mono in about half the time of stereo (the encoder is the slowest stage of the chain).

Additive synthesis: each note is a sum of sine partials (the style's ``Timbre``), those
at or above Nyquist dropped and the upper ones gently rolled off. For a harmonic timbre
the sum is periodic, so it is computed once per pitch into a single-cycle table and read
with linear interpolation: about 2 ns per sample whatever the number of partials,
against about 1 ns per partial for float32 ``sin`` oscillators, which play inharmonic
partials and the detuned chorus copy of the fundamental.

Chunk invariance is the design constraint. Every sample is a pure function of its
absolute stream position, never of where a chunk was cut:

- beat ``k`` starts at ``origin + round((k - origin_beat) * samples_per_beat)`` where the
  origin is the sample at which the current tempo began, so fractional beat lengths
  never drift and a tempo change moves the origin to a beat boundary;
- oscillator phases are ``t * step`` in wrapping uint32 arithmetic (``t`` = samples
  since the note began, 2**32 = one cycle), which is exact at any note length and needs
  no accumulator; float32 is left only for the waveform itself;
- envelopes are read from precomputed attack/decay and release curves at ``t`` and at
  ``t - note_off``;
- voices are summed in the order they were struck, and the soft limiter works on one
  sample at a time, so it has no state to carry between chunks;
- a channel's synth ends in a :class:`radio.audio.master.Master` instead (style gain, a
  slow loudness follower, then a limiter), whose follower state advances on 100 ms blocks
  aligned to absolute sample 0: the same invariance, kept block by block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.audio.master import Master, MasterSettings
from radio.errors import NotesError, StyleError
from radio.music.notes import BEATS_PER_QUARTER, HELD, STRUCK, ListOfNotes
from radio.styles import Timbre

# A voice's peak is at most level * accent * VOICE_GAIN, so a single note peaks near
# -12 dBFS and four-part music peaks near -3 dBFS, below the limiter's knee.
VOICE_GAIN = 0.28
# The limiter is linear up to the knee and bends smoothly (continuous slope) towards 1.0.
LIMITER_KNEE = 0.7
# Partials are gently rolled off above this frequency so high notes do not sound glassy.
BRIGHTNESS_HZ = 5000.0
# A second, detuned copy of the fundamental at this fraction of its amplitude gives a
# slow chorus beat of a few tenths of a hertz when the timbre asks for detune.
CHORUS_MIX = 0.35
# Decay approaches the sustain level exponentially, about 95% of the way after `decay`;
# after DECAY_SETTLED time constants (a residue below 2**-20) the level is the sustain.
DECAY_TIME_CONSTANTS = 3.0
DECAY_SETTLED = 14.0
# Harmonic timbres play from a single-cycle table of 2**TABLE_BITS entries with linear
# interpolation (error below -80 dB for the first ten partials).
TABLE_BITS = 11
TABLE_SIZE = 2**TABLE_BITS
# Work is done in blocks of at most this many samples to keep temporaries in cache.
BLOCK = 16384
# Accent by position within a 4/4 bar of 16ths (the stream position, counted from 0).
ACCENTS = np.array([1.0, 0.8, 0.86, 0.8, 0.94, 0.8, 0.86, 0.8, 0.97, 0.8, 0.86, 0.8, 0.94, 0.8, 0.86, 0.8])
MIN_BPM, MAX_BPM = 10.0, 600.0

_PHASE_TO_RADIANS = np.float32(2.0 * math.pi / 2**32)


def soft_limit(x: np.ndarray) -> np.ndarray:
    """Limit in place: identity below the knee, then a tanh bend that never reaches 1.0."""
    over = np.abs(x) > LIMITER_KNEE
    if over.any():
        v = x[over]
        span = np.float32(1.0 - LIMITER_KNEE)
        bent = LIMITER_KNEE + span * np.tanh((np.abs(v) - LIMITER_KNEE) / span)
        x[over] = np.copysign(bent, v).astype(np.float32)
    return x


def check_timbre(timbre: Timbre) -> None:
    """Raise :class:`StyleError` naming the first timbre field the synth cannot use."""
    if not timbre.partials:
        raise StyleError("timbre.partials is empty: give at least the fundamental's amplitude")
    for i, amp in enumerate(timbre.partials):
        if not (math.isfinite(amp) and amp >= 0):
            raise StyleError(f"timbre.partials[{i}] = {amp!r} must be a finite amplitude >= 0")
    if not any(timbre.partials):
        raise StyleError("timbre.partials are all zero: the voice would be silent")
    for name in ("attack", "decay", "release", "inharmonicity", "detune_cents"):
        value = getattr(timbre, name)
        if not (math.isfinite(value) and value >= 0):
            raise StyleError(f"timbre.{name} = {value!r} must be a finite number >= 0")
    if not 0 <= timbre.sustain <= 1:
        raise StyleError(f"timbre.sustain = {timbre.sustain!r} must be between 0 and 1")
    if not 0 < timbre.level <= 1:
        raise StyleError(f"timbre.level = {timbre.level!r} must be in (0, 1]")


def _onset_curve(attack: int, decay_rate: np.float32, sustain: np.float32) -> np.ndarray:
    """Attack (linear from 0) then exponential decay, until it is within 2**-20 of sustain."""
    settled = attack + int(math.ceil(DECAY_SETTLED / float(decay_rate)))
    t = np.arange(settled, dtype=np.float32)
    curve = sustain + (np.float32(1.0) - sustain) * np.exp(-decay_rate * (t - np.float32(attack)))
    curve[:attack] = t[:attack] / np.float32(attack)
    return curve.astype(np.float32)


def _peak(timbre: Timbre) -> float:
    """The largest value a note's waveform can reach at full envelope (harmonic estimate)."""
    theta = np.linspace(0.0, 2.0 * math.pi, 4096, endpoint=False)
    wave = sum(a * np.sin(k * theta) for k, a in enumerate(timbre.partials, start=1))
    chorus = timbre.partials[0] * CHORUS_MIX if timbre.detune_cents > 0 else 0.0
    return float(np.max(np.abs(wave))) + chorus


def _check_bpm(bpm: float) -> float:
    bpm = float(bpm)
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise ValueError(f"tempo {bpm!r} bpm is outside {MIN_BPM:g}..{MAX_BPM:g}")
    return bpm


def _parse_beat(index: int, beat) -> dict[int, str]:
    """One beat's events as {pitch: tie}; raise :class:`NotesError` naming a bad event."""
    ties: dict[int, str] = {}
    for event in beat:
        try:
            pitch, tie = event
        except (TypeError, ValueError):
            raise NotesError(f"beat {index} of the chunk: {event!r} is not a (pitch, tie) pair") from None
        if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not 0 <= pitch <= 127:
            raise NotesError(f"beat {index} of the chunk: pitch {pitch!r} is not an int in 0..127")
        if tie not in (STRUCK, HELD):
            raise NotesError(f"beat {index} of the chunk: tie {tie!r} must be 'b' or 's'")
        ties[int(pitch)] = tie
    return ties


@dataclass(frozen=True)
class _Tone:
    table: np.ndarray | None  # (TABLE_SIZE, 2) float32 value/slope pairs of the harmonic partials
    table_inc: np.uint32  # the fundamental's phase step per sample (2**32 = one cycle)
    inc: np.ndarray  # (k, 1) uint32 phase steps of the partials played by direct oscillators
    amps: np.ndarray  # (k, 1) float32 their amplitudes


@dataclass
class _Voice:
    pitch: int
    on: int  # absolute sample of the note-on
    gain: float
    off: int | None = None  # absolute sample of the note-off, once known
    off_level: float = 0.0  # the envelope's value at the note-off


class Synth:
    """Renders a stream of beats, one chunk after another, as if in one go.

    ``render`` takes whole 16th-note beats; notes struck ('b') start a voice, held ('s')
    notes keep theirs sounding, and a voice is released at the beat where its pitch stops
    or is struck again (the old voice's release overlaps the new attack).
    """

    def __init__(
        self, timbre: Timbre, *, bpm: float, sample_rate: int = 44100, master: MasterSettings | None = None
    ):
        check_timbre(timbre)
        if not (isinstance(sample_rate, int) and 8000 <= sample_rate <= 192000):
            raise ValueError(f"sample_rate {sample_rate!r} must be an int in 8000..192000 Hz")
        self.timbre = timbre
        self.sample_rate = sample_rate
        self._bpm = _check_bpm(bpm)
        self._pending_bpm: float | None = None
        self._origin = 0  # sample where the current tempo began
        self._origin_beat = 0  # beat index at that sample
        self._beat = 0  # beats rendered so far
        self._pos = 0  # samples rendered so far
        self._voices: list[_Voice] = []
        self._sounding: dict[int, _Voice] = {}  # pitch -> voice not yet released
        self._attack = max(1, round(timbre.attack * sample_rate))
        self._decay_rate = np.float32(DECAY_TIME_CONSTANTS / max(1.0, timbre.decay * sample_rate))
        self._release = max(1, round(timbre.release * sample_rate))
        self._sustain = np.float32(timbre.sustain)
        self._onset = _onset_curve(self._attack, self._decay_rate, self._sustain)
        # (1 - x)^2 falls to exactly zero with zero slope: no click at the end of the tail.
        self._fade = np.square(1.0 - np.arange(self._release, dtype=np.float32) / np.float32(self._release))
        self._env = np.empty(BLOCK, dtype=np.float32)
        self._norm = 1.0 / _peak(timbre)
        self._tones: dict[int, _Tone] = {}
        oscillators = len(timbre.partials) + 1  # at most: every partial plus the chorus copy
        self._u32 = np.empty(oscillators * BLOCK, dtype=np.uint32)
        self._f32 = np.empty(oscillators * BLOCK, dtype=np.float32)
        self._index = np.empty(BLOCK, dtype=np.intp)
        self._ramp = np.arange(BLOCK, dtype=np.uint32)
        # Without a master stage the voices go through the plain soft limiter (knee 0.7).
        self.master = Master(master, sample_rate=sample_rate) if master is not None else None

    @property
    def bpm(self) -> float:
        """The tempo of the next beat to be rendered."""
        return self._pending_bpm if self._pending_bpm is not None else self._bpm

    def set_tempo(self, bpm: float) -> None:
        """Change the tempo from the next beat rendered on; beats already rendered keep theirs."""
        self._pending_bpm = _check_bpm(bpm)

    def samples_rendered(self) -> int:
        """Samples produced so far: the stream position of the next sample."""
        return self._pos

    def beats_rendered(self) -> int:
        return self._beat

    def active_voices(self) -> int:
        """Voices still sounding, release tails included."""
        return len(self._voices)

    def samples_per_beat(self) -> float:
        """Exact (fractional) length of a 16th at the tempo of the next beat."""
        return self.sample_rate * 60.0 / (self.bpm * BEATS_PER_QUARTER)

    def render(self, beats: ListOfNotes) -> np.ndarray:
        """Render the next beats; float32 mono in [-1, 1]. An empty beat is a rest."""
        parsed = [_parse_beat(i, beat) for i, beat in enumerate(beats)]  # all checked before any state changes
        if self._pending_bpm is not None:
            self._origin, self._origin_beat = self._pos, self._beat
            self._bpm, self._pending_bpm = self._pending_bpm, None
        spb = self.sample_rate * 60.0 / (self._bpm * BEATS_PER_QUARTER)
        start = self._pos
        for ties in parsed:
            at = self._origin + round((self._beat - self._origin_beat) * spb)
            self._apply_beat(ties, at)
            self._beat += 1
        end = self._origin + round((self._beat - self._origin_beat) * spb)
        out = np.zeros(end - start, dtype=np.float32)
        for a in range(start, end, BLOCK):
            b = min(a + BLOCK, end)
            seg = out[a - start : b - start]
            for voice in self._voices:
                self._add_voice(voice, a, b, seg)
        self._voices = [v for v in self._voices if v.off is None or v.off + self._release > end]
        self._pos = end
        return self.master.process(out) if self.master is not None else soft_limit(out)

    def _apply_beat(self, ties: dict[int, str], at: int) -> None:
        for pitch in [p for p, v in self._sounding.items() if ties.get(p) != HELD]:
            self._release_voice(self._sounding.pop(pitch), at)
        accent = float(ACCENTS[self._beat % len(ACCENTS)])
        gain = self.timbre.level * VOICE_GAIN * self._norm * accent
        for pitch in sorted(ties):
            # A held pitch that was not sounding (a chunk cut from a longer stream) is struck.
            if pitch not in self._sounding:
                voice = _Voice(pitch, at, gain)
                self._voices.append(voice)
                self._sounding[pitch] = voice

    def _release_voice(self, voice: _Voice, at: int) -> None:
        t = at - voice.on
        voice.off = at
        voice.off_level = self._onset[t] if t < len(self._onset) else self._sustain

    def _envelope(self, voice: _Voice, t0: int, n: int) -> np.ndarray | np.float32:
        """The voice's gain times its envelope for samples t0 .. t0+n since its note-on.

        Read from the precomputed attack/decay and release curves: a slice, not a formula,
        so the cost per sample is one multiply and every chunking reads the same values.
        """
        gain = np.float32(voice.gain)
        t_off = None if voice.off is None else voice.off - voice.on
        onset = self._onset
        if t0 >= len(onset) and (t_off is None or t0 + n <= t_off):
            return self._sustain * gain  # the long, steady middle of a note
        env = self._env[:n]
        held = n if t_off is None else max(0, min(n, t_off - t0))
        if held:
            from_curve = max(0, min(held, len(onset) - t0))
            np.multiply(onset[t0 : t0 + from_curve], gain, out=env[:from_curve])
            env[from_curve:held] = self._sustain * gain
        if held < n:
            r0 = t0 + held - t_off
            np.multiply(self._fade[r0 : r0 + n - held], np.float32(voice.off_level) * gain, out=env[held:])
        return env

    def _tone(self, pitch: int) -> _Tone:
        """The pitch's partials below Nyquist, as a wavetable and/or direct oscillators."""
        tone = self._tones.get(pitch)
        if tone is not None:
            return tone
        f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        timbre = self.timbre
        partials = []  # (harmonic number, frequency, amplitude)
        for k, amp in enumerate(timbre.partials, start=1):
            f = k * f0 * math.sqrt(1.0 + timbre.inharmonicity * k * k)
            if amp > 0 and f < self.sample_rate / 2:
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
        if timbre.detune_cents > 0 and timbre.partials[0] > 0:
            direct.append((f0 * 2.0 ** (timbre.detune_cents / 1200.0), timbre.partials[0] * CHORUS_MIX))
        tone = _Tone(
            table=table,
            table_inc=np.uint32(self._phase_step(f0)),
            inc=np.array([self._phase_step(f) for f, _ in direct], dtype=np.uint32)[:, None],
            amps=np.array([amp for _, amp in direct], dtype=np.float32)[:, None],
        )
        self._tones[pitch] = tone
        return tone

    def _phase_step(self, freq: float) -> int:
        """Phase advance per sample, with 2**32 as one cycle (about 1e-5 Hz resolution)."""
        return round(freq / self.sample_rate * 2**32) % 2**32

    def _add_voice(self, voice: _Voice, a: int, b: int, out: np.ndarray) -> None:
        """Add the voice's samples for the absolute range [a, b) into ``out``."""
        lo = max(a, voice.on)
        hi = b if voice.off is None else min(b, voice.off + self._release)
        if lo >= hi:
            return
        n = hi - lo
        # Samples since note-on, wrapping like the uint32 phases (exact mod 2**32).
        tu = self._ramp[:n] + np.uint32((lo - voice.on) % 2**32)
        tone = self._tone(voice.pitch)
        osc = None
        if tone.table is not None:
            phase = np.multiply(tu, tone.table_inc, out=self._u32[:n])
            index = np.right_shift(phase, 32 - TABLE_BITS, out=self._index[:n], casting="unsafe")
            np.bitwise_and(phase, np.uint32(2 ** (32 - TABLE_BITS) - 1), out=phase)
            frac = np.multiply(
                phase, np.float32(2.0 ** (TABLE_BITS - 32)), out=self._f32[:n], dtype=np.float32, casting="unsafe"
            )
            pairs = np.take(tone.table, index, axis=0)
            osc = pairs[:, 1] * frac
            osc += pairs[:, 0]
        k = len(tone.amps)
        if k:
            phase = self._u32[: k * n].reshape(k, n)
            np.multiply(tone.inc, tu, out=phase)
            wave = self._f32[: k * n].reshape(k, n)
            np.multiply(phase.view(np.int32), _PHASE_TO_RADIANS, out=wave, dtype=np.float32, casting="unsafe")
            np.sin(wave, out=wave)
            wave *= tone.amps
            if osc is None:
                osc = wave.sum(axis=0)
            else:
                for row in wave:
                    osc += row
        if osc is None:
            return
        osc *= self._envelope(voice, lo - voice.on, n)
        out[lo - a : hi - a] += osc


def render_notes(
    notes: ListOfNotes,
    timbre: Timbre,
    bpm: float,
    sample_rate: int = 44100,
    tail_seconds: float = 1.0,
    master: MasterSettings | None = None,
) -> np.ndarray:
    """Render a whole piece in one go, followed by the release of its last notes.

    The tail is at least the timbre's release, so the last notes never end in a click.
    With ``master`` (a style's loudness settings) it sounds as loud as the channel would.
    """
    synth = Synth(timbre, bpm=bpm, sample_rate=sample_rate, master=master)
    body = synth.render(notes)
    tail = max(0, round(max(float(tail_seconds), timbre.release) * sample_rate))
    rest_beats = math.ceil(tail / synth.samples_per_beat()) + 1
    return np.concatenate([body, synth.render([[] for _ in range(rest_beats)])[:tail]])

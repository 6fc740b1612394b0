"""The additive oscillator synth: a ``list_of_notes`` stream in, float32 samples out.

A style's :class:`radio.styles.Sound` is an instrument of one or more voices (a string
quartet's four, a harpsichord's one), how loud each note is played, and a room. The
synth deals a chord's notes to the voices from the top down, places each voice on a
stereo stage (constant-power pan), sums them, sends the sum to the room's reverb
(:mod:`radio.audio.room`) and hands dry plus wet to the master stage. ``channels=1``
renders the same music folded to mono (``continuo serve --mono``). A bare ``Timbre``
plays as a one-voice instrument in mono with no room, as the synth did before it had
instruments.

Additive synthesis: each note is a sum of sine partials (the voice's ``Timbre``), those
at or above Nyquist dropped and the upper ones gently rolled off. Where every partial
follows one envelope (a steady organ pipe, a recorder, or any note once its partials
have settled) the sum is periodic, so it is computed once per pitch into a single-cycle
table and read with linear interpolation: about 2 ns per sample whatever the number of
partials. Where the partials move on their own (a plucked string darkening, a bowed note
brightening, in the first second or so of a note) each partial has its own envelope and
its own sine, the harmonics by the Chebyshev recurrence from one sine and one cosine of
the fundamental (about 2.5 ns per partial); partials that have died away are skipped from
a sample fixed per pitch, and a plucked note ends when its fundamental is 80 dB down.

Dynamics are derived from the notes (:class:`radio.styles.Dynamics`): the metric
position (the bar's phase is inferred from where the onsets fall, so a piece that starts
off the stream's bar grid still leans on its own downbeats), the voice (melody and bass
over inner voices) and a phrase swell that also follows the melody's height.

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
- vibrato is a phase modulation read at ``t`` too, and a note's level, voice and pan are
  decided at its beat from state that advances beat by beat, never sample by sample;
- voices are summed in the order they were struck; the reverb's feedback loops are
  processed a block at a time, each block shorter than its shortest delay line, with
  element-wise arithmetic only, so any cut gives the same samples;
- a channel's synth ends in a :class:`radio.audio.master.Master` (style gain, a slow
  loudness follower, then a look-ahead limiter), whose state advances on blocks aligned
  to absolute sample 0: the same invariance, kept block by block. Without a master the
  voices go through a plain soft clipper (tests and benchmarks only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.audio.master import Master, MasterSettings
from radio.audio.room import Reverb
from radio.errors import NotesError, StyleError
from radio.music.notes import BEATS_PER_QUARTER, HELD, STRUCK, ListOfNotes
from radio.styles import Dynamics, Sound, Timbre

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
# An evolving note joins the steady path once every partial's decaying part is below this
# fraction of its level (-66 dB): the envelope step left at the switch is inaudible.
EVOLVING_SETTLED = 5e-4
# Harmonic timbres play from a single-cycle table of 2**TABLE_BITS entries with linear
# interpolation (error below -80 dB for the first ten partials).
TABLE_BITS = 11
TABLE_SIZE = 2**TABLE_BITS
# Work is done in blocks of at most this many samples to keep temporaries in cache.
BLOCK = 16384
# A bare Timbre's accent: the downbeat 1.94 dB over an unaccented 16th (1.0 against 0.8).
PLAIN_ACCENT_DB = 1.94
# Metric weight of a position in the bar: the downbeat, the half bar, quarters, eighths.
METRIC_WEIGHTS = (1.0, 0.6, 0.35, 0.15)
# The bar's phase is re-inferred from onsets counted with this decay per beat (a memory of
# about a dozen bars), once this much evidence is in, and a new phase must beat the old by 10%.
METRE_MEMORY = 0.995
METRE_EVIDENCE = 24.0
# The phrase swell follows the melody's height over its mean of about the last 3 bars.
MELODY_MEMORY = 1.0 / 48.0
# A partial (or a plucked note) whose envelope has fallen this far is dropped (-80 dB).
SILENT = 1e-4
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
    for name in ("attack", "decay", "release", "inharmonicity", "detune_cents", "partial_decay", "pitch_decay",
                 "vibrato_hz", "vibrato_cents", "vibrato_delay"):
        value = getattr(timbre, name)
        if not (math.isfinite(value) and value >= 0):
            raise StyleError(f"timbre.{name} = {value!r} must be a finite number >= 0")
    if not 0 <= timbre.sustain <= 1:
        raise StyleError(f"timbre.sustain = {timbre.sustain!r} must be between 0 and 1")
    if not 0 < timbre.level <= 1:
        raise StyleError(f"timbre.level = {timbre.level!r} must be in (0, 1]")
    if not (math.isfinite(timbre.swell) and -0.9 <= timbre.swell <= 10):
        raise StyleError(f"timbre.swell = {timbre.swell!r} must be between -0.9 and 10")
    if not -1 <= timbre.pan <= 1:
        raise StyleError(f"timbre.pan = {timbre.pan!r} must be between -1 (left) and 1 (right)")
    if timbre.vibrato_hz > 20 or timbre.vibrato_cents > 100:
        raise StyleError("timbre.vibrato_hz must be at most 20 and timbre.vibrato_cents at most 100")


def check_sound(sound: Sound) -> None:
    """Raise :class:`StyleError` naming the first voice field the synth cannot use."""
    if not sound.voices:
        raise StyleError("the instrument has no voices")
    for i, timbre in enumerate(sound.voices):
        try:
            check_timbre(timbre)
        except StyleError as exc:
            raise StyleError(f"voice {i + 1}: {exc}" if len(sound.voices) > 1 else str(exc)) from None


def metric_weight(position: int, beats_per_bar: int) -> float:
    """How strong a 16th at ``position`` in the bar is: 1 on the downbeat, 0 on a plain 16th."""
    position %= beats_per_bar
    if position == 0:
        return METRIC_WEIGHTS[0]
    if beats_per_bar % 2 == 0 and position == beats_per_bar // 2:
        return METRIC_WEIGHTS[1]
    if position % 4 == 0:
        return METRIC_WEIGHTS[2]
    if position % 2 == 0:
        return METRIC_WEIGHTS[3]
    return 0.0


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


@dataclass
class _Voice:
    pitch: int
    on: int  # absolute sample of the note-on
    gain: float
    part: int = 0  # which of the instrument's voices plays it
    pan: tuple[float, ...] = (1.0,)  # gain into each output channel
    off: int | None = None  # absolute sample of the note-off, once known
    off_level: float = 0.0  # the common envelope's value at the note-off (steady timbres)


class _Part:
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
            np.zeros(0, np.float32) if timbre.evolving else _onset_curve(self.attack, self.decay_rate, self.sustain)
        )
        # (1 - x)^2 falls to exactly zero with zero slope: no click at the end of the tail.
        self.fade = np.square(1.0 - np.arange(self.release, dtype=np.float32) / np.float32(self.release))
        self.norm = 1.0 / _peak(timbre)


class Synth:
    """Renders a stream of beats, one chunk after another, as if in one go.

    ``render`` takes whole 16th-note beats; notes struck ('b') start a voice, held ('s')
    notes keep theirs sounding, and a voice is released at the beat where its pitch stops
    or is struck again (the old voice's release overlaps the new attack).
    """

    def __init__(
        self,
        sound: Sound | Timbre,
        *,
        bpm: float,
        sample_rate: int = 44100,
        master: MasterSettings | None = None,
        channels: int | None = None,
    ):
        if isinstance(sound, Timbre):
            check_timbre(sound)
            sound = Sound((sound,), Dynamics(accent_db=PLAIN_ACCENT_DB))
            channels = channels or 1
        check_sound(sound)
        channels = channels or 2
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 (mono) or 2 (stereo), not {channels!r}")
        if not (isinstance(sample_rate, int) and 8000 <= sample_rate <= 192000):
            raise ValueError(f"sample_rate {sample_rate!r} must be an int in 8000..192000 Hz")
        self.sound = sound
        self.timbre = sound.voices[0]
        self.channels = channels
        self.sample_rate = sample_rate
        self._bpm = _check_bpm(bpm)
        self._pending_bpm: float | None = None
        self._origin = 0  # sample where the current tempo began
        self._origin_beat = 0  # beat index at that sample
        self._beat = 0  # beats rendered so far
        self._pos = 0  # samples rendered so far
        self._voices: list[_Voice] = []
        self._sounding: dict[int, _Voice] = {}  # pitch -> voice not yet released
        self._parts = [_Part(t, sample_rate) for t in sound.voices]
        self._release = max(p.release for p in self._parts)
        self._pans = [self._pan_gains(t.pan) for t in sound.voices]
        self._env = np.empty(BLOCK, dtype=np.float32)
        self._tones: dict[tuple[int, int], _Tone] = {}
        oscillators = max(len(t.partials) for t in sound.voices) + 1  # every partial plus the chorus copy
        self._u32 = np.empty(oscillators * BLOCK, dtype=np.uint32)
        self._f32 = np.empty(oscillators * BLOCK, dtype=np.float32)
        self._index = np.empty(BLOCK, dtype=np.intp)
        self._ramp = np.arange(BLOCK, dtype=np.uint32)
        self._framp = np.arange(BLOCK, dtype=np.float32)
        # Dynamics state, advanced beat by beat.
        dyn = sound.dynamics
        self._bar = dyn.beats_per_bar
        self._weights = np.array([metric_weight(p, self._bar) for p in range(self._bar)])
        self._turns = (np.arange(self._bar)[:, None] + np.arange(self._bar)[None, :]) % self._bar
        self._onsets = np.zeros(self._bar)
        self._phase = 0  # stream beat of the bar's downbeat, modulo the bar
        self._melody_mean: float | None = None
        self.reverb = Reverb(sound.room, sample_rate) if sound.room.active else None
        # Without a master stage the voices go through the plain soft limiter (knee 0.7).
        self.master = Master(master, sample_rate=sample_rate) if master is not None else None

    def _pan_gains(self, pan: float) -> tuple[float, ...]:
        angle = (pan + 1.0) * math.pi / 4.0  # constant power: the centre is -3 dB in each channel
        left, right = math.cos(angle), math.sin(angle)
        return (left, right) if self.channels == 2 else ((left + right) / math.sqrt(2.0),)

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
        """Render the next beats: float32 in [-1, 1], shape (n,) for mono or (n, 2) for
        stereo. An empty beat is a rest."""
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
        out = np.zeros((self.channels, end - start), dtype=np.float32)
        for a in range(start, end, BLOCK):
            b = min(a + BLOCK, end)
            seg = out[:, a - start : b - start]
            for voice in self._voices:
                self._add_voice(voice, a, b, seg)
        self._voices = [v for v in self._voices if not self._finished(v, end)]
        self._pos = end
        if self.reverb is not None:
            send = out[0] if self.channels == 1 else out[0] + out[1]
            wet = self.reverb.process(send)
            if self.channels == 2:
                out += wet
            else:
                out[0] += (wet[0] + wet[1]) * np.float32(math.sqrt(0.5))
        if self.master is not None:
            pcm = self.master.process(out[0] if self.channels == 1 else out.T)
        else:
            pcm = soft_limit(out[0] if self.channels == 1 else np.ascontiguousarray(out.T))
        return pcm

    def _finished(self, voice: _Voice, end: int) -> bool:
        if voice.off is not None and voice.off + self._parts[voice.part].release <= end:
            return True
        stop = self._tone(voice.part, voice.pitch).end
        return stop is not None and voice.on + stop <= end

    def _apply_beat(self, ties: dict[int, str], at: int) -> None:
        for pitch in [p for p, v in self._sounding.items() if ties.get(p) != HELD]:
            self._release_voice(self._sounding.pop(pitch), at)
        # A held pitch that was not sounding (a chunk cut from a longer stream) is struck.
        struck = [p for p in ties if p not in self._sounding]
        self._follow_metre(len(struck))
        if not ties:
            return
        dyn = self.sound.dynamics
        order = sorted(ties, reverse=True)  # top voice first
        top = order[0]
        self._melody_mean = top if self._melody_mean is None else self._melody_mean + (top - self._melody_mean) * MELODY_MEMORY
        position = (self._beat - self._phase) % self._bar
        common_db = dyn.accent_db * float(self._weights[position]) + self._phrase_db(top)
        parts = len(self._parts)
        for pitch in sorted(struck):
            rank, count = order.index(pitch), len(order)
            part = 0 if count == 1 else round(rank * (parts - 1) / (count - 1))
            role_db = dyn.melody_db if rank == 0 else dyn.bass_db if rank == count - 1 else 0.0
            timbre = self._parts[part]
            gain = timbre.timbre.level * VOICE_GAIN * timbre.norm * 10.0 ** ((common_db + role_db) / 20.0)
            voice = _Voice(pitch, at, gain, part, self._pans[part])
            self._voices.append(voice)
            self._sounding[pitch] = voice

    def _follow_metre(self, struck: int) -> None:
        """Count onsets by position in the bar and move the bar's phase to where they lean."""
        self._onsets *= METRE_MEMORY
        self._onsets[self._beat % self._bar] += struck
        if struck and self._onsets.sum() >= METRE_EVIDENCE:
            fit = self._onsets[self._turns] @ self._weights  # fit[s]: the downbeat on stream beats = s (mod bar)
            best = int(np.argmax(fit))
            if fit[best] > 1.1 * fit[self._phase % self._bar]:
                self._phase = best

    def _phrase_db(self, top: int) -> float:
        """The phrase's swell: an arch over ``phrase_bars`` bars, lifted where the melody is high."""
        dyn = self.sound.dynamics
        if dyn.phrase_db == 0:
            return 0.0
        length = dyn.phrase_bars * self._bar
        x = ((self._beat - self._phase) % length) / length
        arch = math.sin(math.pi * x) - 0.5
        height = max(-1.0, min(1.0, (top - (self._melody_mean or top)) / 12.0))
        return dyn.phrase_db * max(-0.5, min(0.5, 0.6 * arch + 0.4 * height))

    def _release_voice(self, voice: _Voice, at: int) -> None:
        t = at - voice.on
        voice.off = at
        onset = self._parts[voice.part].onset
        voice.off_level = onset[t] if t < len(onset) else self._parts[voice.part].sustain

    def _envelope(self, voice: _Voice, t0: int, n: int) -> np.ndarray | np.float32:
        """The voice's gain times its common envelope for samples t0 .. t0+n since its note-on.

        Read from the precomputed attack/decay and release curves: a slice, not a formula,
        so the cost per sample is one multiply and every chunking reads the same values.
        """
        part = self._parts[voice.part]
        gain = np.float32(voice.gain)
        t_off = None if voice.off is None else voice.off - voice.on
        onset = part.onset
        if t0 >= len(onset) and (t_off is None or t0 + n <= t_off):
            return part.sustain * gain  # the long, steady middle of a note
        env = self._env[:n]
        held = n if t_off is None else max(0, min(n, t_off - t0))
        if held:
            from_curve = max(0, min(held, len(onset) - t0))
            np.multiply(onset[t0 : t0 + from_curve], gain, out=env[:from_curve])
            env[from_curve:held] = part.sustain * gain
        if held < n:
            r0 = t0 + held - t_off
            np.multiply(part.fade[r0 : r0 + n - held], np.float32(voice.off_level) * gain, out=env[held:])
        return env

    def _tone(self, index: int, pitch: int) -> _Tone:
        """The voice's partials below Nyquist at ``pitch``: a wavetable and/or direct
        oscillators for the steady part, one oscillator per partial for the evolving start."""
        tone = self._tones.get((index, pitch))
        if tone is not None:
            return tone
        f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        timbre = self._parts[index].timbre
        sr = self.sample_rate
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
        tone = _Tone(
            table=table,
            table_inc=np.uint32(self._phase_step(f0)),
            inc=np.array([self._phase_step(f) for f, _ in direct], dtype=np.uint32)[:, None],
            amps=np.array([amp for _, amp in direct], dtype=np.float32)[:, None],
            p_inc=np.array([self._phase_step(f) for _, f, _ in evolving], dtype=np.uint32)[:, None],
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
            vib_inc=np.uint32(self._phase_step(rate_hz)),
            vib_fade=max(1.0, timbre.vibrato_delay * sr),
        )
        self._tones[(index, pitch)] = tone
        return tone

    def _phase_step(self, freq: float) -> int:
        """Phase advance per sample, with 2**32 as one cycle (about 1e-5 Hz resolution)."""
        return round(freq / self.sample_rate * 2**32) % 2**32

    def _vibrato(self, tone: _Tone, tu: np.ndarray, t0: int, n: int) -> np.ndarray | None:
        """The fundamental's phase deviation (radians) at samples t0 .. t0+n since the note-on."""
        if tone.vib_index == 0:
            return None
        lfo = np.multiply(tu, tone.vib_inc).view(np.int32).astype(np.float32) * _PHASE_TO_RADIANS
        np.sin(lfo, out=lfo)
        depth = (self._framp[:n] + np.float32(t0)) * np.float32(1.0 / tone.vib_fade)
        np.minimum(depth, np.float32(1.0), out=depth)
        depth *= depth  # fades in smoothly
        lfo *= depth
        lfo *= np.float32(tone.vib_index)
        return lfo

    def _add_voice(self, voice: _Voice, a: int, b: int, out: np.ndarray) -> None:
        """Add the voice's samples for the absolute range [a, b) into ``out`` (channels, b - a)."""
        lo = max(a, voice.on)
        hi = b if voice.off is None else min(b, voice.off + self._parts[voice.part].release)
        tone = self._tone(voice.part, voice.pitch)
        if tone.end is not None:
            hi = min(hi, voice.on + tone.end)
        if lo >= hi:
            return
        split = min(hi, max(lo, voice.on + tone.settle))
        if split > lo:
            self._add_evolving(voice, tone, lo, split, a, out)
        if hi > split and tone.end is None:
            self._add_steady(voice, tone, split, hi, a, out)

    def _mix(self, voice: _Voice, signal: np.ndarray, lo: int, hi: int, a: int, out: np.ndarray) -> None:
        for channel, gain in enumerate(voice.pan):
            dest = out[channel, lo - a : hi - a]
            if np.float32(gain) == 1:
                dest += signal
            else:
                dest += signal * np.float32(gain)

    def _add_evolving(self, voice: _Voice, tone: _Tone, lo: int, hi: int, a: int, out: np.ndarray) -> None:
        """The start of a note whose partials move on their own: one oscillator each."""
        n, t0 = hi - lo, lo - voice.on
        part = self._parts[voice.part]
        # Partials already 80 dB down (the upper ones of a plucked note) are skipped, each
        # from a sample fixed by the tone, so a chunk's cut never decides it.
        alive = np.flatnonzero(tone.p_until > t0)
        if not len(alive):
            return
        tu = self._ramp[:n] + np.uint32(t0 % 2**32)
        k = len(alive)
        vib = self._vibrato(tone, tu, t0, n)
        wave = self._f32[: k * n].reshape(k, n)
        if tone.p_harmonic is not None:
            self._harmonics(tone, alive, tu, vib, wave)
        else:
            phase = self._u32[: k * n].reshape(k, n)
            np.multiply(tone.p_inc[alive], tu, out=phase)
            np.multiply(phase.view(np.int32), _PHASE_TO_RADIANS, out=wave, dtype=np.float32, casting="unsafe")
            if vib is not None:
                wave += tone.p_ratio[alive] * vib
            np.sin(wave, out=wave)
        t = self._framp[:n] + np.float32(t0)
        # amp (s + (1 - s) exp(-rate t)), its exponential term as one exp:
        # exp(ln((1 - s) amp) - rate t).
        env = t * -tone.p_rate[alive]  # (k, n)
        env += tone.p_log_amp[alive]
        np.exp(env, out=env)
        if part.sustain > 0:
            env += tone.p_amp[alive][:, None] * part.sustain
        if t0 < tone.p_attack_end:  # only the first milliseconds pay for the attack ramps
            env *= np.minimum(t * tone.p_inv_attack[alive], np.float32(1.0))
        for row, idx in enumerate(alive):
            until = tone.p_until[idx] - t0
            if until < n:
                env[row, until:] = 0.0
        signal = np.einsum("kn,kn->n", wave, env)  # the partials summed, each at its envelope, in one pass
        signal *= np.float32(voice.gain)
        if voice.off is not None and hi > voice.off:
            r0 = max(0, lo - voice.off)
            start = max(lo, voice.off) - lo
            signal[start:] *= part.fade[r0 : r0 + n - start]
        self._mix(voice, signal, lo, hi, a, out)

    def _harmonics(self, tone: _Tone, alive: np.ndarray, tu: np.ndarray, vib: np.ndarray | None, wave: np.ndarray) -> None:
        """sin(h theta) for each alive harmonic h into ``wave``'s rows, by the Chebyshev
        recurrence sin((h+1) t) = 2 cos t sin(h t) - sin((h-1) t): two multiply-adds per
        partial instead of a phase, a conversion and a sine each. The vibrato rides on theta,
        so every harmonic follows it in proportion. The chorus copy (h = 0) is its own sine."""
        n = len(tu)
        theta = np.multiply(tu, tone.table_inc).view(np.int32).astype(np.float32) * _PHASE_TO_RADIANS
        if vib is not None:
            theta += vib
        c2 = np.cos(theta)
        c2 *= np.float32(2.0)
        prev: np.ndarray | None = None  # sin((h - 1) theta); None for h = 1 (sin 0 = 0)
        cur = np.sin(theta)
        h = 1
        for row, idx in enumerate(alive):
            want = int(tone.p_harmonic[idx])
            if want == 0:
                phase = np.multiply(tu, tone.p_inc[idx, 0]).view(np.int32).astype(np.float32) * _PHASE_TO_RADIANS
                if vib is not None:
                    phase += tone.p_ratio[idx, 0] * vib
                np.sin(phase, out=wave[row])
                continue
            while h < want:
                # The next harmonic goes straight into its row when it is the one wanted.
                nxt = wave[row] if h + 1 == want else np.empty(n, dtype=np.float32)
                np.multiply(c2, cur, out=nxt)
                if prev is not None:
                    nxt -= prev
                prev, cur, h = cur, nxt, h + 1
            if cur is not wave[row] and not np.shares_memory(cur, wave[row]):
                wave[row] = cur

    def _add_steady(self, voice: _Voice, tone: _Tone, lo: int, hi: int, a: int, out: np.ndarray) -> None:
        """A note whose partials share one envelope: the wavetable and direct oscillators."""
        n = hi - lo
        # Samples since note-on, wrapping like the uint32 phases (exact mod 2**32).
        tu = self._ramp[:n] + np.uint32((lo - voice.on) % 2**32)
        vib = self._vibrato(tone, tu, lo - voice.on, n)
        osc = None
        if tone.table is not None:
            phase = np.multiply(tu, tone.table_inc, out=self._u32[:n])
            if vib is not None:
                offset = (vib * np.float32(2**32 / (2 * math.pi))).astype(np.int64).astype(np.uint32)
                phase += offset
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
            if vib is not None:
                wave += (tone.inc.astype(np.float32) / np.float32(max(1, int(tone.table_inc)))) * vib
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
        self._mix(voice, osc, lo, hi, a, out)


def render_notes(
    notes: ListOfNotes,
    timbre: Timbre | Sound,
    bpm: float,
    sample_rate: int = 44100,
    tail_seconds: float = 1.0,
    master: MasterSettings | None = None,
    channels: int | None = None,
) -> np.ndarray:
    """Render a whole piece in one go, followed by the release of its last notes.

    The tail is at least the longest release (and the room's ring-out, when there is a
    room), so the last notes never end in a click. With ``master`` (a style's loudness
    settings) it sounds as loud as the channel would.
    """
    synth = Synth(timbre, bpm=bpm, sample_rate=sample_rate, master=master, channels=channels)
    body = synth.render(notes)
    ring = synth.sound.room.rt60 if synth.reverb is not None else 0.0
    longest = max(t.release for t in synth.sound.voices)
    tail = max(0, round(max(float(tail_seconds), longest, ring) * sample_rate))
    rest_beats = math.ceil(tail / synth.samples_per_beat()) + 1
    return np.concatenate([body, synth.render([[] for _ in range(rest_beats)])[:tail]])

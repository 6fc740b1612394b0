"""The oscillators: every sounding note's samples, from its tone and its envelope.

Chunk invariance is kept here: oscillator phases are ``t * step`` in wrapping uint32
arithmetic (``t`` = samples since the note began, 2**32 = one cycle), exact at any note
length and with no accumulator; envelopes are read from precomputed curves at ``t`` and
at ``t - note_off``; vibrato is a phase modulation read at ``t`` too. Where every partial
follows one envelope the sum is read from a single-cycle table with linear interpolation
(about 2 ns per sample whatever the number of partials); where the partials move on their
own each has its own envelope and sine, the harmonics by the Chebyshev recurrence from
one sine and one cosine of the fundamental (about 2.5 ns per partial), and partials that
have died away are skipped from a sample fixed per pitch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radio.audio.tones import TABLE_BITS, Part, Tone, build_tone
from radio.styles import Sound

# Work is done in blocks of at most this many samples to keep temporaries in cache.
BLOCK = 16384

_PHASE_TO_RADIANS = np.float32(2.0 * math.pi / 2**32)


@dataclass
class Voice:
    pitch: int
    on: int  # absolute sample of the note-on
    gain: float
    part: int = 0  # which of the instrument's voices plays it
    pan: tuple[float, ...] = (1.0,)  # gain into each output channel
    off: int | None = None  # absolute sample of the note-off, once known
    off_level: float = 0.0  # the common envelope's value at the note-off (steady timbres)



class Players:
    """The instrument's voices at work: each sounding note's samples, added block by block.

    Holds the voices' curves, the tones built so far and the scratch buffers the
    oscillators write into, so a block's work allocates almost nothing.
    """

    def __init__(self, sound: Sound, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.parts = [Part(t, sample_rate) for t in sound.voices]
        self.release_samples = max(p.release for p in self.parts)
        self._tones: dict[tuple[int, int], Tone] = {}
        self._env = np.empty(BLOCK, dtype=np.float32)
        oscillators = max(len(t.partials) for t in sound.voices) + 1  # every partial plus the chorus copy
        self._u32 = np.empty(oscillators * BLOCK, dtype=np.uint32)
        self._f32 = np.empty(oscillators * BLOCK, dtype=np.float32)
        self._index = np.empty(BLOCK, dtype=np.intp)
        self._ramp = np.arange(BLOCK, dtype=np.uint32)
        self._framp = np.arange(BLOCK, dtype=np.float32)

    def tone(self, part: int, pitch: int) -> Tone:
        """Voice ``part``'s tone at ``pitch``, built once and kept."""
        tone = self._tones.get((part, pitch))
        if tone is None:
            tone = self._tones[(part, pitch)] = build_tone(self.parts[part].timbre, pitch, self.sample_rate)
        return tone

    def finished(self, voice: Voice, end: int) -> bool:
        if voice.off is not None and voice.off + self.parts[voice.part].release <= end:
            return True
        stop = self.tone(voice.part, voice.pitch).end
        return stop is not None and voice.on + stop <= end

    def release(self, voice: Voice, at: int) -> None:
        t = at - voice.on
        voice.off = at
        onset = self.parts[voice.part].onset
        voice.off_level = onset[t] if t < len(onset) else self.parts[voice.part].sustain

    def _envelope(self, voice: Voice, t0: int, n: int) -> np.ndarray | np.float32:
        """The voice's gain times its common envelope for samples t0 .. t0+n since its note-on.

        Read from the precomputed attack/decay and release curves: a slice, not a formula,
        so the cost per sample is one multiply and every chunking reads the same values.
        """
        part = self.parts[voice.part]
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

    def _vibrato(self, tone: Tone, tu: np.ndarray, t0: int, n: int) -> np.ndarray | None:
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

    def add(self, voice: Voice, a: int, b: int, out: np.ndarray) -> None:
        """Add the voice's samples for the absolute range [a, b) into ``out`` (channels, b - a)."""
        lo = max(a, voice.on)
        hi = b if voice.off is None else min(b, voice.off + self.parts[voice.part].release)
        tone = self.tone(voice.part, voice.pitch)
        if tone.end is not None:
            hi = min(hi, voice.on + tone.end)
        if lo >= hi:
            return
        split = min(hi, max(lo, voice.on + tone.settle))
        if split > lo:
            self._add_evolving(voice, tone, lo, split, a, out)
        if hi > split and tone.end is None:
            self._add_steady(voice, tone, split, hi, a, out)

    def _mix(self, voice: Voice, signal: np.ndarray, lo: int, hi: int, a: int, out: np.ndarray) -> None:
        for channel, gain in enumerate(voice.pan):
            dest = out[channel, lo - a : hi - a]
            if np.float32(gain) == 1:
                dest += signal
            else:
                dest += signal * np.float32(gain)

    def _add_evolving(self, voice: Voice, tone: Tone, lo: int, hi: int, a: int, out: np.ndarray) -> None:
        """The start of a note whose partials move on their own: one oscillator each."""
        n, t0 = hi - lo, lo - voice.on
        part = self.parts[voice.part]
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

    def _harmonics(self, tone: Tone, alive: np.ndarray, tu: np.ndarray, vib: np.ndarray | None, wave: np.ndarray) -> None:
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

    def _add_steady(self, voice: Voice, tone: Tone, lo: int, hi: int, a: int, out: np.ndarray) -> None:
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


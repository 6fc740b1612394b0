"""The additive synth: chunk invariance, tempo grid, envelopes, limiter, spectrum, errors."""

from __future__ import annotations

import random

import numpy as np
import pytest

from radio.audio.synth import LIMITER_KNEE, Synth, render_notes, soft_limit
from radio.errors import NotesError, StyleError
from radio.music.notes import seconds
from radio.styles import Timbre

SR = 44100


def render_chunked(timbre: Timbre, notes, bpm: float, rng: random.Random, tempo_at: dict[int, float] | None = None):
    """Render in random chunks (1 beat and up), switching tempo at the given beats."""
    tempo_at = tempo_at or {}
    synth = Synth(timbre, bpm=bpm)
    parts, i = [], 0
    while i < len(notes):
        if i in tempo_at:
            synth.set_tempo(tempo_at[i])
        n = rng.choice([1, 1, 2, 3, rng.randint(1, 64)])
        nxt = min([b for b in tempo_at if b > i] + [len(notes), i + n])
        parts.append(synth.render(notes[i:nxt]))
        i = nxt
    return np.concatenate(parts), synth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_chunks_give_the_same_samples_as_one_go(timbre, random_stream, seed):
    notes = random_stream(4, 600, seed) + [[]] * 8
    whole = Synth(timbre, bpm=97).render(notes)
    chunked, synth = render_chunked(timbre, notes, 97, random.Random(seed))
    assert chunked.dtype == np.float32 and whole.dtype == np.float32
    assert len(chunked) == len(whole) == synth.samples_rendered()
    assert np.array_equal(chunked, whole)


def test_tempo_changes_are_chunk_invariant_and_take_effect_at_the_next_beat(timbre, random_stream):
    notes = random_stream(3, 400, seed=7)
    changes = {100: 131.0, 170: 61.5, 300: 88.8}
    # Reference: one render per tempo segment.
    ref = Synth(timbre, bpm=73)
    bounds = [0, *sorted(changes), len(notes)]
    parts = []
    for lo, hi in zip(bounds, bounds[1:]):
        if lo in changes:
            ref.set_tempo(changes[lo])
        parts.append(ref.render(notes[lo:hi]))
    whole = np.concatenate(parts)
    chunked, _ = render_chunked(timbre, notes, 73, random.Random(3), changes)
    assert np.array_equal(chunked, whole)
    # Each segment's length is exact: beats from the tempo's origin, never accumulated rounding.
    assert [len(p) for p in parts] == [round(seconds(hi - lo, bpm) * SR) for (lo, hi), bpm in
                                       zip(zip(bounds, bounds[1:]), [73, 131.0, 61.5, 88.8])]


def test_beat_grid_does_not_drift_with_fractional_beat_lengths():
    synth = Synth(Timbre(), bpm=97)  # 6819.587... samples per 16th
    lengths = [len(synth.render([[]])) for _ in range(1000)]
    assert set(lengths) == {6819, 6820}
    assert synth.samples_rendered() == round(1000 * SR * 60 / (97 * 4))
    assert synth.beats_rendered() == 1000


def test_a_sustained_note_crosses_many_chunks_unchanged(timbre):
    notes = [[(57, "b")]] + [[(57, "s")]] * 2000 + [[]] * 10  # about 80 s of one note
    whole = Synth(timbre, bpm=100).render(notes)
    synth = Synth(timbre, bpm=100)
    chunked = np.concatenate([synth.render(notes[i : i + 7]) for i in range(0, len(notes), 7)])
    assert np.array_equal(chunked, whole)
    # The pitch is still in tune at the end of the long note (phase kept exactly).
    tail = whole[-(10 * 6615 + 44100) : -(10 * 6615)]
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(len(tail))))
    assert abs(np.argmax(spectrum) * SR / len(tail) - 220.0) < 1.5


def test_release_tail_carries_across_chunks_and_ends_silent(timbre):
    notes = [[(69, "b")], [(69, "s")], [(69, "s")], [(69, "s")]]
    synth = Synth(timbre, bpm=120)  # 5512.5 samples per beat
    body = synth.render(notes)
    assert synth.active_voices() == 1
    rests = int(timbre.release * SR / 5512) + 2
    tail = np.concatenate([synth.render([[]]) for _ in range(rests)])
    release = round(timbre.release * SR)
    assert np.abs(tail[: release // 4]).max() > 0.05  # still sounding after note-off
    assert np.all(tail[release:] == 0) and synth.active_voices() == 0
    one_go = Synth(timbre, bpm=120).render(notes + [[]] * rests)
    assert np.array_equal(np.concatenate([body, tail]), one_go)


def _max_step(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x)).max())


def test_no_click_at_note_on_note_off_or_re_strike(timbre):
    beat = round(SR * 60 / (100 * 4))
    # A low note moves slowly from sample to sample, so a jump (a hard cut or a start
    # mid-waveform measures 1.7x to 9x the steady motion here) stands out.
    notes = [[(45, "b")]] + [[(45, "s")]] * 7 + [[(45, "b")]] + [[(45, "s")]] * 7 + [[]] * 8
    x = Synth(timbre, bpm=100).render(notes)
    assert x[0] == 0.0  # the attack starts from silence at phase 0
    steady = _max_step(x[4 * beat : 8 * beat - 100])  # sample-to-sample motion of the waveform itself
    assert _max_step(x[8 * beat - 200 : 8 * beat + 200]) < 1.3 * steady  # re-strike
    assert _max_step(x[16 * beat - 200 : 16 * beat + 200]) < 1.3 * steady  # note-off
    assert _max_step(x[:200]) < 1.3 * steady  # note-on
    end = 16 * beat + round(timbre.release * SR)
    assert np.abs(x[end - 20 : end]).max() < 1e-3 * np.abs(x).max()  # the tail fades into zero


def test_a_re_struck_pitch_releases_the_old_voice_while_the_new_one_attacks():
    synth = Synth(Timbre(release=0.5), bpm=120)
    synth.render([[(60, "b")], [(60, "s")], [(60, "b")]])
    assert synth.active_voices() == 2  # the old voice's tail overlaps the new attack
    synth.render([[(60, "s")]] * 40)
    assert synth.active_voices() == 1


def test_dense_chords_never_clip_and_the_limiter_engages():
    timbre = Timbre(partials=(1.0, 0.6, 0.4, 0.25), level=1.0, attack=0.002, decay=0.3, sustain=0.9)
    chord = [48, 52, 55, 60, 64, 67, 72, 76, 79, 84]
    notes = []
    for _ in range(8):
        notes += [[(p, "b") for p in chord]] + [[(p, "s") for p in chord]] * 7
    dense = Synth(timbre, bpm=90).render(notes)
    single = Synth(timbre, bpm=90).render([[(60, "b")]] + [[(60, "s")]] * 7)
    assert np.all(np.isfinite(dense))
    assert np.abs(dense).max() <= 1.0
    assert np.abs(dense).max() > LIMITER_KNEE  # above the knee: the limiter did the work
    assert np.abs(dense).max() > 1.5 * np.abs(single).max()  # louder than one note, not squashed to it


def test_soft_limiter_is_linear_below_the_knee_smooth_and_bounded():
    x = np.linspace(-20, 20, 400001, dtype=np.float32)
    y = soft_limit(x.copy())
    small = np.abs(x) <= LIMITER_KNEE
    assert np.array_equal(y[small], x[small])
    assert np.abs(y).max() <= 1.0
    assert np.all(np.diff(y) >= 0)  # monotonic: no fold-over distortion
    slope = np.diff(y) / np.diff(x)
    assert slope.max() <= 1.0 + 1e-3  # continuous slope at the knee (no kink)


def test_partials_above_nyquist_are_dropped():
    timbre = Timbre(partials=(1.0, 0.8, 0.6), level=1.0, attack=0.005, sustain=1.0)
    x = Synth(timbre, bpm=60).render([[(120, "b")]] + [[(120, "s")]] * 7)  # 8372 Hz: only the fundamental and 2nd fit
    x = x[4000:]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    f0 = 440 * 2 ** ((120 - 69) / 12)
    alias = SR - 3 * f0  # where the 3rd partial (25.1 kHz) would fold to
    peak = spectrum.max()
    near = lambda f: spectrum[np.abs(freqs - f) < 30].max()  # noqa: E731
    assert near(f0) == peak
    assert near(2 * f0) > 0.1 * peak
    assert near(alias) < 1e-3 * peak


def test_pitch_is_in_tune():
    x = Synth(Timbre(), bpm=60).render([[(69, "b")]] + [[(69, "s")]] * 15)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    assert abs(np.argmax(spectrum) * SR / len(x) - 440.0) < 0.5


def test_accent_follows_the_metric_position_deterministically():
    timbre = Timbre(detune_cents=0.0)
    on_the_beat = Synth(timbre, bpm=120).render([[(60, "b")], [(60, "s")]])
    synth = Synth(timbre, bpm=120)
    synth.render([[]])
    off_the_beat = synth.render([[(60, "b")], [(60, "s")]])
    ratio = np.abs(off_the_beat).max() / np.abs(on_the_beat).max()
    assert 0.7 < ratio < 0.95
    assert np.array_equal(on_the_beat, Synth(timbre, bpm=120).render([[(60, "b")], [(60, "s")]]))


def test_render_notes_includes_the_release_tail(timbre):
    notes = [[(60, "b"), (64, "b")]] + [[(60, "s"), (64, "s")]] * 3
    body = round(seconds(4, 100) * SR)
    x = render_notes(notes, timbre, 100, tail_seconds=0.5)
    assert len(x) == body + round(0.5 * SR)
    assert np.abs(x[body : body + 100]).max() > 0.01
    assert np.abs(x[-50:]).max() < 1e-4
    short = render_notes(notes, timbre, 100, tail_seconds=0.0)
    assert len(short) == body + round(timbre.release * SR)  # never cut shorter than the release


def test_a_held_note_without_a_predecessor_is_struck():
    x = Synth(Timbre(), bpm=120).render([[(60, "s")], [(60, "s")]])
    assert np.abs(x).max() > 0.05


def test_bad_input_is_refused_with_a_clear_error():
    synth = Synth(Timbre(), bpm=120)
    with pytest.raises(NotesError, match="pitch 200"):
        synth.render([[(200, "b")]])
    with pytest.raises(NotesError, match="tie 'x'"):
        synth.render([[(60, "x")]])
    with pytest.raises(NotesError, match="not a .pitch, tie. pair"):
        synth.render([[60]])
    with pytest.raises(StyleError, match="timbre.partials"):
        Synth(Timbre(partials=()), bpm=120)
    with pytest.raises(StyleError, match="timbre.sustain"):
        Synth(Timbre(sustain=1.5), bpm=120)
    with pytest.raises(StyleError, match="timbre.release"):
        Synth(Timbre(release=float("nan")), bpm=120)
    with pytest.raises(ValueError, match="tempo"):
        Synth(Timbre(), bpm=0)
    with pytest.raises(ValueError, match="tempo"):
        synth.set_tempo(float("inf"))


def test_wavetable_and_sine_oscillators_agree():
    """The harmonic fast path (a single-cycle table) sounds like one sine per partial."""
    base = dict(partials=(1.0, 0.55, 0.35, 0.22, 0.14, 0.08), detune_cents=2.0, level=0.9)
    notes = [[(p, "b") for p in (36, 60, 79, 100)]] + [[(p, "s") for p in (36, 60, 79, 100)]] * 30 + [[]] * 4
    table = Synth(Timbre(**base), bpm=100).render(notes)
    # An inharmonicity of 1e-12 detunes nothing audible but forces one oscillator per partial.
    sines = Synth(Timbre(**base, inharmonicity=1e-12), bpm=100).render(notes)
    assert np.abs(table).max() > 0.3
    assert np.abs(table - sines).max() < 1e-4


def test_a_refused_chunk_leaves_the_stream_untouched():
    notes = [[(60, "b")], [(60, "s")], [(60, "s")], [(64, "b")]]
    reference = Synth(Timbre(), bpm=120).render(notes)
    synth = Synth(Timbre(), bpm=120)
    first = synth.render(notes[:2])
    with pytest.raises(NotesError, match="beat 1 of the chunk"):
        synth.render([[(60, "s")], [(60, "q")]])
    assert synth.samples_rendered() == len(first) and synth.beats_rendered() == 2
    assert np.array_equal(np.concatenate([first, synth.render(notes[2:])]), reference)

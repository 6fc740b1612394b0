"""The sound: each style's instrument, dynamics from the notes, the room, the stage."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from radio.audio.master import MasterSettings
from radio.audio.mp3 import FrameSplitter, Mp3Encoder
from radio.audio.room import Reverb
from radio.audio.synth import Synth, render_notes
from radio.errors import StyleError
from radio.styles import Dynamics, Room, Sound, Timbre, discover_styles

SR = 44100
STYLES = discover_styles()


def _chunked(synth: Synth, notes, rng: random.Random) -> np.ndarray:
    parts, i = [], 0
    while i < len(notes):
        n = rng.choice([1, 1, 2, 3, rng.randint(1, 48)])
        parts.append(synth.render(notes[i : i + n]))
        i += n
    return np.concatenate(parts)


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_style_is_chunk_invariant_with_its_room_stage_and_master(name, random_stream):
    style = STYLES[name]
    notes = random_stream(4, 500, seed=5) + [[]] * 40
    master = MasterSettings(gain_db=style.loudness_gain_db)
    whole = Synth(style.sound, bpm=style.tempo_bpm, master=master).render(notes)
    synth = Synth(style.sound, bpm=style.tempo_bpm, master=master)
    chunked = _chunked(synth, notes, random.Random(name))
    assert whole.shape == chunked.shape and whole.shape[1] == 2
    assert synth.reverb is not None
    assert np.array_equal(chunked, whole)


def test_the_reverb_alone_is_chunk_invariant():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(SR * 6) * np.exp(-np.arange(SR * 6) / SR)).astype(np.float32)
    room = Room(rt60=2.0, wet=0.3, size=0.6)
    whole = Reverb(room).process(x)
    reverb = Reverb(room)
    cuts = np.sort(rng.choice(len(x), 40, replace=False))
    chunked = np.concatenate([reverb.process(p) for p in np.split(x, cuts)], axis=1)
    assert np.array_equal(chunked, whole)


def _rt60(tail: np.ndarray) -> float:
    """Schroeder backward integration, a line fitted from -5 to -25 dB, extrapolated to -60."""
    energy = np.cumsum((tail**2).sum(axis=0)[::-1])[::-1]
    curve = 10 * np.log10(energy / energy[0] + 1e-30)
    t = np.arange(len(curve)) / SR
    fit = (curve < -5) & (curve > -25)
    slope = np.polyfit(t[fit], curve[fit], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.8, 2.0, 4.0])
def test_the_rooms_decay_time_is_what_it_was_asked(rt60):
    impulse = np.zeros(SR * 8, dtype=np.float32)
    impulse[0] = 1.0
    wet = Reverb(Room(rt60=rt60, wet=1.0, damping=0.0)).process(impulse)
    assert _rt60(wet) == pytest.approx(rt60, rel=0.15)


def test_the_rooms_two_channels_are_decorrelated():
    rng = np.random.default_rng(2)
    wet = Reverb(Room(rt60=2.0, wet=1.0)).process(rng.standard_normal(SR * 5).astype(np.float32))
    left, right = wet[:, SR:]
    assert abs(np.corrcoef(left, right)[0, 1]) < 0.2


def test_rests_ring_out_instead_of_digital_silence():
    style = STYLES["medieval"]
    notes = [[(60, "b"), (67, "b")]] + [[(60, "s"), (67, "s")]] * 7 + [[]] * 32
    x = Synth(style.sound, bpm=style.tempo_bpm).render(notes)
    rest = x[round(9 * SR * 60 / (style.tempo_bpm * 4)) :]
    assert np.abs(rest[: SR // 2]).max() > 1e-3  # the room still sounds half a second into the rest
    dry = Synth(dataclasses.replace(style.sound, room=Room()), bpm=style.tempo_bpm).render(notes)
    assert np.abs(dry[len(x) - len(rest) + SR // 2 :]).max() == 0.0  # without a room: silence


def _centroid(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def _dry(name: str) -> Sound:
    return dataclasses.replace(STYLES[name].sound, room=Room())


def test_a_harpsichord_note_darkens_as_it_rings():
    notes = [[(57, "b")]] + [[(57, "s")]] * 31
    x = Synth(_dry("baroque"), bpm=60, channels=1).render(notes)
    early, late = _centroid(x[441:4410 + 441]), _centroid(x[SR : SR + 4410])
    assert late < 0.8 * early
    assert np.abs(x[SR * 2 : SR * 2 + 4410]).max() < 0.5 * np.abs(x[: 4410]).max()  # and dies away


def test_a_bowed_note_brightens_as_it_speaks_and_has_vibrato():
    notes = [[(69, "b")]] + [[(69, "s")]] * 31
    x = Synth(_dry("classical"), bpm=60, channels=1).render(notes)
    assert _centroid(x[:1500]) < 0.95 * _centroid(x[SR // 2 : SR // 2 + 4410])
    # Vibrato: the pitch wobbles a few cents around 440 Hz once it has faded in.
    frame = 2048
    peaks = []
    for start in range(SR, 3 * SR, frame // 2):
        seg = x[start : start + frame] * np.hanning(frame)
        spectrum = np.abs(np.fft.rfft(seg, 64 * frame))
        peaks.append(np.argmax(spectrum) * SR / (64 * frame))
    assert 2 < 1200 * np.log2(max(peaks) / min(peaks)) < 60


def test_voices_are_placed_across_the_stage():
    sound = _dry("classical")  # violin I on the left, the cello on the right
    x = Synth(sound, bpm=80).render([[(79, "b"), (48, "b")]] + [[(79, "s"), (48, "s")]] * 15)
    spectrum_l, spectrum_r = (np.abs(np.fft.rfft(x[:, ch])) for ch in (0, 1))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    top = np.abs(freqs - 440 * 2 ** ((79 - 69) / 12)) < 8
    bass = np.abs(freqs - 440 * 2 ** ((48 - 69) / 12)) < 3
    assert spectrum_l[top].max() > 2 * spectrum_r[top].max()
    assert spectrum_r[bass].max() > 2 * spectrum_l[bass].max()


def test_mono_folds_the_stage_to_one_channel():
    style = STYLES["classical"]
    x = Synth(style.sound, bpm=style.tempo_bpm, channels=1).render([[(60, "b"), (64, "b")]] * 8)
    assert x.ndim == 1 and np.abs(x).max() > 0.05


def _level(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _amplitude_at(x: np.ndarray, freq: float) -> float:
    """The amplitude of the sine at ``freq`` in ``x`` (a windowed DTFT at exactly that frequency)."""
    w = np.hanning(len(x))
    t = np.arange(len(x)) / SR
    return float(2 * np.abs(np.sum(x * w * np.exp(-2j * np.pi * freq * t))) / w.sum())


def test_downbeats_lean_and_the_melody_sings_over_inner_voices():
    sound = Sound((Timbre(partials=(1.0,), sustain=1.0, attack=0.005, release=0.05),),
                  Dynamics(accent_db=3.0, melody_db=3.0, bass_db=1.0))
    beat = round(SR * 60 / (120 * 4))
    # One note on each 16th: the one on the downbeat is 3 dB over a plain 16th.
    x = Synth(sound, bpm=120, channels=1).render([[(60, "b")]] * 16)
    down, plain = _level(x[200 : beat - 200]), _level(x[beat + 200 : 2 * beat - 200])
    assert 20 * np.log10(down / plain) == pytest.approx(3.0, abs=0.2)
    # A three-note chord: the top is 3 dB over the middle one, the bass 1 dB.
    chord = Synth(sound, bpm=120, channels=1).render([[(72, "b"), (64, "b"), (48, "b")]] + [[(72, "s"), (64, "s"), (48, "s")]] * 7)
    amp = {p: _amplitude_at(chord[2000:], 440 * 2 ** ((p - 69) / 12)) for p in (72, 64, 48)}
    assert 20 * np.log10(amp[72] / amp[64]) == pytest.approx(3.0, abs=0.3)
    assert 20 * np.log10(amp[48] / amp[64]) == pytest.approx(1.0, abs=0.3)


def test_the_metre_is_inferred_from_where_the_onsets_fall():
    """Music whose bars start 4 beats off the stream's grid still leans on its own downbeats."""
    sound = Sound((Timbre(partials=(1.0,), sustain=1.0, attack=0.005, release=0.05),), Dynamics(accent_db=3.0))
    bar = [[(60, "b"), (64, "b"), (67, "b")]] + [[]] * 3 + [[(62, "b")]] + [[]] * 3 + [[(64, "b"), (67, "b")]] + [[]] * 3 + [[(65, "b")]] + [[]] * 3
    notes = [[]] * 4 + bar * 24
    x = Synth(sound, bpm=120, channels=1).render(notes)
    beat = round(SR * 60 / (120 * 4))
    last = 4 + 16 * 23  # the last bar's downbeat, 4 beats off the stream's grid
    down = _level(x[last * beat + 200 : (last + 1) * beat - 200]) / np.sqrt(3)
    off = _level(x[(last + 4) * beat + 200 : (last + 5) * beat - 200])
    assert 20 * np.log10(down / off) > 0.8  # the downbeat of the music, not of the stream, leans


def test_bad_sound_settings_are_refused():
    with pytest.raises(ValueError, match="room.rt60"):
        Room(rt60=-1.0)
    with pytest.raises(ValueError, match="dynamics.accent_db"):
        Dynamics(accent_db=40.0)
    with pytest.raises(StyleError, match="voice 2: timbre.pan"):
        Synth(Sound((Timbre(), Timbre(pan=3.0))), bpm=100)


def test_stereo_mp3_is_joint_stereo_at_the_same_bitrate():
    style = STYLES["baroque"]
    pcm = render_notes([[(60, "b"), (67, "b")]] + [[(60, "s"), (67, "s")]] * 30, style.sound, style.tempo_bpm)
    encoder = Mp3Encoder(bitrate_kbps=128, channels=2)
    frames = FrameSplitter().feed(encoder.encode(pcm) + encoder.flush())
    assert frames and all(f[3] >> 6 == 1 for f in frames)  # mode bits 01: joint stereo
    assert {(f[2] >> 4) for f in frames} == {9}  # bitrate index 9: 128 kbps


def test_a_blend_mixes_the_parents_instruments_voice_by_voice():
    from radio.station.blends import BlendSpec, blend_style

    spec = BlendSpec((("classical", 5), ("baroque", 5)))
    style = blend_style(spec, STYLES)
    assert len(style.sound.voices) == 4
    assert style.room.rt60 == pytest.approx((STYLES["classical"].room.rt60 + STYLES["baroque"].room.rt60) / 2)
    pcm = Synth(style.sound, bpm=style.tempo_bpm).render([[(60, "b"), (64, "b")]] * 8)
    assert pcm.shape[1] == 2 and np.isfinite(pcm).all()


@pytest.mark.parametrize("name", ["classical", "folk", "renaissance"])
def test_no_click_where_an_evolving_note_joins_the_steady_path(name):
    synth = Synth(_dry(name), bpm=60, channels=1)
    x = synth.render([[(57, "b")]] + [[(57, "s")]] * 15)
    settle = synth.tone(0, 57).settle
    assert 0 < settle < len(x) - 100
    steps = np.abs(np.diff(x))
    assert steps[settle - 3 : settle + 3].max() < 0.3 * np.percentile(steps[settle - 2000 : settle - 10], 99)

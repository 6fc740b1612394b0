"""Loudness: our BS.1770 meter against pyloudnorm, true peak, LRA, the master stage and
every bundled style at -16 LUFS."""

from __future__ import annotations

import dataclasses
import random
import shutil

import numpy as np
import pytest

from radio.audio import loudness as L
from radio.commands.calibrate import write_gain
from radio.station.calibration import Calibration, calibrate, channel_master, render_channel_audio
from radio.audio.master import BLOCK_SECONDS, SLEW_DB_PER_SECOND, Master, MasterSettings
from radio.audio.synth import Synth
from radio.model import load_model
from radio.styles import Timbre, discover_styles, load_style

SR = 44100


@pytest.fixture(scope="module")
def pyln():
    """The reference meter, for the tests that compare against it. Only those skip without
    it: the master stage and limiter tests need nothing but numpy."""
    return pytest.importorskip("pyloudnorm")


def _signals(sr: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(sr * 12) / sr
    return {
        "noise": 0.1 * rng.standard_normal(len(t)),
        "swell": 0.4 * np.sin(2 * np.pi * 220 * t) * (0.2 + 0.8 * np.sin(np.pi * t / 12) ** 2),
        "bright": 0.2 * np.sin(2 * np.pi * 6000 * t) + 0.05 * np.sin(2 * np.pi * 60 * t),
        "gappy": 0.3 * np.sin(2 * np.pi * 880 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0.5),
    }


@pytest.mark.parametrize("sr", [44100, 48000])
def test_integrated_loudness_agrees_with_pyloudnorm(sr, pyln):
    meter = pyln.Meter(sr)
    for name, x in _signals(sr).items():
        ours = L.integrated_loudness(x.astype(np.float32), sr)
        theirs = meter.integrated_loudness(x.astype(np.float32).astype(np.float64))
        assert ours == pytest.approx(theirs, abs=0.02), name


def test_a_full_scale_1khz_sine_reads_minus_3_lufs_and_silence_is_gated():
    t = np.arange(SR * 5) / SR
    for db in (0.0, -20.0):
        x = 10 ** (db / 20) * np.sin(2 * np.pi * 997 * t)
        assert L.integrated_loudness(x, SR) == pytest.approx(db - 3.01, abs=0.1)
    assert L.integrated_loudness(np.zeros(SR * 3), SR) == float("-inf")


def test_true_peak_finds_the_peak_between_samples():
    # A quarter-sample-rate sine at 45 degrees: every sample is at 0.707, the wave reaches 1.0.
    x = np.sin(2 * np.pi * 0.25 * np.arange(4096) + np.pi / 4)
    assert np.abs(x).max() == pytest.approx(0.7071, abs=1e-3)
    assert L.to_db(L.true_peak(x, SR)) == pytest.approx(0.0, abs=0.2)


def test_true_peak_agrees_with_scipy_4x_resampling_on_music(baroque_audio):
    signal = pytest.importorskip("scipy.signal")
    reference = np.abs(signal.resample_poly(baroque_audio.astype(np.float64), 4, 1)).max()
    assert L.to_db(L.true_peak(baroque_audio, SR)) == pytest.approx(L.to_db(reference), abs=0.1)


def test_loudness_range_spans_a_quiet_and_a_loud_section():
    rng = np.random.default_rng(0)
    loud = 0.2 * rng.standard_normal(SR * 20)
    quiet = loud * 10 ** (-10 / 20)
    lra = L.loudness_range(np.concatenate([quiet, loud]), SR)
    assert lra == pytest.approx(10.0, abs=1.0)
    assert L.loudness_range(loud, SR) < 1.0


# --- the master stage ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_the_master_stage_is_chunk_invariant(timbre, random_stream, seed):
    notes = random_stream(4, 900, seed) + [[]] * 8
    settings = MasterSettings(gain_db=6.0)
    whole = Synth(timbre, bpm=97, master=settings).render(notes)
    synth = Synth(timbre, bpm=97, master=settings)
    rng = random.Random(seed)
    parts, i = [], 0
    while i < len(notes):
        n = rng.choice([1, 1, 2, 3, rng.randint(1, 64)])
        parts.append(synth.render(notes[i : i + n]))
        i += n
    chunked = np.concatenate(parts)
    assert synth.master is not None and synth.master.correction_db != 0.0  # the follower did move
    assert np.array_equal(chunked, whole)


def _gain_track(master: Master, x: np.ndarray, chunk: int = 4410) -> np.ndarray:
    """The follower's correction (dB) after each 100 ms of ``x``."""
    track = []
    for i in range(0, len(x), chunk):
        master.process(x[i : i + chunk])
        track.append(master.correction_db)
    return np.array(track)


def test_the_follower_is_slow_bounded_and_does_not_pump():
    t = np.arange(SR * 120) / SR
    # Loud accented chords once a bar (2 s) over a quiet bed: strong short-term dynamics.
    bar = np.exp(-((t % 2.0) / 0.15)) * 0.5 + 0.05
    x = (bar * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    master = Master(MasterSettings(gain_db=0.0, limit=False))
    track = _gain_track(master, x)
    per_block = SLEW_DB_PER_SECOND * BLOCK_SECONDS
    assert np.abs(np.diff(track)).max() <= per_block + 1e-9
    # Pumping would show as a gain that rises and falls with the bars. Over the last 30 s
    # the gain departs from a straight line (its slow drift) by less than 0.1 dB.
    settled = track[-300:]
    line = np.polyval(np.polyfit(np.arange(300), settled, 1), np.arange(300))
    assert np.abs(settled - line).max() < 0.1
    # ... and it does its job: the last minute sits at the target.
    out = Master(MasterSettings(gain_db=0.0, limit=False)).process(x)
    assert L.integrated_loudness(out[len(x) // 2 :], SR) == pytest.approx(-16.0, abs=0.5)


def test_the_follower_holds_through_rests_and_corrects_a_miscalibrated_gain():
    t = np.arange(SR * 90) / SR
    tone = (0.05 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # about -29 LUFS: 13 dB under the target
    tone[(t > 40) & (t < 50)] = 0.0  # a 10 s rest
    master = Master(MasterSettings(gain_db=0.0))
    gains, estimates = [], []
    for i in range(0, len(tone), 4410):
        master.process(tone[i : i + 4410])
        gains.append(master.correction_db)
        estimates.append(master.estimate_lufs)
    assert 9.0 < gains[399] <= 10.0  # close to MAX_CORRECTION_DB after 40 s, and never past it
    assert max(gains) <= 10.0
    assert estimates[495] == estimates[405]  # a rest does not move the estimate (no boost into the next note)
    quiet = Master(MasterSettings(gain_db=0.0)).process(np.zeros(SR * 5, np.float32))
    assert not quiet.any()  # silence stays silence


def test_the_limiter_keeps_the_true_peak_under_minus_1_dbtp():
    # Ten-note chords of a bright timbre, 6 dB louder than the target: the limiter works hard.
    timbre = Timbre(partials=(1.0, 0.6, 0.4, 0.25, 0.15), level=1.0, attack=0.002, decay=0.3, sustain=0.9)
    chord = [48, 52, 55, 60, 64, 67, 72, 76, 79, 84]
    notes = ([[(p, "b") for p in chord]] + [[(p, "s") for p in chord]] * 7) * 8
    unity = Synth(timbre, bpm=90, master=MasterSettings(follow=False, limit=False)).render(notes)
    hot = L.TARGET_LUFS + 6.0 - L.integrated_loudness(unity, SR)
    y = Synth(timbre, bpm=90, master=MasterSettings(gain_db=hot, follow=False)).render(notes)
    assert float(np.abs(unity).max()) * 10 ** (hot / 20) > 1.2  # it would clip without the limiter
    assert L.to_db(L.true_peak(y, SR)) <= -1.0


def test_bad_master_settings_are_refused():
    with pytest.raises(ValueError, match="gain_db"):
        MasterSettings(gain_db=float("nan"))
    with pytest.raises(ValueError, match="ceiling"):
        MasterSettings(ceiling_dbtp=1.0)
    with pytest.raises(ValueError, match="look-ahead"):
        MasterSettings(lookahead_seconds=0.5)


# --- every bundled style ------------------------------------------------------------

STYLES = discover_styles()


@pytest.fixture(scope="module")
def rendered() -> dict[str, np.ndarray]:
    """Two minutes of every bundled style's channel, through its master stage."""
    out = {}
    for name, style in STYLES.items():
        model = load_model(style.model_path)
        out[name] = render_channel_audio(style, model, 120.0, seed=2024, master=channel_master(style))
    return out


@pytest.fixture(scope="module")
def baroque_audio(rendered) -> np.ndarray:
    return rendered["baroque"][: SR * 20] if "baroque" in rendered else next(iter(rendered.values()))[: SR * 20]


def test_every_bundled_style_is_calibrated():
    for name, style in STYLES.items():
        assert style.loudness_gain_db != 0.0, f"{name}: run python -m radio.commands.calibrate"


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_bundled_style_plays_at_minus_16_lufs_under_minus_1_dbtp(rendered, name, pyln):
    report = L.measure(rendered[name], SR)
    assert report.integrated_lufs == pytest.approx(L.TARGET_LUFS, abs=1.0), report.line()
    assert report.true_peak_dbtp <= L.TRUE_PEAK_LIMIT_DBTP, report.line()
    # Checked against the reference meter too.
    assert report.integrated_lufs == pytest.approx(
        pyln.Meter(SR).integrated_loudness(rendered[name].astype(np.float64)), abs=0.05
    )
    assert rendered[name].ndim == 2 and rendered[name].shape[1] == 2  # a channel plays in stereo


def test_the_bundled_styles_are_within_1_lu_of_each_other(rendered):
    levels = {name: L.integrated_loudness(audio, SR) for name, audio in rendered.items()}
    assert max(levels.values()) - min(levels.values()) <= 1.0, levels


def test_calibration_writes_the_gain_into_style_toml(tmp_path):
    name = sorted(STYLES)[0]
    folder = tmp_path / name
    shutil.copytree(STYLES[name].folder, folder)
    style = dataclasses.replace(load_style(folder), loudness_gain_db=0.0)
    result = calibrate(style, load_model(style.model_path), minutes=0.3, seeds=(1, 2))
    assert result.gain_db == pytest.approx(L.TARGET_LUFS - result.median_lufs, abs=0.01)
    write_gain(folder / "style.toml", result)
    write_gain(folder / "style.toml", Calibration(name, [-20.0], 4.0, "v"))  # replaced, not appended
    text = (folder / "style.toml").read_text()
    assert text.count("[loudness]") == 1 and text.count("gain_db") == 1
    reloaded = load_style(folder)
    assert reloaded.loudness_gain_db == 4.0
    assert reloaded.timbre == STYLES[name].timbre and reloaded.tempo_bpm == STYLES[name].tempo_bpm


# --- the limiter --------------------------------------------------------------------


def test_below_the_ceiling_the_limiter_leaves_every_sample_untouched():
    rng = np.random.default_rng(4)
    t = np.arange(SR * 4) / SR
    x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    assert L.to_db(L.true_peak(x, SR)) < -2.5  # under the -2 dBTP ceiling, with a margin
    master = Master(MasterSettings(follow=False))
    y = np.concatenate([master.process(x[i : i + 3000]) for i in range(0, len(x), 3000)])
    d = master.delay
    assert 0 < d < 0.06 * SR  # the look-ahead delays the stream by about 52 ms, no more
    assert np.array_equal(y[d:], x[: len(x) - d])  # not one sample reshaped
    assert not y[:d].any()


def _old_waveshaper(x: np.ndarray, knee_db: float = -6.0, ceiling_db: float = -1.6) -> np.ndarray:
    """The master stage's limiter before the look-ahead one: a tanh bend above the knee."""
    knee, ceiling = 10 ** (knee_db / 20), 10 ** (ceiling_db / 20)
    y = x.copy()
    over = np.abs(y) > knee
    y[over] = np.sign(y[over]) * (knee + (ceiling - knee) * np.tanh((np.abs(y[over]) - knee) / (ceiling - knee)))
    return y


def loud_chord(seconds: float = 6.0, peak_db: float = 3.0) -> tuple[np.ndarray, tuple[float, ...]]:
    """A sustained A major triad of sines whose peaks reach ``peak_db`` dBFS."""
    freqs = (220.0, 277.18, 329.63)
    t = np.arange(round(SR * seconds)) / SR
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return (x / np.abs(x).max() * 10 ** (peak_db / 20)).astype(np.float32), freqs


def test_the_limiter_distorts_a_loud_chord_at_least_20_db_less_than_the_waveshaper():
    x, freqs = loud_chord()
    before = L.thd_db(_old_waveshaper(x), freqs)
    master = Master(MasterSettings(follow=False))
    y = np.concatenate([master.process(x[i : i + 4096]) for i in range(0, len(x), 4096)])
    after = L.thd_db(y[master.delay :], freqs)
    assert after <= before - 20.0, (before, after)
    # The true peak away from the test signal's own abrupt end (which rings in any interpolator).
    assert L.to_db(L.true_peak(y[: -SR // 10], SR)) <= MasterSettings().ceiling_dbtp + 0.05


def test_the_limiter_is_chunk_invariant_on_its_own():
    x, _ = loud_chord(4.0, peak_db=6.0)
    x = np.stack([x, x[::-1]], axis=1)  # two channels, peaks at different moments
    whole = Master(MasterSettings(follow=False)).process(x)
    master = Master(MasterSettings(follow=False))
    rng = np.random.default_rng(5)
    cuts = np.sort(rng.choice(len(x), 60, replace=False))
    chunked = np.concatenate([master.process(p) for p in np.split(x, cuts)])
    assert np.array_equal(chunked, whole)
    assert L.to_db(L.true_peak(whole, SR)) <= MasterSettings().ceiling_dbtp + 0.05


@pytest.mark.parametrize("name", sorted(STYLES))
def test_the_decoded_mp3_of_every_channel_stays_under_minus_1_dbtp(rendered, name):
    miniaudio = pytest.importorskip("miniaudio")
    from radio.audio.mp3 import Mp3Encoder
    from radio.station.channel import DEFAULT_QUALITY

    encoder = Mp3Encoder(channels=2, quality=DEFAULT_QUALITY)
    data = encoder.encode(rendered[name]) + encoder.flush()
    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=2, sample_rate=SR)
    pcm = np.frombuffer(decoded.samples, dtype=np.float32).reshape(-1, 2)
    assert L.to_db(L.true_peak(pcm, SR)) <= L.TRUE_PEAK_LIMIT_DBTP


# --- loudness from the first minute ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(STYLES))
def test_every_channel_is_at_minus_16_lufs_from_its_first_minute(rendered, name):
    first = rendered[name][: SR * 60]
    assert L.integrated_loudness(first, SR) == pytest.approx(L.TARGET_LUFS, abs=1.0)


def test_every_shipped_gain_was_measured_on_the_model_it_ships_with():
    for name, style in STYLES.items():
        model = load_model(style.model_path)
        assert style.loudness_model == model.version, f"{name}: run python -m radio.commands.calibrate --styles {name}"
        # An independent measurement on seeds the calibration did not use. Pieces differ in
        # loudness (classical's 18-second openings read -13.5 to -17.2 LUFS across seeds), so it
        # takes three minutes of music, not one 18-second stretch, to judge the gain to 1.5 dB.
        probe = calibrate(style, model, minutes=1.0, seeds=(5, 6, 7))
        assert probe.gain_db == pytest.approx(style.loudness_gain_db, abs=1.5), name


def test_a_swapped_in_model_plays_at_minus_16_lufs_from_its_first_minute(tmp_path):
    from radio.station.calibration import ModelGains, gain_file, record_model_gain

    style = STYLES["classical"]
    other = STYLES["folk"]  # a single line where the quartet had four voices: far quieter at the quartet's gain
    copy = tmp_path / "folk.npz"
    shutil.copyfile(other.model_path, copy)
    gain = record_model_gain(style, copy)  # as registering a version does
    assert gain_file(copy).is_file()
    assert gain > style.loudness_gain_db + 1.0  # the swap needs its own gain
    gains = ModelGains(style)
    swapped = load_model(copy)
    assert gains.learn(swapped) == gain  # read from beside the file, not measured again
    audio = render_channel_audio(
        style, load_model(style.model_path), 100.0, seed=7, master=channel_master(style),
        gains=gains, swap_to=swapped, swap_at_seconds=30.0,
    )
    after = audio[SR * 31 : SR * 91]
    assert L.integrated_loudness(after, SR) == pytest.approx(L.TARGET_LUFS, abs=1.0)

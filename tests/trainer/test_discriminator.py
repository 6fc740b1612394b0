"""The discriminator measure (trainer/discriminator.py): key-free window features and the
classifier two-sample test, real vs generated beside real vs real.

Numpy only, no TensorFlow. Synthetic 'chorales' stand in for real music; the check against
Bach chorales from ``../shared/corpus`` skips when it is not there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from radio.music.notes import Span, from_spans, to_spans, transpose, validate
from trainer.discriminator import (
    GOAL_GAP,
    MIN_WINDOWS,
    WINDOW,
    Windows,
    discriminator_report,
    format_discriminator_line,
    two_sample_accuracy,
    window_features,
    windows_of,
)

MAJOR = [0, 2, 4, 5, 7, 9, 11]
TRIADS = [0, 3, 4, 1, 4, 0, 5, 3, 4, 0]  # a chord progression by scale degree, looped


def chorale(rng: np.random.Generator, bars: int) -> list:
    """Four voices on diatonic triads in a random key: bass and inner voices in half notes,
    a stepwise soprano in quarters and eighths."""
    key = int(rng.integers(0, 12))
    spans = []
    for half in range(bars * 2):
        root = TRIADS[(half + int(rng.integers(0, 2))) % len(TRIADS)]
        chord = [MAJOR[(root + k) % 7] for k in (0, 2, 4)]
        start = half * 8
        spans += [Span(36 + key + chord[0], start, 8), Span(48 + key + chord[1], start, 8), Span(55 + key + chord[2], start, 8)]
    t, degree = 0, 9
    while t < bars * 16:
        length = int(rng.choice([2, 4, 4, 4, 8]))
        degree = int(np.clip(degree + rng.choice([-1, -1, 0, 1, 1, 2, -2]), 7, 15))
        spans.append(Span(60 + key + 12 * (degree // 7) + MAJOR[degree % 7], t, min(length, bars * 16 - t)))
        t += length
    return from_spans(spans, bars * 16)


def chorales(seed: int, pieces: int, bars: int = 16) -> list:
    rng = np.random.default_rng(seed)
    return [chorale(rng, bars) for _ in range(pieces)]


def scattered(rng: np.random.Generator, beats: int) -> list:
    """Uniform random pitches 36..83, about 0.5 strikes per beat, each 1-8 beats long."""
    spans = [Span(int(rng.integers(36, 84)), t, int(rng.integers(1, 9))) for t in range(beats) for _ in range(rng.poisson(0.5))]
    return from_spans(spans, beats)


def test_a_window_has_one_row_of_finite_features():
    piece = chorales(0, 1, bars=4)[0]
    validate(piece)
    rows = windows_of([piece])
    assert rows.features.shape == (2, len(window_features(piece[:WINDOW])))
    assert 40 <= rows.features.shape[1] <= 80 and np.isfinite(rows.features).all()
    silence = window_features([[] for _ in range(WINDOW)])
    assert np.isfinite(silence).all() and silence.sum() == 1.0  # only the polyphony-0 share, all of it


def test_features_are_transposition_invariant():
    rng = np.random.default_rng(1)
    pieces = chorales(1, 3, bars=8) + [scattered(rng, 128)]
    for piece in pieces:
        for w in range(len(piece) // WINDOW):
            window = piece[w * WINDOW:(w + 1) * WINDOW]
            up = transpose(window, 5)
            assert np.array_equal(window_features(window), window_features(up))
            assert np.array_equal(window_features(window), window_features(transpose(window, -7)))


def test_features_tell_a_held_chord_from_a_moving_line():
    drone = [[(48, "b"), (60, "b"), (67, "b")]] + [[(48, "s"), (60, "s"), (67, "s")]] * (WINDOW - 1)
    line = from_spans([Span(60 + (i % 5), i * 2, 2) for i in range(WINDOW // 2)], WINDOW)
    assert not np.array_equal(window_features(drone), window_features(line))


def test_windows_keep_whole_windows_and_group_long_pieces_in_blocks():
    long_stream = chorales(2, 1, bars=2 * 40 + 1)[0]  # 40 windows and a bar left over
    short = chorales(3, 2, bars=6)  # 3 windows each
    w = windows_of([long_stream] + short)
    assert len(w) == 40 + 3 + 3
    # blocks of 16 consecutive windows: 16 + 16 + 8, then one group per short piece
    assert np.bincount(w.groups).tolist() == [16, 16, 8, 3, 3]


def test_music_from_one_source_is_not_told_apart():
    a, b = windows_of(chorales(10, 12)), windows_of(chorales(11, 12))
    assert len(a) == len(b) == 96
    assert abs(two_sample_accuracy(a, b, seed=0) - 0.5) < 0.15


def test_scattered_notes_and_a_drone_are_told_apart_from_chorales():
    real = windows_of(chorales(20, 8))
    rng = np.random.default_rng(0)
    noise = windows_of([scattered(rng, 16 * 16) for _ in range(8)])
    assert two_sample_accuracy(noise, real, seed=0) > 0.9
    drone = [[(48, "b"), (60, "b"), (67, "b")]] + [[(48, "s"), (60, "s"), (67, "s")]] * (16 * 16 * 8 - 1)
    assert two_sample_accuracy(windows_of([drone]), real, seed=0) > 0.95


def test_the_subtle_difference_of_a_chromatic_soprano_is_seen():
    """Chorales whose soprano slips a semitone off the scale now and then: the same voicing,
    rhythm and contour, so only the harmonic, interval and diatonic features can tell."""
    rng = np.random.default_rng(31)
    slipped = []
    for piece in chorales(32, 10):
        spans = [Span(s.pitch + (1 if s.pitch >= 60 and rng.random() < 0.4 else 0), s.start, s.length) for s in to_spans(piece)]
        slipped.append(from_spans(spans, len(piece)))
    assert two_sample_accuracy(windows_of(slipped), windows_of(chorales(30, 10)), seed=0) > 0.8


def test_grouped_folds_stop_the_classifier_from_recognising_pieces():
    """Pieces of one source, but each with its own character (a tempo of its own): with windows
    of a piece on both sides of a fold cut the classifier learns the pieces, not the sources."""
    rng = np.random.default_rng(5)

    def piece(length: int) -> list:
        step = int(rng.choice([1, 2, 3, 4, 6, 8]))
        pitch_set = rng.choice(np.arange(48, 72), size=int(rng.integers(3, 9)), replace=False)
        return from_spans([Span(int(rng.choice(pitch_set)), t, step) for t in range(0, length, step)], length)

    a = windows_of([piece(WINDOW * 16) for _ in range(6)])
    b = windows_of([piece(WINDOW * 16) for _ in range(6)])
    grouped = two_sample_accuracy(a, b, seed=0)
    ungrouped = two_sample_accuracy(Windows(a.features, np.arange(len(a))), Windows(b.features, np.arange(len(b))), seed=0)
    # Six pieces a side is few, so the grouped figure is noisy around 0.5; the leak is not subtle.
    assert grouped < 0.7 and ungrouped > 0.75 and ungrouped > grouped + 0.2


def test_report_of_same_source_music_has_a_small_gap():
    report = discriminator_report(chorales(40, 8), chorales(41, 16), seed=0)
    assert report["windows"] == 64  # the real pieces split 8 + 8, 64 windows a half; the generated has 64
    assert report["generated_vs_real"] < 0.65 and report["real_vs_real"] < 0.65
    assert abs(report["gap"]) < 0.1 and report["goal_gap"] == GOAL_GAP
    assert report["gap"] == pytest.approx(report["generated_vs_real"] - report["real_vs_real"])
    assert discriminator_report(chorales(40, 8), chorales(41, 16), seed=0) == report  # seeded, so repeatable
    json.dumps(report)


def test_report_of_scattered_notes_has_a_large_gap():
    rng = np.random.default_rng(2)
    report = discriminator_report([scattered(rng, 16 * 16 * 8)], chorales(41, 16), seed=0)
    assert report["generated_vs_real"] > 0.9 and report["gap"] > 0.3
    line = format_discriminator_line(report)
    assert line.startswith(f"discriminator (2-bar windows, logistic regression): generated vs real {report['generated_vs_real']:.2f}, ")
    assert f"gap +{report['gap']:.2f} (goal ≤ 0.03), 64 windows a side" in line


def test_one_long_real_piece_is_cut_in_two():
    real = chorales(50, 1, bars=2 * 60)  # 60 windows: two halves of 30
    report = discriminator_report(chorales(51, 1, bars=2 * 40), real)
    assert report["windows"] == 30 and report["splits"] == 1 and report["real_vs_real"] < 0.7


@pytest.mark.parametrize("generated_bars, real_pieces", [(2 * 10, 16), (2 * 100, 4), (0, 16)])
def test_too_little_music_gives_no_figures_and_a_reason(generated_bars, real_pieces):
    generated = chorales(60, 1, bars=generated_bars) if generated_bars else []
    report = discriminator_report(generated, chorales(61, real_pieces, bars=8), seed=0)
    assert report["generated_vs_real"] is None and report["real_vs_real"] is None and report["gap"] is None
    assert report["windows"] < MIN_WINDOWS and "too little music" in report["reason"]
    assert format_discriminator_line(report).startswith("discriminator: not measured (too little music")
    assert discriminator_report([], [])["reason"]


# --- against real music -----------------------------------------------------------------


def test_bach_chorales_against_bach_chorales(corpus_dir):
    from radio.music.prepare import prepare_piece

    files = sorted((corpus_dir / "baroque").glob("bach_*.mid"))[:120]
    if len(files) < 120:
        pytest.skip(f"fewer than 120 Bach chorales in {corpus_dir / 'baroque'}")
    pieces = [prepare_piece(f).notes for f in files]
    real, other = pieces[0::2], pieces[1::2]
    same = discriminator_report(other, real, seed=0)
    assert same["windows"] >= 100 and abs(same["gap"]) < 0.08 and same["real_vs_real"] < 0.65
    rng = np.random.default_rng(0)
    noise = discriminator_report([scattered(rng, sum(map(len, other)))], real, seed=0)
    assert noise["generated_vs_real"] > 0.95


# --- in `continuo evaluate` ---------------------------------------------------------------


def test_continuo_evaluate_reports_the_discriminator(tmp_path, capsys):
    """A bundled model on a folder of pieces: numpy only, so no TensorFlow is needed."""
    pytest.importorskip("matplotlib")
    from radio.cli import main
    from radio.music.midi_io import write_midi
    from radio.styles import get_style
    from trainer.evaluate import format_report

    folder = tmp_path / "pieces"
    folder.mkdir()
    for i, notes in enumerate(chorales(70, 12)):
        (folder / f"piece{i}.mid").write_bytes(write_midi(notes, 112.0))
    rc = main(["evaluate", "--style", "folk", "--model", str(get_style("folk").model_path), "--pieces", str(folder),
               "--home", str(tmp_path / "home"), "--out-dir", str(tmp_path / "report"), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    disc = report["discriminator"]
    assert disc["windows"] == 48  # 12 pieces of 8 windows, halves of 6 pieces; the sample is as long as all 12
    assert report["realism"]["sample"]["beats"] == 12 * 256
    # folk tunes are not four-part chorales: the classifier says so, and the chorales do not tell themselves apart
    assert disc["generated_vs_real"] > 0.8 and disc["real_vs_real"] < 0.7 and disc["gap"] > 0.1
    text = format_report(report)
    assert "discriminator (2-bar windows, logistic regression): generated vs real" in text and "48 windows a side" in text

"""The realism measure (trainer/realism.py): its features, its scores and its ceiling.

Numpy only, no TensorFlow. The checks against real music use Bach chorales from
``../shared/corpus`` and skip when it is not there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radio.music.notes import Span, from_spans
from trainer.realism import (
    FEATURE_NAMES,
    FEATURES,
    MOTIONS,
    ceiling_splits,
    feature_counts,
    format_realism_table,
    kl_divergence,
    overlap,
    realism_report,
)

SEQUENTIAL = ("top_interval", "note_length", "onset_interval", "nearest_move", "outer_motion")


def labelled(name: str, notes) -> dict[str, float]:
    """One feature's counts of a piece, keyed by bin label, zero bins left out."""
    feature = next(f for f in FEATURES if f.name == name)
    return {label: c for label, c in zip(feature.labels, feature_counts(notes)[name]) if c}


# Two voices: C4 E4 G4 (quarter, quarter, half) over C3 (whole note), then a rest, then
# a struck G3+B3 chord for an eighth.
TWO_VOICES = from_spans([Span(60, 0, 4), Span(64, 4, 4), Span(67, 8, 8), Span(48, 0, 16), Span(55, 18, 2), Span(59, 18, 2)], 20)


def test_features_of_a_small_piece():
    assert labelled("pitch_class", TWO_VOICES) == {"C": 2, "E": 1, "G": 2, "B": 1}
    assert labelled("top_interval", TWO_VOICES) == {"+4": 1, "+3": 1, "-8": 1}  # 60 64 67 59
    assert labelled("note_length", TWO_VOICES) == {"2": 2, "4": 2, "8": 1, "16": 1}
    assert labelled("onset_interval", TWO_VOICES) == {"4": 2, "10": 1}  # onsets at 0, 4, 8, 18
    assert labelled("polyphony", TWO_VOICES) == {"2": 18}  # beats 16 and 17 are silent
    assert labelled("chord_size", TWO_VOICES) == {"2": 2, "1": 2}
    # E4 from {48, 60}: 4; G4 from {48, 64}: 3; G3 and B3 from {48, 67}: 7 and 8.
    assert labelled("nearest_move", TWO_VOICES) == {"4": 1, "3": 1, "7": 1, "8": 1}
    # 48/60 -> 48/64 oblique, -> 48/67 oblique, 48/67 -> 55/59 contrary (bass up, top down).
    assert labelled("outer_motion", TWO_VOICES) == {"oblique": 2, "contrary": 1}


def test_outer_motion_names_parallel_fifths_and_octaves():
    fifths = from_spans([Span(48, 0, 4), Span(55, 0, 4), Span(50, 4, 4), Span(57, 4, 4)], 8)
    thirds = from_spans([Span(48, 0, 4), Span(52, 0, 4), Span(50, 4, 4), Span(54, 4, 4)], 8)
    similar = from_spans([Span(48, 0, 4), Span(52, 0, 4), Span(50, 4, 4), Span(55, 4, 4)], 8)
    melody = from_spans([Span(60, 0, 4), Span(62, 4, 4)], 8)
    assert labelled("outer_motion", fifths) == {"parallel 5ths/8ves": 1}
    assert labelled("outer_motion", thirds) == {"parallel": 1}
    assert labelled("outer_motion", similar) == {"similar": 1}
    assert labelled("outer_motion", melody) == {"one voice": 1}


def test_extreme_values_land_in_the_open_ended_bins():
    leap = from_spans([Span(40, 0, 100), Span(90, 100, 1)], 101)
    assert labelled("top_interval", leap) == {"≥13": 1}
    assert labelled("note_length", leap) == {"≥65": 1, "1": 1}
    assert labelled("onset_interval", leap) == {"≥33": 1}
    assert labelled("nearest_move", leap) == {"≥13": 1}


def test_every_feature_has_a_bin_for_every_event():
    for f in FEATURES:
        assert len(set(f.labels)) == len(f.labels) and f.events(TWO_VOICES).max() < len(f.labels)
    assert MOTIONS[0] == "one voice" and set(FEATURE_NAMES) >= {"pitch_class", "top_interval", "note_length", "polyphony"}


counts = st.lists(st.integers(0, 1000), min_size=5, max_size=5).map(lambda c: np.array(c, float))


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_overlap_is_symmetric_and_in_the_unit_interval(p, q):
    assert overlap(p, q) == pytest.approx(overlap(q, p))
    assert 0.0 <= overlap(p, q) <= 1.0 + 1e-12
    if p.sum() > 0:
        assert overlap(p, p) == pytest.approx(1.0)
        assert overlap(p, 3 * p) == pytest.approx(1.0)  # pooled counts are normalised first


@settings(max_examples=200, deadline=None)
@given(counts, counts)
def test_kl_is_non_negative_and_zero_for_identical_counts(p, q):
    assert kl_divergence(p, q) >= 0.0 and np.isfinite(kl_divergence(p, q))
    assert kl_divergence(p, p) == 0.0


def test_scores_of_disjoint_and_empty_histograms():
    a, b, empty = np.array([5.0, 0, 0]), np.array([0, 0, 7.0]), np.zeros(3)
    assert overlap(a, b) == 0.0 and overlap(a, empty) == 0.0
    assert kl_divergence(a, b) > 1.0 and np.isfinite(kl_divergence(a, empty))


def piece_of(length: int, pitch: int = 60) -> list:
    return from_spans([Span(pitch + (i % 5), i, 1) for i in range(length)], length)


def tagged(length: int, pitch: int) -> list:
    """A piece of one repeated pitch, so the side of a split it went to can be read off its notes."""
    return from_spans([Span(pitch, i, 1) for i in range(length)], length)


def sides(split) -> tuple[set[int], set[int]]:
    return {p[0][0][0] for p in split.first}, {p[0][0][0] for p in split.second}


def test_ceiling_splits_are_disjoint_balanced_and_distinct():
    rng = np.random.default_rng(3)
    pieces = [tagged(int(n), 30 + i) for i, n in enumerate(rng.integers(50, 400, size=21))]
    total = sum(map(len, pieces))
    splits = ceiling_splits(pieces, n=5, seed=1)
    assert len(splits) == 5
    deals = [frozenset(map(frozenset, sides(s))) for s in splits]
    assert len(set(deals)) == 5  # five different splits, not one five times
    for s in splits:
        first, second = sides(s)
        assert first.isdisjoint(second) and len(first | second) >= 20  # at most one piece trimmed away
        assert sum(map(len, s.first)) == sum(map(len, s.second)) == s.beats
        assert 2 * s.beats >= 0.97 * total  # balanced: trimming to equal length loses little


def test_ceiling_halves_are_whole_pieces_or_their_openings():
    lengths = [120, 80, 200, 60, 150, 90, 110]
    pieces = [tagged(n, 30 + i) for i, n in enumerate(lengths)]
    by_pitch = {p[0][0][0]: p for p in pieces}
    for s in ceiling_splits(pieces, n=4, seed=0):
        trimmed = 0
        for half in (s.first, s.second):
            for p in half:
                original = by_pitch[p[0][0][0]]
                assert p == original[: len(p)] and len(p) > 0
                trimmed += len(p) < len(original)
        assert trimmed <= 2  # only the longest pieces of the longer half lose their ends
        assert sum(map(len, s.first)) == sum(map(len, s.second))


def test_the_ceiling_does_not_depend_on_the_order_of_the_pieces():
    pieces = [tagged(n, 40 + i) for i, n in enumerate([120, 80, 200, 60, 150, 90, 110, 75])]
    forward = realism_report([piece_of(300)], pieces)
    backward = realism_report([piece_of(300)], pieces[::-1])
    assert forward == backward


def test_a_single_real_piece_is_cut_in_two():
    (split,) = ceiling_splits([piece_of(101)])
    assert split.basis == "one piece cut in two" and split.beats == 50 and len(split.second[0]) == 50


def test_real_pieces_without_notes_are_refused():
    with pytest.raises(ValueError, match="no notes"):
        realism_report([piece_of(10)], [[[], []], [[]]])
    with pytest.raises(ValueError, match="no beats"):
        ceiling_splits([[], []])


def test_report_shape_and_table():
    real = [piece_of(n, pitch=50 + n % 7) for n in (64, 96, 80, 128, 72)]
    report = realism_report([piece_of(200)], real, seed=0)
    assert set(report["features"]) == set(FEATURE_NAMES)
    for v in report["features"].values():
        assert {"overlap", "kl", "ceiling_overlap", "ceiling_kl"} <= set(v)
        assert 0 <= v["overlap"] <= 1 and 0 <= v["ceiling_overlap"] <= 1 and v["kl"] >= 0 and v["ceiling_kl"] >= 0
        assert len(v["bins"]) == len(v["generated"]) == len(v["real"])
    assert report["mean_overlap"] == pytest.approx(np.mean([v["overlap"] for v in report["features"].values()]))
    assert report["mean_ceiling"] == pytest.approx(np.mean([v["ceiling_overlap"] for v in report["features"].values()]))
    table = format_realism_table(report)
    assert table.splitlines()[0].startswith("| feature | overlap | ceiling")
    assert len(table.splitlines()) == 2 + len(FEATURE_NAMES) + 1 and "**mean**" in table
    assert realism_report([piece_of(200)], real, seed=0) == report  # seeded, so repeatable


def test_empty_generated_music_scores_zero_overlap():
    real = [piece_of(n) for n in (64, 96, 80)]
    report = realism_report([[[] for _ in range(100)]], real)
    assert report["mean_overlap"] == 0.0 and all(np.isfinite(v["kl"]) for v in report["features"].values())


# --- against real music -----------------------------------------------------------------


@pytest.fixture(scope="module")
def chorales(corpus_dir):
    """60 short Bach chorales in C major / A minor: even ones as 'real', odd ones as the candidate."""
    from radio.music.prepare import prepare_piece

    files = sorted((corpus_dir / "baroque").glob("bach_*.mid"))[:60]
    if len(files) < 60:
        pytest.skip(f"fewer than 60 Bach chorales in {corpus_dir / 'baroque'}")
    pieces = [prepare_piece(f).notes for f in files]
    return pieces[0::2], pieces[1::2]


def test_real_music_scores_near_its_ceiling(chorales):
    real, other = chorales
    report = realism_report(other, real)
    assert report["mean_overlap"] >= report["mean_ceiling"] - 0.03
    for name, v in report["features"].items():
        assert v["overlap"] >= v["ceiling_overlap"] - 0.05, name
        assert v["kl"] <= v["ceiling_kl"] + 0.05, name
    assert report["mean_ceiling"] > 0.85  # chorales are alike: the ceiling is high


def shuffled_beats(notes, rng):
    """The same beats in a random order; a held note whose pitch did not sound just before is struck."""
    out, previous = [], set()
    for i in rng.permutation(len(notes)):
        beat = [(p, "s" if tie == "s" and p in previous else "b") for p, tie in notes[i]]
        out.append(beat)
        previous = {p for p, _ in beat}
    return out


def random_notes(beats: int, rng) -> list:
    """Uniform random pitches 36..83, about 0.8 strikes per beat, each 1-8 beats long."""
    spans = [Span(int(rng.integers(36, 84)), t, int(rng.integers(1, 9))) for t in range(beats) for _ in range(rng.poisson(0.8))]
    return from_spans(spans, beats)


def test_shuffled_beats_score_low_on_every_feature_that_follows_time(chorales):
    real, other = chorales
    rng = np.random.default_rng(0)
    report = realism_report([shuffled_beats(p, rng) for p in other], real)
    f = report["features"]
    assert report["mean_overlap"] < report["mean_ceiling"] - 0.2
    for name in SEQUENTIAL:
        assert f[name]["overlap"] < f[name]["ceiling_overlap"] - 0.15, name
    assert f["note_length"]["overlap"] < 0.4 and f["onset_interval"]["overlap"] < 0.4
    # What one beat holds is unchanged by shuffling, and the measure says so.
    assert f["pitch_class"]["overlap"] > f["pitch_class"]["ceiling_overlap"] - 0.05
    assert f["polyphony"]["overlap"] > f["polyphony"]["ceiling_overlap"] - 0.05


def test_random_notes_score_low(chorales):
    real, other = chorales
    report = realism_report([random_notes(sum(map(len, other)), np.random.default_rng(1))], real)
    assert report["mean_overlap"] < 0.6 < report["mean_ceiling"]
    assert report["features"]["pitch_class"]["overlap"] < 0.75  # chromatic, not diatonic
    assert report["mean_kl"] > 5 * report["mean_ceiling_kl"]


def test_a_constant_drone_scores_near_zero(chorales):
    real, other = chorales
    beats = sum(map(len, other))
    drone = [[(48, "b"), (60, "b"), (67, "b")]] + [[(48, "s"), (60, "s"), (67, "s")]] * (beats - 1)
    report = realism_report([drone], real)
    assert report["mean_overlap"] < 0.15


# --- in `continuo evaluate` ---------------------------------------------------------------


def test_continuo_evaluate_reports_realism_beside_nll(tmp_path, capsys):
    """A bundled model on a folder of pieces: numpy only, so no TensorFlow is needed."""
    pytest.importorskip("matplotlib")
    from radio.cli import main
    from radio.music.midi_io import write_midi
    from radio.styles import get_style
    from trainer.evaluate import format_report

    folder = tmp_path / "pieces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, beats in enumerate([160, 224, 192, 288]):
        melody = [Span(int(60 + rng.choice([0, 2, 4, 5, 7, 9])), t, 4) for t in range(0, beats, 4)]
        bass = [Span(48 if (t // 16) % 2 == 0 else 43, t, 16) for t in range(0, beats, 16)]
        (folder / f"piece{i}.mid").write_bytes(write_midi(from_spans(melody + bass, beats), 112.0))
    out = tmp_path / "report"
    rc = main(["evaluate", "--style", "folk", "--model", str(get_style("folk").model_path), "--pieces", str(folder),
               "--home", str(tmp_path / "home"), "--out-dir", str(out), "--realism-minutes", "0.5", "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    realism = report["realism"]
    assert realism["sample"]["beats"] == 224  # half a minute at the folk style's 112 bpm, under the 864 held-out beats
    assert realism["real_beats"] == 864 and realism["ceiling"]["basis"] == "pieces"
    assert realism["ceiling"]["beats_per_half"] == 416  # the best split, 160 + 288 against 192 + 224, trimmed to equal
    assert set(realism["features"]) == set(FEATURE_NAMES)
    assert all(0 <= v["overlap"] <= 1 and v["kl"] >= 0 for v in realism["features"].values())
    for key in ("piano_roll_vs_real", "realism"):
        assert open(report["plots"][key], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    text = format_report(report)
    assert "| **mean** |" in text and "of the ceiling" in text
    assert json.loads((out / "report.json").read_text())["realism"]["mean_overlap"] == realism["mean_overlap"]


def test_continuo_evaluate_refuses_a_realism_sample_of_no_length(tmp_path, capsys):
    from radio.cli import main
    from radio.music.midi_io import write_midi
    from radio.styles import get_style

    folder = tmp_path / "pieces"
    folder.mkdir()
    (folder / "a.mid").write_bytes(write_midi(piece_of(64), 112.0))
    rc = main(["evaluate", "--style", "folk", "--model", str(get_style("folk").model_path), "--pieces", str(folder),
               "--home", str(tmp_path / "home"), "--out-dir", str(tmp_path / "r"), "--realism-minutes", "0"])
    assert rc == 1 and "more than 0 seconds" in capsys.readouterr().err

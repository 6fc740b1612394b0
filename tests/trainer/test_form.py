"""The form measures (trainer/form.py): repetition, register drift, phrase ends and texture
within spans, generated beside real, and their place in ``continuo evaluate``.

Numpy only, no TensorFlow. Hand-built pieces with a known form stand in for real music; the
check on Bach chorales from ``../shared/corpus`` skips when it is not there.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from radio.music.notes import Span, from_spans, transpose, validate
from trainer.form import (
    MEASURE_NAMES,
    format_form_lines,
    form_report,
    phrase_ends,
    register_drift,
    repetition,
    span_bars_for,
    span_measures,
    spans_of,
    texture_stability,
)

BAR = 16


def bars_of(*bars: list[Span]) -> list:
    """A piece from bars of spans given relative to their bar's start."""
    return from_spans([Span(s.pitch, b * BAR + s.start, s.length) for b, bar in enumerate(bars) for s in bar], len(bars) * BAR)


def melody_bar(pitches: list[int], length: int = 4) -> list[Span]:
    return [Span(p, i * length, length) for i, p in enumerate(pitches)]


# Four bars that are not transpositions of one another (their contours differ), over a bass per bar.
STRAIN_A = [
    melody_bar([60, 62, 64, 65]) + [Span(48, 0, 16)],
    melody_bar([67, 65, 64, 62]) + [Span(43, 0, 16)],
    melody_bar([64, 64, 67, 72]) + [Span(45, 0, 16)],
    melody_bar([71, 67], length=8) + [Span(43, 0, 16)],
]


def aaba() -> list:
    a = bars_of(*STRAIN_A)
    return a + a + transpose(a, 5) + a


# --- repetition -----------------------------------------------------------------------------


def test_aaba_repeats_match_a_hand_count():
    piece = aaba()
    validate(piece)
    rep = repetition(piece)
    # bars 5-8 and 13-16 repeat bars 1-4 exactly; bars 9-12 (B, A up a fourth) only transposed
    assert rep.bars_exact == 8 / 16 and rep.bars_transposed == 12 / 16
    # 2-bar patterns: A is two of them, so the same count in pairs
    assert rep.pairs_exact == 4 / 8 and rep.pairs_transposed == 6 / 8
    report = form_report([piece], [piece], span_bars=16)
    assert report["spans"] == {"generated": 1, "real": 1}
    assert report["measures"]["bar_repeat_exact"]["generated"] == 0.5
    assert report["measures"]["bar_repeat_transposed"]["real"] == 0.75


def test_a_bar_repeated_with_other_ties_or_silence_is_no_exact_repeat():
    whole = [Span(60, 0, 16)]
    tied = bars_of([Span(60, 0, 32)], [])  # one note held through two bars: the second bar is all ties
    assert repetition(tied).bars_exact == 0.0
    silent = bars_of(whole, [], [], [])
    assert repetition(silent).bars_exact == 0.0 and repetition(silent).bars_transposed == 0.0
    moved = bars_of(melody_bar([60, 64, 67, 64]), melody_bar([62, 66, 69, 66]), melody_bar([62, 65, 69, 65]))
    rep = repetition(moved)
    assert rep.bars_exact == 0.0 and rep.bars_transposed == 1 / 3  # a whole step up: yes; a minor triad: no


def test_pairs_are_aligned_to_even_bars():
    a, b, c = (melody_bar(p) for p in ([60, 62, 64, 65], [67, 69, 71, 72], [72, 67, 64, 60]))
    # bars a b | c a | b c : the pattern "a b" recurs only across the bar line between pairs
    rep = repetition(bars_of(a, b, c, a, b, c))
    assert rep.bars_exact == 3 / 6 and rep.pairs_exact == 0.0
    rep = repetition(bars_of(a, b, c, a, a, b))
    assert rep.pairs_exact == 1 / 3


# --- register drift -------------------------------------------------------------------------


def test_a_line_climbing_a_step_a_bar_drifts_and_a_steady_one_does_not():
    climbing = bars_of(*(melody_bar([48 + 2 * b] * 4) for b in range(32)))
    drift = register_drift(climbing)
    # 8-bar windows average 48 + 2 * (8k + 3.5): std of k = 0..3 is sqrt(1.25), times 16 semitones
    assert drift.drift_8 == pytest.approx(16 * np.sqrt(1.25))
    assert drift.drift_4 == pytest.approx(8 * np.std(np.arange(8)))
    assert drift.shift_8 == pytest.approx(48.0)  # from the first window's mean to the last's, upward
    falling = bars_of(*(melody_bar([110 - 2 * b] * 4) for b in range(32)))
    assert register_drift(falling).shift_8 == pytest.approx(-48.0)
    steady = bars_of(*([melody_bar([60, 64, 67, 64]) + [Span(48, 0, 16)]] * 32))
    drift = register_drift(steady)
    assert drift.drift_8 == pytest.approx(0.0) and drift.drift_4 == pytest.approx(0.0) and drift.shift_8 == pytest.approx(0.0)


def test_drift_needs_two_windows():
    short = bars_of(*(melody_bar([60 + b] * 4) for b in range(12)))
    drift = register_drift(short)
    assert drift.drift_8 is None and drift.shift_8 is None  # one whole 8-bar window
    assert drift.drift_4 == pytest.approx(4 * np.std([0, 1, 2]))


# --- phrase ends ----------------------------------------------------------------------------


def eighths(pitches: list[int]) -> list[Span]:
    return [Span(p, 2 * i, 2) for i, p in enumerate(pitches)]


def phrased(bars: int, long_on: int = 3, bass: tuple[int, int] | None = None) -> list:
    """Running eighths, and a whole note on the downbeat of bar ``long_on`` of every 4; with
    ``bass`` = (before, on): the bass under the last beat before the long note, and under it."""
    out = []
    for b in range(bars):
        if b % 4 == long_on:
            bar = [Span(72, 0, 16)]
        else:
            bar = eighths([60, 62, 64, 65, 67, 65, 64, 62])
        if bass is not None:
            low = bass[1] if b % 4 == long_on else bass[0] if b % 4 == (long_on - 1) % 4 else 48
            bar.append(Span(low, 0, 16))
        out.append(bar)
    return bars_of(*out)


def test_long_notes_on_every_fourth_downbeat_close_on_bar_four():
    ends = phrase_ends(phrased(16))
    assert ends.closures == 4 and ends.positions == (0, 0, 0, 4)
    assert ends.per_phrase == 1.0 and ends.cadences is None  # a single line has no bass to move
    figures = span_measures(phrased(16))
    assert figures["closure_share_bar_4"] == 1.0 and figures["closure_share_bar_1"] == 0.0
    assert phrase_ends(phrased(16, long_on=1)).positions == (0, 4, 0, 0)


def test_a_rest_on_a_strong_beat_closes_but_a_held_note_across_it_does_not():
    rest = bars_of(eighths([60, 62, 64, 65, 67, 65, 64, 62]), eighths([60, 62, 64, 65]), [])
    ends = phrase_ends(rest)
    assert ends.closures == 1 and ends.positions == (0, 1, 0, 0)  # the rest begins on beat 8 of bar 2; bar 3's silence goes on
    # a note struck on beat 12 and tied over the bar line: bar 2's downbeat is held, not struck
    syncopated = bars_of(eighths([60, 62, 64, 65, 67, 65]) + [Span(64, 12, 8)],
                         [Span(p, 4 + 2 * i, 2) for i, p in enumerate([62, 60, 62, 64, 65, 67])])
    assert phrase_ends(syncopated).closures == 0


def test_a_bass_moving_by_a_fourth_or_fifth_onto_the_long_note_is_a_cadence():
    fourth_up = phrase_ends(phrased(16, bass=(43, 48)))  # G up to C
    fifth_down = phrase_ends(phrased(16, bass=(55, 48)))
    step = phrase_ends(phrased(16, bass=(50, 48)))  # D down to C: a close, but no authentic cadence
    assert fourth_up.closures == fifth_down.closures == step.closures == 4
    assert fourth_up.cadences == 4 and fifth_down.cadences == 4 and step.cadences == 0
    assert span_measures(phrased(16, bass=(43, 48)))["cadences_per_4_bars"] == 1.0


# --- texture --------------------------------------------------------------------------------


def test_a_steady_texture_varies_little_and_alternating_busy_and_empty_a_lot():
    busy = melody_bar([60, 62, 64, 65]) + [Span(48, 0, 8), Span(43, 8, 8)]
    steady = texture_stability(bars_of(*([busy] * 16)))
    assert steady.polyphony_cv == pytest.approx(0.0) and steady.onsets_cv == pytest.approx(0.0)
    alternating = texture_stability(bars_of(*([busy, busy, [], []] * 4)))
    # windows alternate x and 0: std x/2 over mean x/2
    assert alternating.polyphony_cv == pytest.approx(1.0) and alternating.onsets_cv == pytest.approx(1.0)
    assert texture_stability(bars_of(*([[]] * 8))).polyphony_cv is None  # silence has no texture


# --- spans and the report -------------------------------------------------------------------


def test_spans_keep_whole_spans_and_short_pieces_of_four_bars_or_more():
    piece = bars_of(*([melody_bar([60, 62, 64, 65])] * 40))
    assert [len(s) for s in spans_of([piece], 16)] == [256, 256]  # the 8-bar tail is dropped
    assert [len(s) for s in spans_of([piece[:6 * BAR + 5]], 16)] == [6 * BAR]  # whole bars of a short piece
    assert spans_of([piece[:3 * BAR]], 16) == []


@pytest.mark.parametrize("bars, expected", [([15.5, 16, 12, 20, 17], 16), ([18], 20), ([17.9], 16), ([100, 93], 64),
                                            ([2, 3], 8), ([], 16)])
def test_span_bars_is_the_median_piece_to_a_multiple_of_four(bars, expected):
    pieces = [[[]] * int(b * BAR) for b in bars]
    assert span_bars_for(pieces) == expected


@pytest.mark.parametrize("generated, real", [([], []), ([[]] * 40, []), ([], [[]] * 300), ([[]] * 300, [[]] * 3 * BAR)])
def test_too_little_music_gives_none_figures_and_a_reason(generated, real):
    report = form_report(generated, real, span_bars=16)
    assert "too little music" in report["reason"]
    assert set(report["measures"]) == set(MEASURE_NAMES)
    missing = [side for side, n in report["spans"].items() if n == 0]
    assert missing and all(report["measures"][m][side] is None for m in MEASURE_NAMES for side in missing)
    assert format_form_lines(report)[0].startswith("form: not measured (too little music")
    json.dumps(report)


def test_report_sides_and_table():
    rng = np.random.default_rng(0)
    real = [aaba(), aaba()[: 12 * BAR], phrased(16, bass=(43, 48))]
    generated = [bars_of(*(melody_bar(list(rng.integers(48, 84, 4))) for _ in range(48)))]
    report = form_report(generated, real, span_bars_for(real))
    assert report["span_bars"] == 16 and report["spans"] == {"generated": 3, "real": 3} and "reason" not in report
    rep = report["measures"]["bar_repeat_exact"]
    # AABA 8 of 16; AAB 4 of 12; the phrased piece's bar 2 repeats bar 1, then its 3 later phrases repeat: 13 of 16
    assert rep["generated"] == 0.0 and rep["real"] == pytest.approx((8 / 16 + 4 / 12 + 13 / 16) / 3)
    assert rep["real_range"][0] <= rep["real"] <= rep["real_range"][1]
    # quarter notes throughout: every strong beat is a long-enough note, and the texture never changes
    assert report["measures"]["closures_per_4_bars"]["generated"] == 8.0
    assert report["measures"]["texture_cv_onsets"]["generated"] == 0.0
    cadences = report["measures"]["cadences_per_4_bars"]
    assert cadences["generated"] is None and cadences["real"] > 0  # a single line has no bass; the real pieces have two voices
    assert "reason" in cadences
    lines = format_form_lines(report)
    assert lines[1] == "| measure | generated | real (10–90%) |" and len(lines) == 3 + len(MEASURE_NAMES) + 1
    assert any(line.startswith("| bar_repeat_exact | 0.00 | 0.55 (") for line in lines)
    json.dumps(report)


# --- real music ----------------------------------------------------------------------------


def test_bach_chorales_return_hold_their_register_and_close(corpus_dir):
    from radio.music.prepare import prepare_piece

    files = sorted((corpus_dir / "baroque").glob("bach_*.mid"))[:3]
    if len(files) < 3:
        pytest.skip(f"fewer than 3 Bach chorales in {corpus_dir / 'baroque'}")
    chorales = [prepare_piece(f).notes for f in files]
    report = form_report(chorales, chorales, span_bars_for(chorales))
    m = report["measures"]
    assert all(m[name]["generated"] == m[name]["real"] for name in MEASURE_NAMES)  # the same music, the same figures
    assert m["register_drift_4"]["real"] < 2.0 and m["closures_per_4_bars"]["real"] > 0.5
    assert m["cadences_per_4_bars"]["real"] > 0  # four voices: the bass moves by fourths and fifths into closes
    # Each bar lifted by a random step undoes the register and every repeat, and no more.
    rng = np.random.default_rng(0)
    lifted = [sum((transpose(c[b:b + BAR], int(rng.integers(-9, 10))) for b in range(0, len(c), BAR)), []) for c in chorales]
    lifted_report = form_report(lifted, chorales, span_bars_for(chorales))["measures"]
    assert lifted_report["register_drift_4"]["generated"] > 2 * m["register_drift_4"]["real"]
    assert lifted_report["bar_repeat_transposed"]["generated"] == m["bar_repeat_transposed"]["real"] > 0
    assert lifted_report["bar_repeat_exact"]["generated"] < m["bar_repeat_exact"]["real"]


# --- in `continuo evaluate` ---------------------------------------------------------------


def test_continuo_evaluate_reports_form(tmp_path, capsys):
    """A bundled model on a folder of pieces: numpy only, so no TensorFlow is needed."""
    pytest.importorskip("matplotlib")
    from radio.cli import main
    from radio.music.midi_io import write_midi
    from radio.styles import get_style
    from trainer.evaluate import format_report

    folder = tmp_path / "pieces"
    folder.mkdir()
    for i in range(3):
        (folder / f"piece{i}.mid").write_bytes(write_midi(transpose(aaba(), i), 112.0))
    rc = main(["evaluate", "--style", "folk", "--model", str(get_style("folk").model_path), "--pieces", str(folder),
               "--home", str(tmp_path / "home"), "--out-dir", str(tmp_path / "report"), "--realism-minutes", "0.5",
               "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    form = report["form"]
    # The realism sample is half a minute (224 beats), shorter than one 16-bar span; the form
    # measure takes the whole pieces sampled, as the station plays them: the 2-minute sample
    # (896 beats at 112 bpm) is two of folk's 32-bar planned pieces, so four 16-bar spans.
    assert report["realism"]["sample"]["beats"] == 224
    assert get_style("folk").form.beats == 512
    assert form["span_bars"] == 16 and form["spans"] == {"generated": 4, "real": 3}
    assert form["measures"]["bar_repeat_exact"]["real"] == 0.5 and form["measures"]["bar_repeat_transposed"]["real"] == 0.75
    text = format_report(report)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("discriminator"))
    assert lines[at + 2].startswith("form: within spans of 16 bars")
    assert lines[at + 3] == "| measure | generated | real (10–90%) |"

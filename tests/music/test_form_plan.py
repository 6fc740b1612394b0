"""The form plan: what a style's [form] table may say, and the sections it lays out."""

from __future__ import annotations

import pytest

from radio.errors import StyleError
from radio.music.form import FormPlan, parse_form
from radio.styles import discover_styles, load_style


def test_layout_marks_returns_and_their_replayed_bars():
    plan = parse_form({"sections": "ABA", "section_bars": 4, "repeat_bars": 3})
    a, b, a2 = plan.layout()
    assert (a.start, b.start, a2.start) == (0, 64, 128)
    assert plan.beats == 192
    assert a.returns_to is None and a.replay_beats == 0
    assert b.returns_to is None
    assert a2.returns_to == 0 and a2.replay_beats == 48


def test_sections_as_a_list_or_a_string():
    assert parse_form({"sections": ["A", "A", "B"]}).sections == parse_form({"sections": "A A B"}).sections


def test_an_empty_table_is_no_plan():
    plan = parse_form({})
    assert not plan.planned and plan.beats == 0 and plan.layout() == []


@pytest.mark.parametrize("table, word", [
    ({"sections": "AaB"}, "capital"),
    ({"sections": "AB", "section_bars": 0}, "section_bars"),
    ({"sections": "AB", "section_bars": 4, "repeat_bars": 5}, "repeat_bars"),
    ({"sections": "AB", "close_beat": 16}, "close_beat"),
    ({"sections": "AB", "cadence": -1}, "cadence"),
    ({"sections": "AB", "register_margin": -2}, "register_margin"),
    ({"sections": "AB", "section_bars": 2.5}, "integer"),
    ({"sections": "AB", "bars": 4}, "unknown"),
])
def test_bad_tables_say_what_is_wrong(table, word):
    with pytest.raises(ValueError, match=word):
        parse_form(table)


def test_a_bad_form_table_is_a_style_error_naming_the_file(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "style.toml").write_text('name = "Odd"\n[form]\nsections = "AB"\nrepeat_bars = 99\n', encoding="utf-8")
    with pytest.raises(StyleError, match=r"style\.toml.*repeat_bars"):
        load_style(folder)


def test_every_bundled_style_has_a_plan_that_sets_its_piece_length():
    styles = discover_styles()
    assert styles
    for style in styles.values():
        assert style.form.planned, style.name
        assert style.piece_beats == style.form.beats == len(style.form.sections) * style.form.section_bars * 16


def test_without_a_plan_a_piece_runs_piece_minutes(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "style.toml").write_text('tempo_bpm = 60\npiece_minutes = 2\n', encoding="utf-8")
    style = load_style(folder)
    assert style.form == FormPlan()
    assert style.piece_beats == 2 * 60 * 4  # 120 quarters of 4 sixteenths

"""Pieces with form: returns replay what was heard and the model carries on from them, the
closes and the register are steered, and the composer follows the plan."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from radio.model import load_model
from radio.music.form import FormPlan, parse_form
from radio.music.keys import estimate_key
from radio.music.notes import validate
from radio.station.composer import Composer, ComposerSettings
from radio.station.form import FormedPiece
from radio.styles import get_style


@pytest.fixture(scope="module")
def folk():
    return load_model(get_style("folk").model_path)


@pytest.fixture(scope="module")
def baroque():
    return load_model(get_style("baroque").model_path)


def test_follow_puts_the_sampler_where_the_followed_music_left_it(folk):
    drawn = folk.sampler(seed=1)
    heard = drawn.next_beats(40)
    other = folk.sampler(seed=99)
    assert other.follow(heard) == heard
    other.rng = copy.deepcopy(drawn.rng)  # the same dice from here on
    assert other.next_beats(24) == drawn.next_beats(24)


def test_follow_strikes_a_held_note_that_did_not_sound_before(folk):
    sampler = folk.sampler(seed=0)
    fed = sampler.follow([[(60, "s"), (64, "b")], [(60, "s"), (64, "s")]])
    assert fed == [[(60, "b"), (64, "b")], [(60, "s"), (64, "s")]]


def test_a_return_replays_its_section_then_the_model_varies_it(folk):
    plan = parse_form({"sections": "AAB", "section_bars": 4, "repeat_bars": 3})
    piece = FormedPiece(folk.sampler(seed=3), plan).next_beats(plan.beats)
    validate(piece)
    a, a2 = piece[0:64], piece[64:128]
    assert a2[:48] == a[:48]
    assert a2[48:] != a[48:], "the return's last bar should be composed afresh, not copied"


def test_a_formed_piece_is_the_same_whatever_the_chunks(folk):
    plan = get_style("folk").form
    whole = FormedPiece(folk.sampler(seed=5), plan).next_beats(plan.beats)
    piecewise = FormedPiece(folk.sampler(seed=5), plan)
    chunks = []
    for n in [1, 3, 7, 16, 5] * 40:
        if len(chunks) >= plan.beats:
            break
        chunks += piecewise.next_beats(min(n, plan.beats - len(chunks)))
    assert chunks == whole


def _closing_beats(model, plan: FormPlan, seeds) -> tuple[int, int]:
    """(struck notes of the tonic triad, struck notes) on every section's closing beat but the first section's."""
    in_triad = total = 0
    size = plan.section_bars * 16
    for seed in seeds:
        piece = FormedPiece(model.sampler(seed=seed), plan).next_beats(plan.beats)
        key = estimate_key(piece[:size])
        third = 4 if key.mode == "major" else 3
        triad = {key.tonic, (key.tonic + third) % 12, (key.tonic + 7) % 12}
        for start in range(size, plan.beats, size):
            beat = piece[start + size - 16 + plan.close_beat]
            struck = [p for p, tie in beat if tie == "b"]
            total += len(struck)
            in_triad += sum(p % 12 in triad for p in struck)
    return in_triad, total


def test_sections_close_on_the_tonic_chord_when_steered(baroque):
    plain = parse_form({"sections": "ABCD", "section_bars": 2, "close_beat": 8, "cadence": 0, "register_pull": 0})
    steered = dataclasses.replace(plain, cadence=4.0)
    hit0, n0 = _closing_beats(baroque, plain, range(6))
    hit1, n1 = _closing_beats(baroque, steered, range(6))
    assert n1 > 0 and hit1 / n1 >= 0.9
    assert hit1 / n1 > hit0 / max(n0, 1)


def test_after_the_close_the_section_holds_it(baroque):
    plan = parse_form({"sections": "ABCD", "section_bars": 2, "close_beat": 8, "cadence": 4.0, "register_pull": 0})
    struck_after = 0
    for seed in range(4):
        piece = FormedPiece(baroque.sampler(seed=seed), plan).next_beats(plan.beats)
        for start in range(32, plan.beats, 32):
            struck_after += sum(tie == "b" for beat in piece[start + 25:start + 32] for _, tie in beat)
    plain = dataclasses.replace(plan, cadence=0.0)
    struck_plain = 0
    for seed in range(4):
        piece = FormedPiece(baroque.sampler(seed=seed), plain).next_beats(plan.beats)
        for start in range(32, plan.beats, 32):
            struck_plain += sum(tie == "b" for beat in piece[start + 25:start + 32] for _, tie in beat)
    assert struck_after < struck_plain / 2


def _drift(piece, size: int) -> float:
    means = [np.mean([p for beat in piece[s:s + size] for p, _ in beat] or [np.nan]) for s in range(0, len(piece), size)]
    return float(np.nanstd(means))


def test_the_register_pull_holds_the_opening_register(folk):
    loose = parse_form({"sections": "ABCDEFGH", "section_bars": 4, "cadence": 0, "register_pull": 0})
    held = dataclasses.replace(loose, register_pull=2.0, register_tolerance=1.0, register_margin=0.0)
    seeds = range(5)
    drift_loose = np.mean([_drift(FormedPiece(folk.sampler(seed=s, temperature=1.3), loose).next_beats(loose.beats), 64) for s in seeds])
    drift_held = np.mean([_drift(FormedPiece(folk.sampler(seed=s, temperature=1.3), held).next_beats(held.beats), 64) for s in seeds])
    assert drift_held < 0.75 * drift_loose


class Echo:
    """A sampler without ``follow`` or ``logit_bias`` (as a frame model's): counts its beats."""

    def __init__(self) -> None:
        self.n = 0

    def next_beats(self, n: int):
        out = [[(48 + (self.n + i) % 24, "b")] for i in range(n)]
        self.n += n
        return out


def test_a_sampler_that_cannot_follow_still_gets_its_returns():
    plan = parse_form({"sections": "AB A", "section_bars": 1, "repeat_bars": 1})
    piece = FormedPiece(Echo(), plan).next_beats(plan.beats)
    assert piece[32:48] == piece[0:16]


def test_the_composer_plays_a_piece_as_long_as_its_plan(folk):
    style = dataclasses.replace(get_style("folk"), form=parse_form({"sections": "AB", "section_bars": 2}))
    composer = Composer(style, folk, seed=7, settings=ComposerSettings(chunk_beats=8, breath_beats=4))
    first = composer.next_chunk().piece
    while composer.next_chunk().piece is first:
        pass
    assert len(first.beats) == style.form.beats + 4  # the plan's 4 bars, then the breath


def _onset_cv(piece, size: int = 32) -> float:
    onsets = [sum(t == "b" for beat in piece[s:s + size] for _, t in beat) / size for s in range(0, len(piece) - size + 1, size)]
    return float(np.std(onsets) / np.mean(onsets))


def test_the_texture_pull_steadies_the_notes_struck_per_beat(baroque):
    loose = parse_form({"sections": "ABCDEFGH", "section_bars": 2, "cadence": 0, "register_pull": 0})
    steady = dataclasses.replace(loose, texture_pull=3.0, texture_tolerance=0.1)
    seeds = range(4)
    cv_loose = np.mean([_onset_cv(FormedPiece(baroque.sampler(seed=s, temperature=1.2), loose).next_beats(loose.beats)) for s in seeds])
    cv_steady = np.mean([_onset_cv(FormedPiece(baroque.sampler(seed=s, temperature=1.2), steady).next_beats(loose.beats)) for s in seeds])
    assert cv_steady < 0.8 * cv_loose

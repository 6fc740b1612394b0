"""Sampling invariants of the numpy beat sampler, on randomly initialised models."""

from __future__ import annotations

import numpy as np
import pytest

from radio.model import load_model, random_window
from radio.music.notes import HELD, to_spans, validate


def silent_runs(beats) -> list[int]:
    runs, run = [], 0
    for beat in beats:
        if beat:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    return runs + ([run] if run else [])


@pytest.mark.parametrize("fixture", ["continuo_model_file", "seed_model_file"])
@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_invariants_hold_across_many_calls(request, fixture, temperature):
    model = load_model(request.getfixturevalue(fixture))
    sampler = model.sampler(temperature=temperature, seed=7, max_note_beats=12, max_silence_beats=6)
    beats = []
    for n in [1, 5, 17, 64, 200, 3, 300]:
        chunk = sampler.next_beats(n)
        assert len(chunk) == n
        beats += chunk
    validate(beats)  # the stream is valid across calls: 's' only continues the previous beat
    assert max(s.length for s in to_spans(beats)) <= 12
    assert max(silent_runs(beats), default=0) <= 6
    assert any(beat for beat in beats)


def test_silence_is_recovered_even_when_the_model_wants_silence(continuo_model_file):
    model = load_model(continuo_model_file)
    count = model.encoding.count_slice
    model.network.head_bias[count] = -20.0
    model.network.head_bias[count.start] = 20.0  # "no notes" is all but certain
    beats = model.sampler(seed=1, max_silence_beats=8).next_beats(400)
    validate(beats)
    assert max(silent_runs(beats)) <= 8
    assert sum(1 for b in beats if b) >= 400 // 9


def test_long_notes_are_cut_at_the_maximum(continuo_model_file):
    model = load_model(continuo_model_file)
    enc = model.encoding
    bias = model.network.head_bias
    bias[enc.sound_slice] = -30.0
    bias[enc.sound_slice.start + 39] = 30.0  # pitch 60 always sounds
    bias[enc.struck_slice] = -30.0  # and is always held
    bias[enc.count_slice] = -30.0
    bias[enc.count_slice.start + 1] = 30.0
    model.network.head_kernel[:] = 0.0
    beats = model.sampler(seed=3, max_note_beats=10).next_beats(95)
    validate(beats)
    spans = to_spans(beats)
    assert {s.pitch for s in spans} == {60}
    assert [s.length for s in spans] == [10] * 9 + [5]


def test_sampling_is_not_argmax(continuo_model_file):
    model = load_model(continuo_model_file)
    a = model.sampler(seed=1).next_beats(64)
    b = model.sampler(seed=2).next_beats(64)
    assert a != b
    assert model.sampler(seed=1).next_beats(64) == a  # but a seed reproduces a stream


def test_primer_warms_the_state_and_first_beat_is_struck(continuo_model_file):
    model = load_model(continuo_model_file)
    primer = [[(60, "b"), (64, "b")], [(60, "s"), (64, "s")]] * 40
    window = random_window(primer, 32, np.random.default_rng(0))
    assert len(window) == 32 and all(t == "b" for _, t in window[0])
    beats = model.sampler(seed=5, primer=window).next_beats(50)
    validate(beats)
    assert all(tie != HELD for _, tie in beats[0])
    assert beats != model.sampler(seed=5).next_beats(50)


def test_invalid_primer_and_temperature_are_refused(continuo_model_file):
    model = load_model(continuo_model_file)
    with pytest.raises(ValueError):
        model.sampler(temperature=0)
    with pytest.raises(ValueError):
        model.sampler(primer=[[(60, "s")]])


def bundled_models():
    from radio.styles import discover_styles

    return [s.model_path for s in discover_styles().values() if s.model_path.is_file()]


@pytest.mark.parametrize("path", bundled_models(), ids=lambda p: p.parent.name)
def test_bundled_models_load_and_keep_the_invariants(path):
    model = load_model(path)
    assert path.stat().st_size <= 4 * 1024 * 1024
    sampler = model.sampler(seed=11, max_note_beats=24, max_silence_beats=8)
    beats = []
    for _ in range(20):
        beats += sampler.next_beats(50)
    validate(beats)
    assert max(s.length for s in to_spans(beats)) <= 24
    assert max(silent_runs(beats), default=0) <= 8
    assert all(21 <= p <= 108 for beat in beats for p, _ in beat)

"""SamplerSettings: the one record of how a sampler draws, checked in one place, and the
keyword arguments every sampler still takes."""

from __future__ import annotations

import dataclasses

import pytest

from radio.model import load_model
from radio.model.sampler_settings import SamplerSettings


@pytest.mark.parametrize("bad", [{"temperature": 0}, {"temperature": -1.0}, {"max_note_beats": 0},
                                 {"max_silence_beats": -1}, {"top_p": 0.0}, {"top_p": 1.5}, {"max_notes": 0}])
def test_a_bad_setting_is_refused_by_name(bad):
    (name,) = bad
    with pytest.raises(ValueError, match=name):
        SamplerSettings(**bad)


def test_settings_are_frozen_numbers():
    settings = SamplerSettings(temperature=1, max_note_beats=12.0)
    assert settings.temperature == 1.0 and isinstance(settings.temperature, float)
    assert settings.max_note_beats == 12 and isinstance(settings.max_note_beats, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.temperature = 2.0  # type: ignore[misc]
    assert SamplerSettings.of(settings, top_p=0.9) == SamplerSettings(1.0, 0.9, 12, 16, 10)
    with pytest.raises(TypeError):
        SamplerSettings.of(temprature=0.9)  # a misspelt setting is an error, not ignored


@pytest.mark.parametrize("fixture", ["continuo_model_file", "token_model_file"])
def test_a_settings_record_draws_what_its_keywords_draw(request, fixture):
    model = load_model(request.getfixturevalue(fixture))
    settings = SamplerSettings(temperature=0.8, top_p=0.9, max_note_beats=12, max_silence_beats=6, max_notes=5)
    by_record = model.sampler(seed=3, settings=settings)
    assert by_record.settings == settings
    by_keywords = model.sampler(seed=3, **dataclasses.asdict(settings))
    assert by_record.next_beats(120) == by_keywords.next_beats(120)

"""The model-kind registry (radio/model/kinds/): every kind round-trips, an unknown one is named,
and a kind registered in one place is picked up wherever kinds are listed or loaded."""

from __future__ import annotations

import pytest

from radio.cli import build_parser
from radio.errors import ModelFileError, StyleError
from radio.model import load_model
from radio.model.kinds import DEFAULT_KIND, KIND_NAMES, KINDS, ModelKind, kind, kind_of
from radio.model.modelfile import write_model_file
from radio.model.sampler import BeatSampler
from radio.model.token_sampler import TokenSampler
from radio.music.encoding import ENCODINGS, Encoding
from radio.music.notes import validate

FAKE = ModelKind(
    name="fake",
    encoding=Encoding("fake", 1, low=21, pitches=88, has_struck=True, has_position=True),
    description="a kind only this test knows",
    sampler=BeatSampler,
)


@pytest.fixture
def fake_kind(monkeypatch):
    """FAKE registered for one test: what a newcomer's new module plus one line in KINDS does."""
    monkeypatch.setitem(KINDS, FAKE.name, FAKE)
    return FAKE


def test_the_three_kinds_are_registered_with_token_the_default():
    assert list(KIND_NAMES) == ["token", "continuo", "seed"] and DEFAULT_KIND in KIND_NAMES


@pytest.mark.parametrize("name", list(KIND_NAMES))
def test_every_kind_round_trips_between_its_name_and_its_encoding(name):
    k = kind(name)
    assert k.name == k.encoding.name == name
    assert kind_of(k.encoding) is k
    assert ENCODINGS[name] is k.encoding  # radio/music's table of encodings agrees
    assert k.description and "%" not in k.description  # it goes into argparse help


def test_the_kinds_answer_what_their_callers_ask():
    token, continuo, seed = kind("token"), kind("continuo"), kind("seed")
    assert token.sampler is TokenSampler and continuo.sampler is seed.sampler is BeatSampler
    assert token.steerable and token.embedded and token.fine_tunes_from_base
    assert not any((continuo.steerable, continuo.embedded, continuo.fine_tunes_from_base, continuo.baseline))
    assert seed.baseline and not seed.steerable


@pytest.mark.parametrize("name", list(KIND_NAMES))
def test_a_model_file_of_each_kind_loads_with_its_kind_and_sampler(tmp_path, make_arrays, name):
    k = kind(name)
    path = tmp_path / f"{name}.npz"
    write_model_file(path, make_arrays(k.encoding, hidden=8), {"encoding": name, "encoding_version": k.encoding.version})
    model = load_model(path)
    assert model.kind is k and model.encoding is k.encoding
    assert isinstance(model.sampler(seed=0), k.sampler)


def test_an_unknown_kind_is_named_with_the_known_ones():
    with pytest.raises(StyleError, match=r"unknown model kind 'lstm'; choose one of token, continuo, seed"):
        kind("lstm")
    with pytest.raises(StyleError, match="unknown model kind"):
        kind_of(FAKE.encoding)  # not registered outside the fixture


def test_a_kind_must_share_its_encodings_name():
    with pytest.raises(ValueError, match="must be the same"):
        ModelKind(name="other", encoding=FAKE.encoding, description="x", sampler=BeatSampler)


def test_a_model_file_of_an_unregistered_kind_is_refused(tmp_path, make_arrays):
    path = tmp_path / "fake.npz"  # continuo's arrays, under a name this radio does not know
    write_model_file(path, make_arrays(kind("continuo").encoding, hidden=8), {"encoding": "fake", "encoding_version": 1})
    with pytest.raises(ModelFileError, match="uses encoding 'fake'; this radio knows token, continuo, seed"):
        load_model(path)


def test_a_registered_kind_is_listed_loaded_and_played(fake_kind, tmp_path, make_arrays, capsys):
    assert kind("fake") is fake_kind and "fake" in KIND_NAMES
    # `continuo train --model` takes it and describes it
    parser = build_parser()
    assert parser.parse_args(["train", "--style", "folk", "--model", "fake"]).model == "fake"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    assert "fake: a kind only this test knows" in " ".join(capsys.readouterr().out.split())
    # its model files load, with its encoding, and play through its sampler
    path = tmp_path / "fake.npz"
    write_model_file(path, make_arrays(fake_kind.encoding, hidden=8), {"encoding": "fake", "encoding_version": 1})
    model = load_model(path)
    assert model.kind is fake_kind and model.encoding is fake_kind.encoding
    beats = model.sampler(seed=1).next_beats(64)
    validate(beats)
    assert len(beats) == 64


def test_the_registry_never_imports_tensorflow_or_the_trainer():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"
        "import radio.model.kinds, radio.model\n"
        "assert not any(m == 'trainer' or m.startswith('trainer.') for m in sys.modules), 'the trainer was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

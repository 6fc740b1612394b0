"""The trainer's half of the model kinds (trainer/kinds/): one trainer per radio kind, under the
same name, and a kind added on both sides is trained, exported and loaded like the others."""

from __future__ import annotations

import pytest

from radio.errors import StyleError
from radio.model import load_model
from radio.model.kinds import KIND_NAMES, KINDS, ModelKind, kind
from radio.model.sampler import BeatSampler
from radio.music.encoding import Encoding
from trainer.kinds import TRAINERS, FrameTrainer, trainer_kind, trainer_kind_of

FAKE = ModelKind(
    name="fake",
    encoding=Encoding("fake", 1, low=21, pitches=88, has_struck=False, has_position=True),
    description="frames without struck bits, only this test knows",
    sampler=BeatSampler,
)
FAKE_TRAINER = FrameTrainer(FAKE, hyperparameter_defaults={"window": 32, "stride": 16})


@pytest.fixture
def fake_kind(monkeypatch):
    """FAKE registered on both sides, as a new kind's two modules and two registry lines do."""
    monkeypatch.setitem(KINDS, FAKE.name, FAKE)
    monkeypatch.setitem(TRAINERS, FAKE.name, FAKE_TRAINER)
    return FAKE_TRAINER


def test_every_radio_kind_has_its_trainer_under_the_same_name():
    assert list(TRAINERS) == list(KIND_NAMES)
    for name in KIND_NAMES:
        trainer = trainer_kind(name)
        assert trainer.name == name and trainer.model is kind(name)
        assert trainer_kind_of(kind(name).encoding) is trainer


def test_each_kind_is_judged_by_its_own_nll():
    assert trainer_kind("token").primary_nll == "nll_full"
    assert trainer_kind("continuo").primary_nll == trainer_kind("seed").primary_nll == "nll_sounding"


def test_unknown_and_untrained_kinds_are_named(monkeypatch):
    with pytest.raises(StyleError, match="unknown model kind 'lstm'"):
        trainer_kind("lstm")
    monkeypatch.setitem(KINDS, FAKE.name, FAKE)  # the radio knows it; the trainer was never told
    with pytest.raises(StyleError, match="'fake' has no trainer .*; this trainer trains token, continuo, seed"):
        trainer_kind("fake")


def test_train_refuses_an_unknown_kind_before_any_work(tmp_path):
    from trainer.train import TrainConfig, train_style

    with pytest.raises(StyleError, match="unknown model kind 'lstm'"):
        train_style(TrainConfig(style="folk", model="lstm", home=tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.train
def test_hyperparameter_defaults_come_from_the_kind(tf, fake_kind):
    from trainer.models import HyperParameters

    token = HyperParameters.for_model("token", hidden=8)
    assert (token.window, token.stride, token.dropout, token.batch, token.hidden) == (384, 384, 0.3, 32, 8)
    assert HyperParameters.for_model("continuo") == HyperParameters()
    assert HyperParameters.for_model("fake").window == 32


@pytest.mark.train
def test_a_kind_added_on_both_sides_trains_exports_and_plays(tf, fake_kind, tiny_home, tmp_path):
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    hp = HyperParameters.for_model("fake", hidden=8, batch=8, patience=2)
    out = tmp_path / "fake.npz"
    result = train_style(TrainConfig(style="folk", model="fake", home=tiny_home, out=out, epochs=1, seed=3, hp=hp,
                                     show_bar=False))
    model = load_model(out)
    assert model.kind is FAKE and model.header["hyperparameters"]["window"] == 32
    assert result.metrics["model"]["nll_sounding"] > 0  # scored by the frame kinds' measure
    assert len(model.sampler(seed=1).next_beats(32)) == 32

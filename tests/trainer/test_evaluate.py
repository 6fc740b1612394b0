"""``continuo evaluate`` on a tiny trained model: the JSON report, the baselines and the PNGs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radio.cli import main
from radio.music.midi_io import write_midi

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def tiny_models(tf, tiny_home, tmp_path_factory):
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    folder = tmp_path_factory.mktemp("models")
    hp = HyperParameters(hidden=8, batch=8)
    for kind in ("continuo", "seed"):
        train_style(TrainConfig(style="folk", model=kind, home=tiny_home, out=folder / f"{kind}.npz", epochs=1, hp=hp, show_bar=False))
    return folder


def test_evaluate_json_on_the_validation_split(tiny_home, tiny_models, tmp_path, capsys):
    out_dir = tmp_path / "report"
    rc = main(["evaluate", "--style", "folk", "--model", str(tiny_models / "continuo.npz"), "--home", str(tiny_home),
               "--seed-model", str(tiny_models / "seed.npz"), "--out-dir", str(out_dir), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["style"] == "folk" and report["pieces"] == 1 and report["beats"] > 300
    nll = report["nll_per_beat"]
    assert set(nll) == {"model", "seed", "unigram"} and all(np.isfinite(v) and v > 0 for v in nll.values())
    assert report["nll_full_per_beat"]["model"] >= nll["model"]
    assert 0 <= report["in_scale"] <= 1 and report["polyphony"] >= 0
    sample = report["sample"]
    assert sample["beats"] == 4 * 2 * 112  # two minutes at the folk style's 112 bpm
    assert abs(sum(sample["note_length"]["distribution"].values()) - 1) < 1e-9
    assert 0 < sample["repetitiveness"]["distinct_fraction"] <= 1 and sample["pitch_range"][0] <= sample["pitch_range"][1]
    assert report["corpus"]["in_scale"] == 1.0  # the synthetic corpus is all C major
    realism = report["realism"]
    assert realism["ceiling"]["basis"] == "one piece cut in two"  # one validation piece
    assert realism["sample"]["beats"] == report["beats"]  # the held-out piece is shorter than 10 minutes
    assert all(0 <= v["overlap"] <= 1 for v in realism["features"].values()) and 0 < realism["mean_ceiling"] <= 1
    for png in report["plots"].values():
        assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out_dir / "report.json").read_text())["nll_per_beat"] == nll


def test_evaluate_on_a_folder_of_pieces(tiny_models, tmp_path, capsys):
    pieces = tmp_path / "pieces"
    pieces.mkdir()
    (pieces / "a.mid").write_bytes(write_midi([[(60, "b"), (64, "b")], [(60, "s"), (64, "s")]] * 100, 120.0))
    (pieces / "broken.mid").write_bytes(b"MThd nonsense")
    rc = main(["evaluate", "--style", "folk", "--model", str(tiny_models / "continuo.npz"), "--pieces", str(pieces),
               "--home", str(tmp_path / "nohome"), "--out-dir", str(tmp_path / "r")])
    text = capsys.readouterr().out
    assert rc == 0 and "held out: 1 pieces, 200 beats" in text and "seed n/a" in text
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["skipped"][0]["piece"].endswith("broken.mid")


def test_evaluate_refuses_a_corrupt_model(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    rc = main(["evaluate", "--style", "folk", "--model", str(bad), "--pieces", str(tmp_path)])
    assert rc == 1 and "corrupt or truncated" in capsys.readouterr().err


def test_evaluate_defaults_to_the_model_continuo_train_wrote(tiny_home, tiny_models, tmp_path, capsys):
    import shutil

    home = tmp_path / "home"
    shutil.copytree(tiny_home, home)
    trained = home / "models" / "folk" / "continuo.npz"
    trained.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_models / "continuo.npz", trained)
    rc = main(["evaluate", "--style", "folk", "--home", str(home), "--out-dir", str(tmp_path / "r"), "--json"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["model_path"] == str(trained)


def test_evaluate_reports_every_figure_against_the_base_too(tf, tiny_home, tiny_models, tmp_path, capsys):
    from trainer.models import HyperParameters
    from trainer.train import BASE_STYLE, TrainConfig, train_style

    hp = HyperParameters.for_model("token", hidden=8, batch=8)
    base = train_style(TrainConfig(style=BASE_STYLE, model="token", home=tiny_home, out=tmp_path / "base.npz", epochs=1,
                                   hp=hp, show_bar=False, seed=0))
    tuned = train_style(TrainConfig(style="folk", model="token", home=tiny_home, out=tmp_path / "folk.npz", epochs=1,
                                    hp=hp, show_bar=False, seed=0, init_from=base.model_path))
    rc = main(["evaluate", "--style", "folk", "--model", str(tuned.model_path), "--home", str(tiny_home),
               "--base", str(base.model_path), "--out-dir", str(tmp_path / "r"), "--json"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    against = report["base"]
    assert against["version"] == base.version and np.isfinite(against["nll_full"])
    assert against["nll_full"] != report["nll_full_per_beat"]["model"]  # two models, two figures
    assert 0 < against["realism"]["mean_overlap"] <= 1
    # The base itself is not compared with itself.
    rc = main(["evaluate", "--style", "folk", "--model", str(base.model_path), "--home", str(tiny_home),
               "--base", str(base.model_path), "--out-dir", str(tmp_path / "r2")])
    assert rc == 0 and "against the bundled base" not in capsys.readouterr().out

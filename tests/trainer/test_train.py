"""Training a tiny model end to end, the JSON-lines contract, and bad inputs that must leave no model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radio.cli import main
from radio.errors import StyleError
from radio.model import load_model
from radio.music.notes import validate

pytestmark = pytest.mark.train


def tiny_config(home, out, **kwargs):
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig

    model = kwargs.pop("model", "token")
    hp = HyperParameters.for_model(model, hidden=8, batch=8, patience=2)
    return TrainConfig(style="folk", model=model, home=home, out=out, epochs=2, seed=3, hp=hp, show_bar=False, **kwargs)


@pytest.mark.parametrize("kind", ["token", "continuo"])
def test_train_exports_a_model_with_metrics_and_plot(tf, tiny_home, tmp_path, kind):
    from trainer.train import train_style

    events = []
    result = train_style(tiny_config(tiny_home, tmp_path / "m.npz", model=kind), emit=events.append)
    assert [e["event"] for e in events] == ["start", "epoch", "epoch", "done"]
    assert events[-1]["model_path"] == str(tmp_path / "m.npz")
    model = load_model(tmp_path / "m.npz")
    header = model.header
    assert header["style"] == "folk" and header["hyperparameters"]["hidden"] == 8
    ids = {p["id"] for p in header["training"]["pieces"]}
    val = {p["id"] for p in header["training"]["validation"]}
    assert len(ids) == 9 and len(val) == 1 and not ids & val  # split by piece
    metrics = header["metrics"]
    assert metrics["held_out"]["pieces"] == 1 and metrics["epochs_run"] == 2
    assert model.encoding.name == kind
    if kind == "token":  # exact per-beat likelihood only: no per-pitch marginals
        assert np.isfinite(metrics["model"]["nll_full"]) and metrics["model"]["grammar_violations"] == 0
        assert metrics["model"]["nll_full"] == pytest.approx(metrics["model"]["nll_per_token"] * metrics["model"]["tokens_per_beat"])
        assert events[-1]["metrics"]["nll_full_per_beat"]["model"] == pytest.approx(metrics["model"]["nll_full"])
    for name in ("model", "unigram") if kind == "continuo" else ("unigram",):
        assert np.isfinite(metrics[name]["nll_sounding"]) and np.isfinite(metrics[name]["nll_full"])
        assert metrics[name]["nll_full"] >= metrics[name]["nll_sounding"]
    assert len(header["baseline"]["unigram"]["sound"]) == 128
    assert result.loss_png.is_file() and result.loss_png.stat().st_size > 1000
    beats = model.sampler(seed=1).next_beats(300)
    validate(beats)


def test_same_seed_same_split_and_time_budget(tf, tiny_home, tmp_path):
    from trainer.train import train_style

    cfg = tiny_config(tiny_home, tmp_path / "a.npz", minutes=1e-4)
    cfg.epochs = 50
    result = train_style(cfg)
    assert result.metrics["stopped_by"] == "time budget" and result.metrics["epochs_run"] == 1
    again = load_model(tmp_path / "a.npz").header["training"]["validation"]
    assert again == [{"id": p.id, "sha256": p.sha256} for p in result.data.val]


def test_cli_progress_jsonl_contract(tf, tiny_home, tmp_path, capsys):
    out = tmp_path / "cli.npz"
    rc = main(["train", "--style", "folk", "--home", str(tiny_home), "--out", str(out), "--epochs", "1",
               "--hidden", "8", "--model", "seed", "--progress-jsonl"])
    assert rc == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"event": "start", "style": "folk", "epochs": 1, "model": "seed"}
    epoch = lines[1]
    assert set(epoch) == {"event", "epoch", "epochs", "loss", "val_loss", "progress", "elapsed_s"}
    assert epoch["event"] == "epoch" and epoch["progress"] == 1.0 and epoch["val_loss"] > 0
    done = lines[-1]
    assert done["event"] == "done" and done["model_path"] == str(out)
    assert set(done["metrics"]["nll_per_beat"]) == {"model", "unigram"}
    assert load_model(out).encoding.name == "seed"


def test_unknown_style_is_a_clean_error_with_an_error_event(tf, tiny_home, tmp_path, capsys):
    out = tmp_path / "x.npz"
    rc = main(["train", "--style", "no-such-style", "--home", str(tiny_home), "--out", str(out), "--progress-jsonl"])
    captured = capsys.readouterr()
    assert rc == 1 and "unknown style 'no-such-style'" in captured.err
    event = json.loads(captured.out.strip().splitlines()[-1])
    assert event["event"] == "error" and "no-such-style" in event["message"]
    assert not out.exists()


def test_style_without_enough_music(tf, tmp_path, library_factory):
    from trainer.dataset import TrainingDataError
    from trainer.train import train_style

    empty = tmp_path / "empty"
    with pytest.raises(StyleError, match="no pieces of style 'folk'"):
        train_style(tiny_config(empty, tmp_path / "e.npz"))
    short = library_factory(tmp_path / "short", "folk", 2, beats=16)  # ≤ 128 beats in all: less than a window
    with pytest.raises(TrainingDataError, match="more beats than one 128-beat window"):
        train_style(tiny_config(short, tmp_path / "s.npz"))
    one = library_factory(tmp_path / "one", "folk", 1, beats=400)
    with pytest.raises(TrainingDataError, match="at least 2 pieces"):
        train_style(tiny_config(one, tmp_path / "o.npz"))
    assert not any(p.suffix == ".npz" for p in tmp_path.rglob("*"))


def test_failure_after_training_leaves_no_model(tf, tiny_home, tmp_path, monkeypatch):
    import trainer.train

    def broken(*args, **kwargs):
        raise KeyboardInterrupt  # as if the job were cancelled while evaluating

    monkeypatch.setattr(trainer.train, "held_out_metrics", broken)
    out = tmp_path / "m.npz"
    with pytest.raises(KeyboardInterrupt):
        trainer.train.train_style(tiny_config(tiny_home, out))
    assert list(tmp_path.iterdir()) == []


def test_existing_model_survives_a_failed_retrain(tf, tmp_path, library_factory):
    from trainer.train import train_style

    out = tmp_path / "m.npz"
    out.write_bytes(b"the old model")
    short = library_factory(tmp_path / "short", "folk", 2, beats=32)
    with pytest.raises(Exception):
        train_style(tiny_config(short, out))
    assert out.read_bytes() == b"the old model"


def test_train_without_tensorflow_says_so(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from radio.cli import main\n"
        f"sys.exit(main(['train', '--style', 'folk', '--home', {str(tmp_path)!r}, '--progress-jsonl']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "training needs TensorFlow" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["event"] == "error"


def test_a_run_continues_from_an_earlier_model_on_the_same_split(tf, tiny_home, tmp_path):
    from radio.errors import ModelFileError
    from trainer.train import train_style

    first = train_style(tiny_config(tiny_home, tmp_path / "a.npz"))
    more = train_style(tiny_config(tiny_home, tmp_path / "b.npz", init_from=tmp_path / "a.npz"))
    assert load_model(tmp_path / "b.npz").header["continued_from"] == first.version
    # It starts where the first run stopped, not from scratch.
    assert more.history["loss"][0] < first.history["loss"][0]
    with pytest.raises(ModelFileError, match="same --hidden"):
        cfg = tiny_config(tiny_home, tmp_path / "c.npz", init_from=tmp_path / "a.npz")
        cfg.hp.hidden = 12
        train_style(cfg)
    from trainer.train import check_continuation

    other = type(first.data)("folk", first.data.val, first.data.train)  # the held-out piece now trained on
    with pytest.raises(StyleError, match="validated on other pieces"):
        check_continuation(tmp_path / "a.npz", other)
    assert check_continuation(tmp_path / "a.npz", first.data) == first.version
    assert not (tmp_path / "c.npz").exists()


def test_the_bundle_replaces_a_model_only_when_nll_and_realism_both_improve():
    from trainer.bundle import decide

    def fig(nll, realism):
        return {"nll_full": nll, "realism": {"mean_overlap": realism}}

    assert decide(None, fig(3.0, 0.8))[0]
    assert decide(fig(3.2, 0.8), fig(3.0, 0.85))[0]
    accepted, reason = decide(fig(3.2, 0.8), fig(3.0, 0.75))
    assert not accepted and "realism 0.800 -> 0.750 (not better)" in reason
    assert not decide(fig(3.0, 0.8), fig(3.1, 0.9))[0]

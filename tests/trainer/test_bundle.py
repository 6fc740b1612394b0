"""`make train` end to end on a tiny corpus: the base first, then a style fine-tuned from it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from radio.config import REPO_ROOT
from radio.model import load_model

pytestmark = pytest.mark.train


def write_corpus(root, styles: dict[str, int], synthetic_piece):
    from radio.music.midi_io import write_midi

    rng = np.random.default_rng(0)
    for style, n in styles.items():
        (root / style).mkdir(parents=True)
        for i in range(n):
            (root / style / f"{style}_{i}.mid").write_bytes(write_midi(synthetic_piece(rng, 320), 120.0))
    return root


def test_make_train_builds_the_base_then_fine_tunes_each_style_from_it(tf, tmp_path, monkeypatch, piece_factory):
    import radio.audio.calibrate
    from trainer.bundle import main

    corpus = write_corpus(tmp_path / "corpus", {"folk": 8, "reel": 6}, piece_factory)
    styles = tmp_path / "styles"
    shutil.copytree(REPO_ROOT / "styles" / "folk", styles / "folk")
    bundled = load_model(styles / "folk" / "model.npz").version
    calibrated = []
    monkeypatch.setattr(radio.audio.calibrate, "main", lambda argv: calibrated.append(argv) or 0)
    rc = main(["--corpus", str(corpus), "--styles", "folk", "--styles-dir", str(styles), "--home", str(tmp_path / "home"),
               "--base-minutes", "0.02", "--minutes", "0.02", "--hidden", "8", "--epochs", "1", "--threads", "1"])
    assert rc == 0
    base = load_model(styles / "base" / "model.npz")
    assert base.header["style"] == "base" and base.header["training"]["library_styles"] == ["folk", "reel"]
    assert not (styles / "base" / "style.toml").exists()  # the base is no channel
    md = (styles / "base" / "TRAINING.md").read_text()
    assert "| folk |" in md and "| reel |" in md and "replaced the bundled one" in md
    candidate = load_model(tmp_path / "home" / "models" / "folk" / "token.npz")
    assert candidate.header["fine_tuned_from"]["version"] == base.version
    # The base held out of each style what the style's own run holds out.
    base_val = {p["id"] for p in base.header["training"]["validation"]}
    assert {p["id"] for p in candidate.header["training"]["validation"]} <= base_val
    training = (styles / "folk" / "TRAINING.md").read_text()
    assert f"fine-tune of the base model `{base.version}`" in training
    # A tiny 8-unit candidate cannot beat the bundled folk model: the gate keeps the old one.
    assert "The bundled model was kept" in training and load_model(styles / "folk" / "model.npz").version == bundled
    assert calibrated and "folk" in calibrated[0]

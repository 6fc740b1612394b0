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
    import radio.commands.calibrate
    from trainer.bundle import main

    corpus = write_corpus(tmp_path / "corpus", {"folk": 8, "reel": 6}, piece_factory)
    styles = tmp_path / "styles"
    shutil.copytree(REPO_ROOT / "styles" / "folk", styles / "folk")
    bundled = load_model(styles / "folk" / "model.npz").version
    calibrated = []
    monkeypatch.setattr(radio.commands.calibrate, "main", lambda argv: calibrated.append(argv) or 0)
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


def test_a_style_setting_is_rewritten_in_place(tmp_path):
    from radio.errors import StyleError
    from radio.style_file import set_style_value
    from radio.styles import load_style

    folder = tmp_path / "baroque"
    shutil.copytree(REPO_ROOT / "styles" / "baroque", folder)
    before = (folder / "style.toml").read_text().splitlines()
    set_style_value(folder / "style.toml", "temperature", 1.1)
    after = (folder / "style.toml").read_text().splitlines()
    assert load_style(folder).temperature == 1.1
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 1
    assert changed[0][1].startswith("temperature = 1.1") and "# sampling temperature" in changed[0][1]
    with pytest.raises(StyleError, match="no top-level 'gain_db'"):  # a key inside a table is not top-level
        set_style_value(folder / "style.toml", "gain_db", 1.0)


def test_the_sampling_is_chosen_on_training_pieces(tf, tiny_home, tmp_path):
    from trainer.sampling_choice import FINALISTS, TEMPERATURES, TOP_PS, Sampling, choose_sampling
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig, train_style

    hp = HyperParameters.for_model("token", hidden=8, batch=8)
    run = train_style(TrainConfig(style="folk", model="token", home=tiny_home, out=tmp_path / "m.npz", epochs=1, hp=hp,
                                  show_bar=False))
    chosen, tried, final = choose_sampling(load_model(run.model_path), run.data.train, 112.0)
    assert {Sampling(t) for t in TEMPERATURES} <= set(tried)
    # Each narrower nucleus is tried at the best whole-distribution temperature and hotter ones.
    best = max((s for s in tried if s.top_p == 1.0), key=tried.get).temperature
    for top_p in TOP_PS:
        assert Sampling(best, top_p) in tried and all(s.temperature >= best for s in tried if s.top_p == top_p)
    assert len(set(tried.values())) > 1  # the setting changes the music
    # The grid's best few are scored again on more samples, and the best of those is chosen.
    assert set(final) == set(sorted(tried, key=tried.get, reverse=True)[:FINALISTS])
    assert final[chosen] == max(final.values())


def test_the_gate_averages_the_realism_of_several_samples():
    from trainer.sampling_choice import mean_realism

    def report(seed, a, b):
        return {"features": {"pitch": {"overlap": a, "kl": 1.0, "ceiling_overlap": 0.9}, "length": {"overlap": b, "kl": 3.0, "ceiling_overlap": 0.8}},
                "mean_overlap": (a + b) / 2, "mean_ceiling": 0.85, "sample": {"seed": seed}}

    one, two = report(0, 0.8, 0.6), report(1, 0.9, 0.9)
    mean = mean_realism([one, two])
    assert mean["features"]["pitch"]["overlap"] == pytest.approx(0.85)
    assert mean["features"]["length"]["overlap"] == pytest.approx(0.75)
    assert mean["mean_overlap"] == pytest.approx(0.8)
    assert mean["features"]["pitch"]["ceiling_overlap"] == 0.9
    assert mean["seeds"] == [{"seed": 0, "mean_overlap": 0.7}, {"seed": 1, "mean_overlap": 0.9}]
    assert one["mean_overlap"] == 0.7  # the inputs are left alone


def test_the_gate_hears_whole_pieces_to_the_form_plan(monkeypatch, piece_factory):
    """The sampling choice and the before/after realism judge the channel's music: pieces to the
    style's form plan, each from a fresh sampler, not one endless stream (a sharp fine-tune keeps
    one tune's rhythm for as long as a stream lasts)."""
    from types import SimpleNamespace

    import trainer.evaluate
    from radio.music.form import FormPlan
    from radio.station.composer import planned_music
    from trainer.sampling_choice import choose_sampling

    model = load_model(REPO_ROOT / "styles" / "folk" / "model.npz")
    plan = FormPlan(sections=("A", "B"), section_bars=1)
    stream = trainer.evaluate.station_stream(model, plan, 100, temperature=1.0, seed=3)
    pieces = planned_music(model, plan, beats=100, temperature=1.0, seed=3)
    assert len(pieces) == 4 and stream == [beat for piece in pieces for beat in piece]
    assert stream != model.sampler(temperature=1.0, seed=3).next_beats(len(stream))  # not one stream

    plans = []
    real = trainer.evaluate.station_stream

    def spy(model, plan, beats, **kwargs):
        plans.append(plan)
        return real(model, plan, beats, **kwargs)

    monkeypatch.setattr(trainer.evaluate, "station_stream", spy)
    rng = np.random.default_rng(0)
    train = [SimpleNamespace(notes=piece_factory(rng, 48)) for _ in range(2)]
    chosen, tried, final = choose_sampling(model, train, 112.0, plan)
    assert plans and all(p is plan for p in plans) and final[chosen] == max(final.values())


def test_a_soup_averages_two_fine_tunes_of_one_base_and_refuses_others(tmp_path):
    from radio.model.modelfile import read_model_file
    from trainer.bundle import write_soup
    from trainer.export import amend_header

    candidate, sibling = tmp_path / "token.npz", tmp_path / "sibling.npz"
    shutil.copyfile(REPO_ROOT / "styles" / "folk" / "model.npz", candidate)
    shutil.copyfile(REPO_ROOT / "styles" / "renaissance" / "model.npz", sibling)
    out = write_soup(candidate, sibling, 0.25)
    assert out == tmp_path / "token.soup.npz" and candidate.is_file()  # the trained candidate stays
    header, mixed, _ = read_model_file(out)
    _, ours, _ = read_model_file(candidate)
    _, theirs, _ = read_model_file(sibling)
    for name, a in mixed.items():
        assert np.allclose(a, 0.25 * ours[name] + 0.75 * theirs[name], atol=2e-3, rtol=2e-3)
    assert header["soup"]["weight"] == 0.25 and header["soup"]["sibling"] == load_model(sibling).version
    assert header["training"] == load_model(candidate).header["training"]  # still validated on the candidate's split

    with pytest.raises(SystemExit, match="soup-weight"):
        write_soup(candidate, sibling, 1.5)
    amend_header(sibling, fine_tuned_from=None, style="elsewhere")  # trained from scratch: no shared coordinates
    with pytest.raises(SystemExit, match="not a fine-tune of the base"):
        write_soup(candidate, sibling, 0.5)


def test_sampling_only_changes_a_style_only_when_the_held_out_music_agrees(tmp_path, monkeypatch):
    """``make train --sampling-only`` chooses the bundled model's settings again on its training
    pieces; style.toml takes them only if their music is also closer to the held-out pieces, and
    TRAINING.md keeps one section on it however often it runs."""
    from types import SimpleNamespace

    import trainer.bundle as bundle
    import trainer.evaluate
    from radio.styles import load_style
    from trainer.sampling_choice import Sampling

    styles = tmp_path / "styles"
    shutil.copytree(REPO_ROOT / "styles" / "folk", styles / "folk")
    shutil.copytree(REPO_ROOT / "styles" / "base", styles / "base")
    before = load_style(styles / "folk")
    old = Sampling(before.temperature, before.top_p)
    new = Sampling(0.95, 0.9)
    assert new != old
    held_out = {}

    def realism(mean):
        return {"mean_overlap": mean, "mean_ceiling": 0.9,
                "features": {"pitch_class": {"overlap": mean, "ceiling_overlap": 0.9}}}

    evaluated = []
    monkeypatch.setattr(bundle, "existing_run", lambda config, path: SimpleNamespace(data=SimpleNamespace(train=["piece"])))
    monkeypatch.setattr(bundle, "choose_sampling", lambda model, train, bpm, plan: (new, {old: 0.8, new: 0.85}, {new: 0.84}))
    monkeypatch.setattr(trainer.evaluate, "held_out_from_library", lambda model, home: SimpleNamespace(pieces=["a", "b"]))
    monkeypatch.setattr(bundle, "held_out_realism", lambda model, pieces, info, sampling: realism(held_out[sampling]))
    monkeypatch.setattr(trainer.evaluate, "evaluate", lambda style, **kw: evaluated.append(kw) or {})
    args = bundle.parse_args(["--corpus", str(tmp_path), "--styles-dir", str(styles), "--home", str(tmp_path / "home"),
                              "--sampling-only"])

    held_out.update({old: 0.90, new: 0.88})  # closer on the training pieces, not on the held-out ones
    result = bundle.resample_style("folk", args, "make train --sampling-only")
    assert not result["accepted"] and load_style(styles / "folk") == before and not evaluated
    md = (styles / "folk" / "TRAINING.md").read_text()
    assert md.count(bundle.RESAMPLE_HEADING) == 1 and f"`style.toml` keeps {old}." in md

    held_out.update({old: 0.86, new: 0.88})  # closer on both: the style takes it
    result = bundle.resample_style("folk", args, "make train --sampling-only")
    after = load_style(styles / "folk")
    assert result["accepted"] and (after.temperature, after.top_p) == (0.95, 0.9)
    assert evaluated and evaluated[0]["styles_root"] == styles
    md = (styles / "folk" / "TRAINING.md").read_text()
    assert md.count(bundle.RESAMPLE_HEADING) == 1 and "`style.toml` now plays at 0.95 with top_p 0.9" in md
    assert md.startswith("# folk") and "## Before and after" in md  # the rest of the file is left as it was

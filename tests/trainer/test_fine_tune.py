"""The shared base and its fine-tunes: the base learns every library style, a style starts from
it, held-out pieces stay unseen through the whole lineage, and a budgeted run uses its budget."""

from __future__ import annotations

import json

import numpy as np
import pytest

from radio.cli import main
from radio.model import load_model

pytestmark = pytest.mark.train


def tiny(home, out, style="folk", **kwargs):
    from trainer.models import HyperParameters
    from trainer.train import TrainConfig

    hp = HyperParameters.for_model("token", hidden=8, batch=8, patience=2)
    return TrainConfig(style=style, model="token", home=home, out=out, epochs=1, seed=3, hp=hp, show_bar=False, **kwargs)


@pytest.fixture(scope="module")
def two_styles(tmp_path_factory, library_factory):
    """A library with 10 'folk' pieces and 6 'reel' pieces."""
    home = tmp_path_factory.mktemp("two-styles")
    library_factory(home, "folk", 10)
    library_factory(home, "reel", 6, seed=1)
    return home


@pytest.fixture(scope="module")
def base(tf, two_styles, tmp_path_factory):
    from trainer.train import BASE_STYLE, train_style

    out = tmp_path_factory.mktemp("base") / "base.npz"
    return train_style(tiny(two_styles, out, style=BASE_STYLE))


def ids(pieces) -> list[str]:
    return [p["id"] if isinstance(p, dict) else p.id for p in pieces]


def test_the_base_learns_every_style_and_holds_out_pieces_of_each(base):
    from trainer.dataset import split_by_piece

    header = load_model(base.model_path).header
    assert header["training"]["library_styles"] == ["folk", "reel"]
    by_style: dict[str, list] = {}
    for p in base.data.train + base.data.val:
        by_style.setdefault(p.style, []).append(p)
    assert sorted(by_style) == ["folk", "reel"]
    for style, pieces in by_style.items():
        # Each style is split on its own, as that style's own run splits it.
        _train, val = split_by_piece(sorted(pieces, key=lambda p: p.id), 0.1, seed=3)
        assert {p.id for p in val} == {p.id for p in base.data.val if p.style == style}
    assert np.isfinite(header["metrics"]["model"]["nll_full"])


def test_a_style_fine_tunes_from_the_base_on_the_same_held_out_pieces(base, two_styles, tmp_path):
    from trainer.train import train_style

    tuned = train_style(tiny(two_styles, tmp_path / "folk.npz", init_from=base.model_path, compare_with=base.model_path))
    header = load_model(tuned.model_path).header
    assert header["fine_tuned_from"]["version"] == base.version and header["continued_from"] == base.version
    assert ids(tuned.data.val) == [p.id for p in base.data.val if p.style == "folk"]
    # The lineage's pieces travel on: the reel pieces the base learnt are listed as seen.
    reel = {p.sha256[:16] for p in base.data.train if p.style == "reel"}
    assert reel and reel <= set(header["training"]["seen"])
    compared = header["metrics"]["compared"]
    assert compared["version"] == base.version and compared["trained_on_held_out"] == 0
    assert compared["held_out"]["key"] == header["metrics"]["held_out"]["key"]
    assert np.isfinite(compared["nll_full"])
    # Starting from what the base knows beats starting from nothing on the first epoch.
    scratch = train_style(tiny(two_styles, tmp_path / "scratch.npz"))
    assert tuned.history["loss"][0] < scratch.history["loss"][0]


def test_a_fine_tune_never_holds_out_a_piece_its_start_learnt(tf, tiny_home, tmp_path):
    from trainer.dataset import TrainingDataError
    from trainer.train import train_style

    first = train_style(tiny(tiny_home, tmp_path / "a.npz"))
    learnt = {p.id for p in first.data.train}
    for seed in range(4):  # other seeds split differently; learnt pieces must still never be held out
        config = tiny(tiny_home, tmp_path / f"b{seed}.npz", init_from=first.model_path, compare_with=first.model_path)
        config.seed = seed
        again = train_style(config)
        assert again.data.val and not learnt & {p.id for p in again.data.val}
        assert load_model(again.model_path).header["metrics"]["compared"]["trained_on_held_out"] == 0
    # A model that learnt every piece leaves nothing honest to hold out.
    from trainer.export import amend_header

    header = load_model(first.model_path).header
    amend_header(first.model_path, training={**header["training"], "pieces": header["training"]["pieces"] + header["training"]["validation"]})
    with pytest.raises(TrainingDataError, match="every piece that could be held out"):
        train_style(tiny(tiny_home, tmp_path / "all.npz", init_from=first.model_path))
    assert not (tmp_path / "all.npz").exists()


def test_comparing_with_a_model_that_learnt_the_held_out_pieces_flags_it(tf, tiny_home, tmp_path):
    from trainer.train import compared_on_held_out, train_style

    first = train_style(tiny(tiny_home, tmp_path / "a.npz"))
    swapped = type(first.data)("folk", first.data.val, first.data.train)  # its training pieces held out
    compared = compared_on_held_out(first.model_path, swapped)
    assert compared["trained_on_held_out"] == len(first.data.train)


def test_a_budgeted_run_is_not_capped_at_thirty_epochs(tf, tiny_home, tmp_path, capsys):
    from trainer.commands.train import default_epochs

    assert default_epochs(None) == 30 and default_epochs(5.0) == 1000
    out = tmp_path / "m.npz"
    rc = main(["train", "--style", "folk", "--home", str(tiny_home), "--out", str(out), "--minutes", "0.05",
               "--hidden", "8", "--progress-jsonl"])
    assert rc == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["epochs"] == 1000
    done = load_model(out).header["metrics"]
    assert done["stopped_by"] in ("time budget", "early stopping")
    assert done["epochs_run"] < 1000


def test_an_epoch_of_a_few_pieces_repeats_them():
    from radio.music.tokens import TokenEncoding
    from trainer.token_data import TokenBatches, TokenWindows

    windows = TokenWindows(np.arange(40, dtype=np.int16), np.array([0, 10, 20], np.int64))
    batches = TokenBatches(windows, TokenEncoding(), window=8, batch=2, shuffle=True, seed=0, min_batches=6)
    assert len(batches) == 6
    firsts = np.concatenate([batches[i][0][:, 0] for i in range(len(batches))])
    assert sorted(np.bincount(firsts)[np.bincount(firsts) > 0]) == [4, 4, 4]  # each window equally often
    held = TokenBatches(windows, TokenEncoding(), window=8, batch=2, shuffle=False, seed=0, min_batches=6)
    assert len(held) == 2  # validation is never repeated


def test_the_base_needs_a_library(tf, tmp_path):
    from radio.errors import StyleError
    from trainer.train import BASE_STYLE, train_style

    with pytest.raises(StyleError, match="import a corpus before training the base"):
        train_style(tiny(tmp_path / "empty", tmp_path / "b.npz", style=BASE_STYLE))

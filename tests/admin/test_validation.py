"""Request checks that need no server: retrain options, file names, content types."""

from __future__ import annotations

import pytest

from radio.admin.errors import BadRequest
from radio.admin.runner import parse_retrain_options, train_arguments
from radio.admin.uploads import check_content_type, check_filename
from radio.admin.versions import ModelVersion, heldout_nll, should_activate


def test_retrain_options_accepts_the_documented_fields():
    opts = parse_retrain_options(
        {"epochs": 3, "minutes": 0.5, "model": "seed", "hyperparameters": {"stride": 32, "hidden": 16}, "force": True}
    )
    assert opts == {"epochs": 3, "minutes": 0.5, "model": "seed", "hyperparameters": {"stride": 32, "hidden": 16}, "force": True}
    assert train_arguments(opts) == [
        "--epochs", "3", "--minutes", "0.5", "--model", "seed", "--hidden", "16", "--stride", "32",
    ]
    assert parse_retrain_options(None) == {}


@pytest.mark.parametrize(
    "body, word",
    [
        ([1, 2], "JSON object"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": "3"}, "epochs"),
        ({"epochs": True}, "epochs"),
        ({"minutes": -1}, "minutes"),
        ({"minutes": float("nan")}, "minutes"),
        ({"model": "../../etc"}, "model"),
        ({"hyperparameters": {"Bad Key": 1}}, "unknown hyperparameter"),
        ({"hyperparameters": {"hidden": "1; rm -rf /"}}, "hidden"),
        ({"hyperparameters": {"hidden": 0}}, "hidden"),
        ({"hyperparameters": {"dropout": 0.2}}, "unknown hyperparameter"),
        ({"hyperparameters": [1]}, "hyperparameters"),
        ({"force": "yes"}, "force"),
        ({"epoch": 3}, "unknown"),
    ],
)
def test_retrain_options_refuse_bad_input(body, word):
    with pytest.raises(BadRequest, match=word):
        parse_retrain_options(body)


@pytest.mark.parametrize(
    "name, reason",
    [
        ("../../etc/passwd.mid", "path traversal"),
        ("..\\evil.mid", "path traversal"),
        ("/abs/piece.mid", "path traversal"),
        ("dir/piece.mid", "path traversal"),
        ("..", "path traversal"),
        (".hidden.mid", "path traversal"),
        ("pi\x00ece.mid", "path traversal"),
        ("piece\n.mid", "control"),
        ("notes.txt", "not a MIDI file name"),
        ("", "no file name"),
        ("x" * 300 + ".mid", "longer"),
    ],
)
def test_bad_file_names(name, reason):
    with pytest.raises(ValueError, match=reason):
        check_filename(name)


def test_good_file_names_and_types():
    assert check_filename("BWV 269 - Aus meines Herzens Grunde.mid") == "BWV 269 - Aus meines Herzens Grunde.mid"
    assert check_filename("Greensleeves.MIDI")
    for ok in ("audio/midi", "audio/x-midi", "application/octet-stream", "audio/midi; charset=binary"):
        check_content_type(ok)
    for bad in ("text/plain", "image/png", None, ""):
        with pytest.raises(ValueError, match="content type"):
            check_content_type(bad)


def version(nll, source="trained"):
    return ModelVersion("folk", f"v{nll}", "/x", source, metrics={"nll_per_beat": {"model": nll}} if nll is not None else {})


def test_activation_rule():
    assert heldout_nll({"nll_per_beat": {"model": 2.5, "unigram": 4.0}}) == 2.5
    assert heldout_nll({"nll_per_beat": {"model": float("nan")}}) is None
    assert heldout_nll({"model": {"nll_sounding": 2.25}, "unigram": {"nll_sounding": 4.0}}) == 2.25
    assert heldout_nll({"model": {"nll_sounding": 2.25, "nll_full": 2.5}}) == 2.5  # full NLL first
    assert heldout_nll({"nll_full_per_beat": {"model": 2.75}, "nll_per_beat": {"model": None}}) == 2.75  # a token model's done event
    assert heldout_nll({}) is None
    assert should_activate(version(2.0), version(2.5), force=False)[0]
    assert should_activate(version(2.5), version(2.5), force=False)[0]  # "at least as good"
    ok, why = should_activate(version(3.0), version(2.5), force=False)
    assert not ok and "3.0000 > 2.5000" in why
    assert should_activate(version(3.0), version(2.5), force=True) == (True, "force=true")
    assert should_activate(version(3.0), None, force=False)[0]
    assert should_activate(version(3.0), version(None, "bundled"), force=False)[0]
    assert not should_activate(version(None), version(2.5), force=False)[0]


def test_summaries_agree_across_metric_shapes():
    from radio.admin.versions import metrics_summary

    done_event = {"nll_per_beat": {"model": 3.0, "unigram": 10.5}, "nll_full_per_beat": {"model": 3.2, "unigram": 11.0},
                  "frame_accuracy": {"model": 0.7, "unigram": 0.0}, "held_out": {"pieces": 35}, "epochs_run": 12,
                  "train_seconds": 371.6}
    header = {"model": {"nll_sounding": 3.0, "nll_full": 3.2, "frame_accuracy": 0.7},
              "unigram": {"nll_sounding": 10.5, "nll_full": 11.0}, "held_out": {"pieces": 35}, "epochs_run": 12,
              "train_seconds": 371.6}
    # heldout_nll is the full NLL where there is one: the measure token and continuo models share.
    assert metrics_summary(done_event) == metrics_summary(header) == {
        "heldout_nll": 3.2, "unigram_nll": 10.5, "full_nll": 3.2, "frame_accuracy": 0.7,
        "heldout_pieces": 35.0, "epochs_run": 12.0, "train_seconds": 371.6,
    }
    assert set(metrics_summary(None).values()) == {None}

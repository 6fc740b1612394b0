"""Request checks that need no server: retrain options, file names, content types."""

from __future__ import annotations

import pytest

from radio.admin.errors import BadRequest
from radio.admin.train_command import parse_retrain_options, train_arguments
from radio.admin.uploads import check_content_type, check_filename
from radio.admin.version_facts import ModelVersion, heldout_nll
from radio.admin.comparison import should_activate


def test_retrain_options_accepts_the_documented_fields():
    opts = parse_retrain_options(
        {"epochs": 3, "minutes": 0.5, "model": "seed", "hyperparameters": {"stride": 32, "hidden": 16}, "force": True,
         "start": "scratch"}
    )
    assert opts == {"epochs": 3, "minutes": 0.5, "model": "seed", "hyperparameters": {"stride": 32, "hidden": 16}, "force": True,
                    "start": "scratch"}
    assert train_arguments(opts) == [
        "--epochs", "3", "--minutes", "0.5", "--model", "seed", "--hidden", "16", "--stride", "32",
    ]
    assert parse_retrain_options(None) == {}
    for start in ("auto", "active", "base", "scratch"):
        assert parse_retrain_options({"start": start}) == {"start": start}


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
        ({"start": "warm"}, "start must be one of 'auto', 'active', 'base', 'scratch'"),
        ({"start": 1}, "start"),
        ({"start": ""}, "start"),
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
    # These used to put a version on air because its own held-out NLL beat the active version's
    # own figure. Those two were measured on different pieces (and a seed model's on another
    # measure): exactly the unfair comparison the fair-activation change removes. Without the
    # active model scored on the new version's pieces, nothing goes on air by itself.
    for new, old in ((2.0, 2.5), (2.5, 2.5), (3.0, 2.5)):
        ok, why = should_activate(version(new), version(old), force=False)
        assert not ok and "was not scored on the new version's held-out pieces" in why and "by hand" in why
    assert should_activate(version(3.0), version(2.5), force=True) == (True, "force=true")
    assert should_activate(version(3.0), None, force=False) == (True, "no active version yet")
    assert not should_activate(version(None), version(2.5), force=False)[0]


def scored(new_full, *, against="active00000a", base_full=3.1, base_sounding=2.9, trained=0, pieces=4,
           key="1a2b3c4d5e6f7a8b", compared_key=None, encoding="token", new_sounding=None):
    """A trained version whose done metrics carry the active model's figures on its held-out pieces."""
    metrics = {"nll_per_beat": {"model": new_sounding}, "held_out": {"pieces": pieces, "beats": 400, "key": key},
               "compared": {"version": against, "encoding": encoding, "nll_full": base_full, "nll_sounding": base_sounding,
                            "held_out": {"pieces": pieces, "key": compared_key or key}, "trained_on_held_out": trained}}
    if new_full is not None:
        metrics["nll_full_per_beat"] = {"model": new_full, "unigram": 4.0}
    return ModelVersion("folk", "new000000000", "/x", "trained", metrics=metrics)


ACTIVE = ModelVersion("folk", "active00000a", "/y", "bundled", metrics={"model": {"nll_full": 1.5}})


def test_activation_compares_on_the_new_versions_own_pieces():
    ok, why = should_activate(scored(2.91), ACTIVE, force=False)
    assert ok, why
    # Which pieces, which measure, both figures, which version.
    assert why == ("held-out NLL per beat (notes with struck/held) on the new version's 4 held-out pieces "
                   "(set 1a2b3c4d…): 2.9100 vs 3.1000 of the active active00000a (lower is better)")
    assert should_activate(scored(3.1), ACTIVE, force=False)[0]  # no worse is enough
    ok, why = should_activate(scored(3.2), ACTIVE, force=False)
    assert not ok and "3.2000 vs 3.1000 of the active active00000a" in why
    assert "the new version is worse" in why and "activate it by hand" in why
    # The active version's own header figure (1.5, other pieces) plays no part either way.
    ok, why = should_activate(scored(1.0, pieces=1), ACTIVE, force=False)
    assert ok and "on the new version's 1 held-out piece (" in why


@pytest.mark.parametrize("new, words", [
    (scored(2.0, against="someoneelse1"), "the run scored version someoneelse1 on its held-out pieces, not this one"),
    (scored(2.0, trained=3), "it trained on 3 of the new version's 4 held-out pieces, so its figure on them would flatter it"),
    (scored(2.0, base_full=None, encoding="seed"),
     "it has only the sounding-notes NLL (2.9000), a different measure from the new version's NLL with struck/held (it is a seed model)"),
    (scored(None, new_sounding=2.0), "the new version has only the sounding-notes NLL, a different measure"),
    (scored(None), "the new version has no held-out NLL"),
    (scored(2.0, compared_key="ffffffffffffffff"), "it was scored on other pieces than the new version's held-out set"),
])
def test_activation_refuses_numbers_that_do_not_compare(new, words):
    ok, why = should_activate(new, ACTIVE, force=False)
    assert not ok
    assert why.startswith("no fair comparison with the active active00000a: ") and words in why, why
    assert why.endswith("activate it by hand if wanted")
    assert should_activate(new, ACTIVE, force=True) == (True, "force=true")


def test_the_versions_table_compares_on_the_same_pieces_when_it_can():
    from radio.admin.comparison import compare

    fair = compare(scored(2.91), ACTIVE)
    assert fair["basis"] == "same pieces" and fair["same_heldout"] is True and fair["same_measure"] is True
    assert (fair["value"], fair["base_value"], fair["verdict"], fair["pieces"]) == (2.91, 3.1, "better", 4)
    assert "4 held-out pieces" in fair["note"] and fair["why_not"] is None
    # Not comparable on the same pieces: each version's own figure, and why the fair one is missing.
    unfair = compare(scored(2.0, trained=2), ACTIVE)
    assert unfair["basis"] == "own held-out sets" and unfair["value"] == 2.0 and unfair["base_value"] == 1.5
    assert "it trained on 2 of this version's 4 held-out pieces" in unfair["why_not"]


def test_summaries_agree_across_metric_shapes():
    from radio.admin.version_facts import metrics_summary

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

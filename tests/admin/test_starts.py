"""Where a retrain starts (the model on air, the bundled base model, or scratch) and what its
trainer is told: the choice on tiny model files, the registry's part (an activated version, the
bundled model, a worker fetching the active file from the shared store), and the command line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from radio.admin.errors import Conflict
from radio.admin.train_command import train_arguments
from radio.admin.starts import (
    TRAINER_EMBEDDING,
    TRAINER_HIDDEN,
    TRAINER_LAYERS,
    Start,
    TrainPlan,
    choose_start,
    plan_training,
    read_candidate,
    seen_key,
)
from radio.admin.versions import VersionRegistry, file_version
from radio.admin.stores.sqlite import SqliteVersionTable
from radio.config import REPO_ROOT
from radio.model.modelfile import read_model_file, write_model_file
from radio.music.encoding import ENCODINGS
from radio.styles import get_style

FOLK = REPO_ROOT / "styles" / "folk" / "model.npz"
BAROQUE = REPO_ROOT / "styles" / "baroque" / "model.npz"
PIECES = [f"{i:02x}" * 32 for i in range(1, 6)]  # the sha256 of a style's five library pieces


def tiny_model(path: Path, *, encoding: str = "token", hidden: int = 8, layers: int = TRAINER_LAYERS,
               embedding: int = TRAINER_EMBEDDING, trained_on: list[str] = (), seen: list[str] = ()) -> Path:
    """A model file with the shapes a choice looks at (its weights are never run)."""
    arrays: dict[str, np.ndarray] = {}
    width = embedding if encoding == "token" else 16
    if encoding == "token":
        arrays["embedding"] = np.zeros((10, embedding), np.float16)
    for k in range(layers):
        arrays[f"lstm{k}_kernel"] = np.zeros((width if k == 0 else hidden, 4 * hidden), np.float16)
        arrays[f"lstm{k}_recurrent"] = np.zeros((hidden, 4 * hidden), np.float16)
        arrays[f"lstm{k}_bias"] = np.zeros((4 * hidden,), np.float16)
    arrays["head_kernel"], arrays["head_bias"] = np.zeros((hidden, 10), np.float16), np.zeros((10,), np.float16)
    header = {"encoding": encoding, "encoding_version": ENCODINGS[encoding].version, "style": path.parent.name,
              "training": {"pieces": [{"id": sha[:16], "sha256": sha} for sha in trained_on], "seen": list(seen)}}
    write_model_file(path, arrays, header)
    return path


def test_read_candidate_reads_sizes_and_what_it_has_seen(tmp_path):
    c = read_candidate("base", tiny_model(tmp_path / "m.npz", hidden=12, trained_on=PIECES[:2], seen=["abcd" * 4]))
    assert (c.encoding, c.hidden, c.layers, c.embedding) == ("token", 12, TRAINER_LAYERS, TRAINER_EMBEDDING)
    assert c.seen == {seen_key(PIECES[0]), seen_key(PIECES[1]), "abcd" * 4}
    assert c.version == file_version(tmp_path / "m.npz")
    assert read_candidate("base", tmp_path / "absent.npz") is None
    folk = read_candidate("active", FOLK)  # a bundled model: the sizes the trainer builds by default
    assert (folk.encoding, folk.hidden, folk.layers) == ("token", TRAINER_HIDDEN, TRAINER_LAYERS)


def test_the_sizes_a_start_must_have_are_the_trainers():
    pytest.importorskip("keras")
    from trainer.models import HyperParameters

    hp = HyperParameters.for_model("token")
    assert (hp.hidden, hp.layers, hp.embedding) == (TRAINER_HIDDEN, TRAINER_LAYERS, TRAINER_EMBEDDING)


@pytest.fixture
def models(tmp_path):
    def make(name, **kw):
        return read_candidate("base" if name.startswith("base") else "active", tiny_model(tmp_path / f"{name}.npz", **kw))
    return make


def test_auto_fine_tunes_from_the_active_token_model(models):
    active, base = models("active", hidden=8), models("base", hidden=8)
    start = choose_start("auto", {}, active=active, base=base, pieces=PIECES)
    assert (start.source, start.version, start.path, start.hidden) == ("active", active.version, active.path, 8)
    assert start.to_dict()["label"] == f"fine-tuned from the active version {active.version}"
    assert "path" not in start.to_dict()  # no server path reaches a job's JSON
    # The same size asked for explicitly is no obstacle.
    assert choose_start("auto", {"hyperparameters": {"hidden": 8}}, active=active, base=base).source == "active"


def test_auto_falls_back_to_the_base_then_to_scratch(models):
    token8, base16 = models("active", hidden=8), models("base", hidden=16)
    # Another hidden size than the model on air: the base, if it has that size.
    start = choose_start("auto", {"hyperparameters": {"hidden": 16}}, active=token8, base=base16)
    assert (start.source, start.version, start.hidden) == ("base", base16.version, 16)
    assert start.label == f"fine-tuned from the base model {base16.version}"
    assert "8 LSTM units per layer and this retrain asks for 16" in start.passed_over[0]
    # Neither fits: scratch, saying why each was passed over.
    start = choose_start("auto", {"hyperparameters": {"hidden": 32}}, active=token8, base=base16)
    assert (start.source, start.path, start.label) == ("scratch", None, "from scratch")
    assert len(start.passed_over) == 2 and all("asks for 32" in why for why in start.passed_over)
    # No base bundled at all.
    start = choose_start("auto", {"hyperparameters": {"hidden": 32}}, active=token8, base=None)
    assert start.source == "scratch" and "none is bundled here" in start.passed_over[1]


def test_auto_passes_over_an_active_model_of_another_kind(models):
    seed, base = models("active", encoding="seed", hidden=8), models("base", hidden=8)
    start = choose_start("auto", {}, active=seed, base=base)
    assert start.source == "base" and "it is a seed model" in start.passed_over[0]
    # A retrain of another kind than token: auto fine-tunes token models only, and the base is one.
    continuo = models("active2", encoding="continuo", hidden=8)
    start = choose_start("auto", {"model": "continuo"}, active=continuo, base=base)
    assert start.source == "scratch", start
    assert "auto fine-tunes token models only, and it is a continuo model" in start.passed_over[0]
    assert "it is a token model and this retrain trains a continuo model" in start.passed_over[1]
    # Other layers or embedding than the trainer builds do not fit either.
    assert choose_start("auto", {}, active=models("deep", layers=3, hidden=8), base=None).source == "scratch"
    assert choose_start("auto", {}, active=models("wide", embedding=32, hidden=8), base=None).source == "scratch"


def test_a_new_style_starts_from_the_base(models):
    base = models("base", hidden=8)
    start = choose_start("auto", {}, active=None, base=base, pieces=PIECES)
    assert start.source == "base" and "has none yet" in start.passed_over[0]
    assert choose_start("auto", {}, active=None, base=None).source == "scratch"


def test_a_model_that_trained_on_every_piece_is_no_start(models):
    # The trainer never holds out a piece its start learnt from: from this one nothing would be left.
    everything = models("active", hidden=8, trained_on=PIECES[:3], seen=[seen_key(s) for s in PIECES[3:]])
    base = models("base", hidden=8, trained_on=PIECES[:4])  # one piece it has not seen: fine
    start = choose_start("auto", {}, active=everything, base=base, pieces=PIECES)
    assert start.source == "base" and "already trained on all 5 pieces" in start.passed_over[0]
    with pytest.raises(Conflict, match="all 5 pieces"):
        choose_start("active", {}, active=everything, base=base, pieces=PIECES)
    # Unknown pieces (the library could not be read): the trainer will tell.
    assert choose_start("auto", {}, active=everything, base=base, pieces=None).source == "active"


def test_explicit_starts(models):
    active, base = models("active", hidden=8), models("base", hidden=16)
    assert choose_start("scratch", {}, active=active, base=base).source == "scratch"
    assert choose_start("active", {}, active=active, base=base).source == "active"
    start = choose_start("base", {"hyperparameters": {"hidden": 16}}, active=active, base=base)
    assert (start.requested, start.source, start.hidden) == ("base", "base", 16)
    with pytest.raises(Conflict, match=r"cannot fine-tune from the base model \(\w+\): it has 16 LSTM units per layer and this retrain asks for 8"):
        choose_start("base", {"hyperparameters": {"hidden": 8}}, active=active, base=base)
    with pytest.raises(Conflict, match="no base model"):
        choose_start("base", {}, active=active, base=None)
    with pytest.raises(Conflict, match="no model on air yet"):
        choose_start("active", {}, active=None, base=base)
    with pytest.raises(Conflict, match="it is a token model and this retrain trains a seed model"):
        choose_start("active", {"model": "seed"}, active=active, base=base)
    # An explicit start of another kind than token is the admin's call, when it fits.
    seed = models("seed", encoding="seed", hidden=8)
    assert choose_start("active", {"model": "seed"}, active=seed, base=base).source == "active"


def test_the_trainer_command_carries_the_start_and_the_comparison(tmp_path):
    start = Start("auto", "base", "b" * 12, tmp_path / "base.npz", 256)
    plan = TrainPlan(start, tmp_path / "on-air.npz", "a" * 12)
    args = train_arguments({"minutes": 5.0}, plan)
    assert args == ["--minutes", "5", "--init-from", str(tmp_path / "base.npz"), "--hidden", "256",
                    "--compare-with", str(tmp_path / "on-air.npz")]
    # A hidden size asked for is passed once, as asked.
    args = train_arguments({"hyperparameters": {"hidden": 256}}, plan)
    assert args.count("--hidden") == 1
    # From scratch: no --init-from, still the comparison with the model on air.
    args = train_arguments({}, TrainPlan(Start("scratch", "scratch"), tmp_path / "on-air.npz", "a" * 12))
    assert "--init-from" not in args and args[-2:] == ["--compare-with", str(tmp_path / "on-air.npz")]
    # No model on air: nothing to compare with.
    assert train_arguments({}, TrainPlan(Start("auto", "scratch"))) == []
    assert plan.to_dict() == {"requested": "auto", "from": "base", "version": "b" * 12,
                              "label": f"fine-tuned from the base model {'b' * 12}", "passed_over": [],
                              "compare_with": "a" * 12}


def registry_at(home: Path, table_home: Path, shared=None) -> VersionRegistry:
    home.mkdir(parents=True, exist_ok=True)
    table_home.mkdir(parents=True, exist_ok=True)
    return VersionRegistry(home, table=SqliteVersionTable(table_home), shared=shared)


def distinct_copy(src: Path, path: Path, note: str) -> Path:
    """The same weights under another header, so another version."""
    header, arrays, _ = read_model_file(src)
    header = {k: v for k, v in header.items() if k not in ("format", "format_version")}
    header["note"] = note
    write_model_file(path, arrays, header)
    return path


def test_plan_uses_the_bundled_model_then_an_activated_version(tmp_path):
    folk = get_style("folk")
    registry = registry_at(tmp_path / "home", tmp_path / "home")
    base = tiny_model(tmp_path / "styles" / "base" / "model.npz", hidden=16)
    try:
        plan = plan_training(registry, folk, {}, base_path=base)
        bundled = file_version(FOLK)
        assert (plan.start.source, plan.start.version, plan.start.path) == ("active", bundled, FOLK)
        assert (plan.compare_with, plan.compare_version) == (FOLK, bundled)
        # Another hidden size: the base (which has it); the model on air is still what it is compared with.
        plan = plan_training(registry, folk, {"hyperparameters": {"hidden": 16}}, base_path=base)
        assert plan.start.source == "base" and plan.compare_with == FOLK
        # A base that is not there: scratch; "base" asked for explicitly is refused.
        plan = plan_training(registry, folk, {"hyperparameters": {"hidden": 16}}, base_path=tmp_path / "none.npz")
        assert plan.start.source == "scratch"
        with pytest.raises(Conflict, match="no base model"):
            plan_training(registry, folk, {"start": "base"}, base_path=tmp_path / "none.npz")
        # The library holds only pieces the bundled model learnt from: it cannot be the start.
        seen = [p["sha256"] for p in read_model_file(FOLK)[0]["training"]["pieces"][:3]]
        plan = plan_training(registry, folk, {}, base_path=tmp_path / "none.npz", pieces=seen)
        assert plan.start.source == "scratch" and "already trained on all 3 pieces" in plan.start.passed_over[0]
        # An activated version is the model on air from then on.
        candidate = distinct_copy(BAROQUE, tmp_path / "candidate.npz", "activated")
        version, _ = registry.register("folk", candidate, {}, None)
        registry.set_active("folk", version)
        plan = plan_training(registry, folk, {}, base_path=base)
        assert (plan.start.source, plan.start.version) == ("active", version.version)
        assert plan.start.path == plan.compare_with == Path(version.path) and plan.compare_version == version.version
        # A style nobody trained yet (created from uploads): the base, nothing to compare with.
        plan = plan_training(registry, "brand-new", {}, base_path=base)
        assert plan.start.source == "base" and plan.compare_with is None
    finally:
        registry.close()


class FakeShared:
    """A shared store (S3) in a dict: what a worker fetches the active version's file from."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fetched: list[str] = []

    def put_file(self, key: str, path: Path) -> None:
        self.files[key] = Path(path).read_bytes()

    def get_to(self, key: str, path: Path) -> None:
        if key not in self.files:
            raise KeyError(key)
        self.fetched.append(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files[key])


def test_a_worker_fetches_the_active_version_to_start_from(tmp_path):
    shared = FakeShared()
    node = registry_at(tmp_path / "node", tmp_path / "node", shared)
    worker = registry_at(tmp_path / "worker", tmp_path / "node", shared)  # same table, its own disk
    try:
        candidate = distinct_copy(FOLK, tmp_path / "candidate.npz", "trained on the node")
        version, _ = node.register("folk", candidate, {}, None)
        node.set_active("folk", version)
        local = tmp_path / "worker" / "models" / "folk" / f"{version.version}.npz"
        assert not local.exists()
        plan = plan_training(worker, get_style("folk"), {}, base_path=None)
        assert shared.fetched == [f"models/folk/{version.version}.npz"]
        assert plan.start.source == "active" and plan.start.path == local and local.is_file()
        assert plan.compare_with == local and plan.compare_version == version.version
    finally:
        node.close()
        worker.close()


def test_a_missing_active_file_falls_back_and_says_why(tmp_path):
    shared = FakeShared()
    node = registry_at(tmp_path / "node", tmp_path / "node", shared)
    worker = registry_at(tmp_path / "worker", tmp_path / "node", shared)
    try:
        version, _ = node.register("folk", distinct_copy(FOLK, tmp_path / "c.npz", "lost"), {}, None)
        node.set_active("folk", version)
        shared.files.clear()  # the store lost it
        plan = plan_training(worker, get_style("folk"), {}, base_path=None)
        assert plan.start.source == "scratch" and plan.compare_with is None
        assert f"version {version.version} cannot be read" in plan.start.passed_over[0]
        assert str(tmp_path) not in " ".join(plan.start.passed_over)
        with pytest.raises(Conflict, match="cannot be read"):
            plan_training(worker, get_style("folk"), {"start": "active"}, base_path=None)
    finally:
        node.close()
        worker.close()


def test_a_copied_bundled_model_is_a_valid_start(tmp_path):
    # The shape of the real thing: a bundled model copied as the base fits a default retrain.
    base = tmp_path / "styles" / "base" / "model.npz"
    base.parent.mkdir(parents=True)
    shutil.copyfile(BAROQUE, base)
    start = choose_start("auto", {}, active=None, base=read_candidate("base", base))
    assert start.source == "base" and start.hidden == TRAINER_HIDDEN


FAKE_TRAINER = '''#!{python}
"""Stands in for `python -m radio.cli train`: notes its arguments, writes a real model file and
reports the figures a run with --compare-with reports."""
import hashlib, json, shutil, sys
from pathlib import Path

args = sys.argv[1:]
calls = Path({calls!r})
runs = json.loads(calls.read_text()) if calls.exists() else []
runs.append(args)
calls.write_text(json.dumps(runs))
out = Path(args[args.index("--out") + 1])
shutil.copyfile({sources!r}[len(runs) - 1], out)
metrics = {{"nll_full_per_beat": {{"model": 2.0, "unigram": 9.0}}, "nll_per_beat": {{"model": None}},
           "held_out": {{"pieces": 1, "beats": 120, "key": "feedfacefeedface"}}, "epochs_run": 1, "train_seconds": 1.0}}
if "--compare-with" in args:
    other = Path(args[args.index("--compare-with") + 1]).read_bytes()
    metrics["compared"] = {{"version": hashlib.sha256(other).hexdigest()[:12], "encoding": "token", "nll_full": 2.5,
                           "nll_sounding": None, "held_out": {{"pieces": 1, "key": "feedfacefeedface"}},
                           "trained_on_held_out": 0}}
print(json.dumps({{"event": "start", "epochs": 1, "model": "token"}}), flush=True)
print(json.dumps({{"event": "done", "model_path": str(out), "metrics": metrics}}), flush=True)
'''


async def test_a_retrain_through_the_api_fine_tunes_and_compares(home, tmp_path):
    """The in-process runner end to end, with a stand-in trainer (no TensorFlow): the plan is on
    the job, the trainer gets --init-from and --compare-with, and activation uses the comparison."""
    import json
    import sys

    from tests.support.admin_helpers import AUTH, add_tunes, admin_client, wait_for_state

    from radio.web.admin_routes import ADMIN

    add_tunes(home, (1, 2, 3), beats=120)
    calls = tmp_path / "calls.json"
    sources = [str(REPO_ROOT / "styles" / s / "model.npz") for s in ("medieval", "renaissance")]
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_TRAINER.format(python=sys.executable, calls=str(calls), sources=sources))
    fake.chmod(0o755)
    base = tiny_model(tmp_path / "styles" / "base" / "model.npz", hidden=8)
    async with admin_client(home) as client:
        service = client.app[ADMIN].service
        service.runner.python = str(fake)
        service.jobs.base_model_path = lambda: base
        bundled = file_version(FOLK)

        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"minutes": 1})
        assert r.status == 202, await r.text()
        job = await r.json()
        assert job["start"]["from"] == "active" and job["start"]["version"] == bundled
        assert job["start"]["label"] == f"fine-tuned from the active version {bundled}"
        assert job["start"]["compare_with"] == bundled and str(tmp_path) not in json.dumps(job["start"])
        done = await wait_for_state(client, job["id"], ("succeeded", "failed"))
        assert done["state"] == "succeeded", done
        args = json.loads(calls.read_text())[0]
        assert args[args.index("--init-from") + 1] == str(FOLK) and args[args.index("--hidden") + 1] == "256"
        assert args[args.index("--compare-with") + 1] == str(FOLK)
        # On air by the fair comparison: the bundled model scored 2.5 on the new version's own piece.
        assert done["activated"], done
        assert done["activation_reason"] == (
            "held-out NLL per beat (notes with struck/held) on the new version's 1 held-out piece (set feedface…): "
            f"2.0000 vs 2.5000 of the active {bundled} (lower is better)")
        assert done["metrics"]["compared"]["version"] == bundled
        first = done["model_version"]

        # The base, asked for: the trainer builds its size; it is compared with the version now on air.
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"start": "base", "minutes": 1})
        assert r.status == 202, await r.text()
        job = await r.json()
        assert (job["start"]["requested"], job["start"]["from"], job["start"]["compare_with"]) == ("base", "base", first)
        done = await wait_for_state(client, job["id"], ("succeeded", "failed"))
        assert done["state"] == "succeeded", done
        args = json.loads(calls.read_text())[1]
        assert args[args.index("--init-from") + 1] == str(base) and args[args.index("--hidden") + 1] == "8"
        assert args[args.index("--compare-with") + 1] == str(home / "models" / "folk" / f"{first}.npz")
        assert done["activated"] and f"of the active {first}" in done["activation_reason"]

        # A start that cannot be is refused before anything runs; a bad one is a 400.
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH,
                              json={"start": "base", "hyperparameters": {"hidden": 3}})
        assert r.status == 409
        assert "cannot fine-tune from the base model" in (await r.json())["error"] and "asks for 3" in (await r.json())["error"]
        r = await client.post("/admin/styles/folk/retrain", headers=AUTH, json={"start": "warm"})
        assert r.status == 400 and "start must be one of" in (await r.json())["error"]
        assert len(json.loads(calls.read_text())) == 2


async def test_a_worker_chooses_the_start_by_the_same_rule(home, tmp_path, monkeypatch):
    """`continuo worker`: the start is chosen where the job is trained, the trainer is told, and
    the version goes on air by the same fair comparison (register_trained)."""
    import functools
    import json
    import sys

    from tests.support.admin_helpers import tune

    import radio.admin.worker as worker_module
    from radio.admin.jobs import SUCCEEDED, WORKERS, Job
    from radio.admin.stores.sqlite import SqliteJobStore
    from radio.admin.runner import JobRunner
    from radio.admin.worker import Worker, WorkerSettings
    from radio.library import open_library
    from radio.library.ingest import ingest_midi

    styles = tmp_path / "styles"
    (styles / "folk").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "styles" / "folk" / "style.toml", styles / "folk" / "style.toml")
    shutil.copyfile(FOLK, styles / "folk" / "model.npz")
    base = tiny_model(styles / "base" / "model.npz", hidden=8)
    monkeypatch.setenv("CONTINUO_STYLES", str(styles))
    library = open_library(home)
    try:
        shas = {ingest_midi(library, tune(seed, beats=120), style="folk", title=f"t{seed}").piece.sha256 for seed in (1, 2)}
    finally:
        library.close()
    calls = tmp_path / "calls.json"
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_TRAINER.format(python=sys.executable, calls=str(calls),
                                        sources=[str(REPO_ROOT / "styles" / "medieval" / "model.npz")]))
    fake.chmod(0o755)
    monkeypatch.setattr(worker_module, "JobRunner", functools.partial(JobRunner, python=str(fake)))

    store = SqliteJobStore(home)
    registry = registry_at(home, home, FakeShared())
    try:
        worker = Worker(WorkerSettings(home, "w1", once=True), store, registry)
        assert worker._pieces(("folk",)) == shas
        # A retrain at another size than the model on air starts from the base, which has it.
        plan = worker._plan(Job.new("folk", {"hyperparameters": {"hidden": 8}}), None)
        assert (plan.start.source, plan.start.path, plan.compare_with) == ("base", base, styles / "folk" / "model.npz")

        job = Job.new("folk", {"minutes": 1})
        job.train_on = WORKERS
        assert store.add_if_idle(job) is None
        done = await worker.run_one()
        assert done.state == SUCCEEDED, (done.error, done.log_tail)
        bundled = file_version(FOLK)
        assert done.start["from"] == "active" and done.start["version"] == bundled and done.start["compare_with"] == bundled
        args = json.loads(calls.read_text())[0]
        assert args[args.index("--init-from") + 1] == str(styles / "folk" / "model.npz")
        assert args[args.index("--compare-with") + 1] == str(styles / "folk" / "model.npz")
        assert done.activated and f"2.0000 vs 2.5000 of the active {bundled}" in done.activation_reason
        assert registry.active_version("folk") == done.model_version
        assert store.get(job.id).start["label"] == f"fine-tuned from the active version {bundled}"
    finally:
        registry.close()
        store.close()

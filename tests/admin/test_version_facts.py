"""A version's header facts (held-out set, how training ended) live in its row, so every node
shows them, including one that has not fetched the model file; rows from before they did get
them from the file."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from radio.library import CATALOG_FILE
from radio.admin.versions import VersionRegistry, file_version
from radio.admin.stores.sqlite import SqliteVersionTable
from radio.admin.comparison import compare
from radio.admin.version_facts import header_facts, read_header
from radio.config import REPO_ROOT

BAROQUE = REPO_ROOT / "styles" / "baroque" / "model.npz"
CLASSICAL = REPO_ROOT / "styles" / "classical" / "model.npz"

# model_versions as it was before the facts column.
OLD_SCHEMA = """
CREATE TABLE model_versions (
    style TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL, source TEXT NOT NULL, job_id TEXT,
    created_at TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (style, version)
);
CREATE TABLE model_active (style TEXT PRIMARY KEY, version TEXT NOT NULL, activated_at TEXT NOT NULL);
"""


@pytest.fixture(autouse=True)
def bundled_models():
    if not (BAROQUE.is_file() and CLASSICAL.is_file()):
        pytest.skip("the bundled models are missing")


def test_a_node_shows_the_facts_of_a_version_it_has_not_fetched(tmp_path):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    worker = VersionRegistry(tmp_path / "worker", table=SqliteVersionTable(catalog), shared=None)
    node = VersionRegistry(tmp_path / "node", table=SqliteVersionTable(catalog), shared=None)
    try:
        first, _ = worker.register("folk", BAROQUE, {"nll_per_beat": {"model": 1.0}}, "job-1")
        second, _ = worker.register("folk", CLASSICAL, {"nll_per_beat": {"model": 1.2}}, "job-2")
        seen = node.find("folk", first.version)
        assert not (tmp_path / "node" / "models" / "folk" / f"{first.version}.npz").exists()
        expected = header_facts(read_header(BAROQUE))
        assert expected["heldout_fingerprint"] and seen.facts == expected
        data = seen.to_dict()
        assert data["heldout"]["fingerprint"] == expected["heldout_fingerprint"]
        assert data["training"]["stopped_by"] == expected["stopped_by"] and data["training"]["pieces"] == expected["pieces"]
        # Two different held-out sets, and the node can tell without either file.
        assert compare(node.find("folk", second.version), seen)["same_heldout"] is False
    finally:
        worker.close()
        node.close()


def test_a_version_table_from_before_facts_gains_the_column(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    db = sqlite3.connect(home / CATALOG_FILE)
    db.executescript(OLD_SCHEMA)
    local = home / "models" / "folk"
    local.mkdir(parents=True)
    version = file_version(BAROQUE)
    shutil.copyfile(BAROQUE, local / f"{version}.npz")
    db.execute("INSERT INTO model_versions VALUES (?, ?, ?, 'trained', NULL, '2026-01-01T00:00:00+00:00', ?)",
               ("folk", version, str(local / f"{version}.npz"), json.dumps({"nll_per_beat": {"model": 1.0}})))
    db.execute("INSERT INTO model_versions VALUES ('folk', 'ffffffffffff', '/gone.npz', 'trained', NULL, "
               "'2026-01-02T00:00:00+00:00', '{}')")
    db.commit()
    db.close()

    old = VersionRegistry(home, table=SqliteVersionTable(home), shared=None)
    try:
        rows = {v.version: v for v in old.table.trained("folk")}
        assert rows[version].facts == {} and rows["ffffffffffff"].facts == {}  # the column, empty for old rows
        listed = {v.version: v for v in old.trained("folk")}
        assert listed[version].facts == header_facts(read_header(BAROQUE))  # read from the file, which is here
        assert listed["ffffffffffff"].facts == {}  # no file, no facts, still listed
        new, _ = old.register("folk", CLASSICAL, {}, None)
        assert {v.version: v for v in old.table.trained("folk")}[new.version].facts == header_facts(read_header(CLASSICAL))
    finally:
        old.close()

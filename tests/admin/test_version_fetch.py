"""A node fetching a version from the shared store checks the file's hash before it takes the
live path (``<home>/models/<style>/<version>.npz``), never after: a channel loading that path in
between would otherwise play another model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from radio.admin.versions import VersionRegistry, file_version, model_key

from radio.admin.version_facts import ModelVersion

from radio.admin.stores.sqlite import SqliteVersionTable
from radio.errors import ModelFileError
from radio.library.disk_blobs import DiskBlobStore

REPO = Path(__file__).resolve().parents[2]
RIGHT = REPO / "styles" / "folk" / "model.npz"
WRONG = REPO / "styles" / "baroque" / "model.npz"


@pytest.fixture
def node(tmp_path):
    shared = DiskBlobStore(tmp_path / "shared")
    registry = VersionRegistry(tmp_path / "node", table=SqliteVersionTable(tmp_path), shared=shared)
    yield registry, shared
    registry.close()


@pytest.fixture
def live_path_writes(monkeypatch):
    """Every file renamed onto a path, with the version its bytes hash to at that moment."""
    seen: list[tuple[Path, str]] = []
    real = os.replace

    def spy(src, dst, *args, **kwargs):
        seen.append((Path(dst), file_version(Path(src))))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    return seen


def test_another_model_under_a_versions_key_never_reaches_the_live_path(node, live_path_writes):
    registry, shared = node
    version = file_version(RIGHT)
    shared.put_file(model_key("folk", version), WRONG)  # the store holds another model under that key
    row = ModelVersion("folk", version, str(registry.local_path("folk", version)), "trained")
    with pytest.raises(ModelFileError, match="is another model"):
        registry.fetch(row)
    live = registry.local_path("folk", version)
    assert not live.exists()
    assert [v for dst, v in live_path_writes if dst == live] == []  # not even for a moment
    assert not [p for p in live.parent.iterdir() if p.name != live.name]  # no temp file left behind


def test_the_right_model_is_fetched_into_place(node, live_path_writes):
    registry, shared = node
    version = file_version(RIGHT)
    shared.put_file(model_key("folk", version), RIGHT)
    row = ModelVersion("folk", version, str(registry.local_path("folk", version)), "trained")
    live = registry.fetch(row)
    assert live == registry.local_path("folk", version) and file_version(live) == version
    assert [v for dst, v in live_path_writes if dst == live] == [version]
    assert [p.name for p in live.parent.iterdir()] == [live.name]

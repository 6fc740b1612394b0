"""What only the disk store promises: atomic replacement and no stray temp files."""

from __future__ import annotations

import os

import pytest

from radio.library.disk_blobs import DiskBlobStore


def test_failed_write_keeps_the_old_blob_and_leaves_no_temp_file(tmp_path, monkeypatch):
    store = DiskBlobStore(tmp_path / "blobs")
    store.put("midi/ab/x.mid", b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put("midi/ab/x.mid", b"new" * 1000)
    monkeypatch.undo()
    assert store.get("midi/ab/x.mid") == b"old"
    assert os.listdir(tmp_path / "blobs" / "midi" / "ab") == ["x.mid"]


def test_a_write_interrupted_before_replace_is_invisible(tmp_path, monkeypatch):
    store = DiskBlobStore(tmp_path / "blobs")
    seen = {}

    def spy_replace(src, dst, _real=os.replace):
        # At the moment of the rename the blob is complete in its temp file and not yet visible.
        seen["exists"] = store.exists("midi/cd/y.mid")
        seen["keys"] = list(store.keys())
        with open(src, "rb") as fh:
            seen["temp"] = fh.read()
        _real(src, dst)

    monkeypatch.setattr(os, "replace", spy_replace)
    store.put("midi/cd/y.mid", b"complete")
    assert seen == {"exists": False, "keys": [], "temp": b"complete"}
    assert store.get("midi/cd/y.mid") == b"complete"


def test_blobs_stay_inside_the_root(tmp_path):
    store = DiskBlobStore(tmp_path / "blobs")
    store.put("midi/ef/z.mid", b"z")
    assert (tmp_path / "blobs" / "midi" / "ef" / "z.mid").read_bytes() == b"z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs"]

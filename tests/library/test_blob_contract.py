"""The BlobStore contract: every backend in conftest.BLOB_BACKENDS must pass all of it."""

from __future__ import annotations

import pytest

from radio.errors import LibraryError


def test_put_get_exists_delete(blobs):
    key = "midi/ab/abcdef.mid"
    assert not blobs.exists(key)
    blobs.put(key, b"MThd data")
    assert blobs.exists(key)
    assert blobs.get(key) == b"MThd data"
    blobs.put(key, b"new")
    assert blobs.get(key) == b"new"
    blobs.delete(key)
    assert not blobs.exists(key)
    blobs.delete(key)  # deleting what is absent is not an error


def test_get_missing_raises_key_error(blobs):
    with pytest.raises(KeyError):
        blobs.get("midi/00/missing.mid")


def test_empty_blob(blobs):
    blobs.put("x/empty.bin", b"")
    assert blobs.get("x/empty.bin") == b""


def test_keys_with_prefix(blobs):
    for k in ["midi/aa/1.mid", "midi/ab/2.mid", "other/3.bin"]:
        blobs.put(k, k.encode())
    assert sorted(blobs.keys()) == ["midi/aa/1.mid", "midi/ab/2.mid", "other/3.bin"]
    assert sorted(blobs.keys("midi/")) == ["midi/aa/1.mid", "midi/ab/2.mid"]
    assert sorted(blobs.keys("midi/ab")) == ["midi/ab/2.mid"]
    assert list(blobs.keys("nothing/")) == []


@pytest.mark.parametrize(
    "key", ["", "/etc/passwd", "../outside.mid", "midi/../../x", "midi/./x", "a//b", "a\\b", ".hidden", "a/.tmp-1"]
)
def test_unsafe_keys_are_refused(blobs, key):
    with pytest.raises(LibraryError):
        blobs.put(key, b"x")
    with pytest.raises(LibraryError):
        blobs.get(key)

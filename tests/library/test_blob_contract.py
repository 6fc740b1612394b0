"""The BlobStore contract: every backend in conftest.BLOB_BACKENDS must pass all of it."""

from __future__ import annotations

import io

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


class FailsHalfway(io.RawIOBase):
    """A stream that yields half of ``data`` and then breaks, like a dropped upload."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.pos >= len(self.data) // 2:
            raise ConnectionResetError("the client went away halfway through the upload")
        n = len(self.data) if n is None or n < 0 else n
        chunk = self.data[self.pos:min(self.pos + n, len(self.data) // 2)]
        self.pos += len(chunk)
        return chunk


def test_streaming_put_and_get_to_a_file(blobs, tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one streaming chunk
    blobs.put_stream("models/folk/abc.npz", io.BytesIO(data))
    target = tmp_path / "out" / "abc.npz"
    blobs.get_to("models/folk/abc.npz", target)
    assert target.read_bytes() == data and blobs.get("models/folk/abc.npz") == data
    source = tmp_path / "model.npz"
    source.write_bytes(data[::-1])
    blobs.put_file("models/folk/def.npz", source)
    assert blobs.get("models/folk/def.npz") == data[::-1]
    with pytest.raises(KeyError):
        blobs.get_to("models/folk/missing.npz", tmp_path / "never.npz")
    assert not (tmp_path / "never.npz").exists()


def test_a_stream_that_fails_halfway_stores_nothing(blobs):
    blobs.put("midi/aa/keep.mid", b"old")
    with pytest.raises(ConnectionResetError):
        blobs.put_stream("midi/aa/new.mid", FailsHalfway(b"x" * 300_000))
    with pytest.raises(ConnectionResetError):
        blobs.put_stream("midi/aa/keep.mid", FailsHalfway(b"y" * 300_000))
    assert not blobs.exists("midi/aa/new.mid")
    assert blobs.get("midi/aa/keep.mid") == b"old"  # an overwrite that failed left the old blob whole
    assert sorted(blobs.keys()) == ["midi/aa/keep.mid"]


def test_ingest_whose_blob_write_fails_halfway_adds_no_catalog_row(blobs, tmp_path, midi_bytes):
    """No catalog row may point at a missing blob: the blob is written first, and a write that
    breaks off (here: the upload stream dies halfway) leaves neither the blob nor a row."""
    from radio.library import Library
    from radio.library.ingest import ingest_midi
    from radio.library.sqlite_catalog import SqliteCatalog

    class BreaksHalfway:
        def __init__(self, inner) -> None:
            self.inner = inner

        def put(self, key: str, data: bytes) -> None:
            self.inner.put_stream(key, FailsHalfway(data))

        def __getattr__(self, name: str):
            return getattr(self.inner, name)

    library = Library(SqliteCatalog(tmp_path / "catalog.sqlite3"), BreaksHalfway(blobs), tmp_path)
    data = midi_bytes(60, 64, 67)
    with pytest.raises(ConnectionResetError):
        ingest_midi(library, data, style="folk")
    assert library.catalog.list_pieces() == []
    assert list(blobs.keys()) == []
    # The same file goes in whole once the store works again, and every row has its blob.
    library.blobs = blobs
    result = ingest_midi(library, data, style="folk")
    assert result.status == "added"
    assert all(blobs.get(p.blob_key) == data for p in library.catalog.list_pieces())
    library.close()

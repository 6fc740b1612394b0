"""ingest_midi: validate, dedupe, blob before row, nothing half-written."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from radio.errors import LibraryError, MidiError, StyleError
from radio.library import open_library
from radio.library.ingest import blob_key_for, ingest_midi, load_notes


@pytest.fixture
def library(tmp_path):
    lib = open_library(tmp_path / "home")
    yield lib
    lib.close()


def test_added_piece_has_its_metadata_and_blob(library, midi_bytes):
    data = midi_bytes(62, 64, 66, 67, 69, 71, 73, 74)  # D major scale
    sha = hashlib.sha256(data).hexdigest()
    result = ingest_midi(library, data, style="folk", composer="Trad.", title="Scale", source="test",
                         licence="CC0", extra={"n": 1})
    p = result.piece
    assert result.status == "added"
    assert (p.id, p.sha256, p.blob_key) == (sha[:16], sha, blob_key_for(sha))
    assert p.blob_key == f"midi/{sha[:2]}/{sha}.mid"
    assert (p.style, p.composer, p.title, p.source, p.licence, p.extra) == ("folk", "Trad.", "Scale", "test", "CC0", {"n": 1})
    assert p.beats == 32 and p.tempo_bpm == pytest.approx(100.0)
    assert p.key_source in ("signature", "estimated") and p.original_key.endswith(("major", "minor"))
    assert datetime.fromisoformat(p.added_at).utcoffset().total_seconds() == 0
    assert library.blobs.get(p.blob_key) == data
    assert library.catalog.get_piece(p.id) == p


def test_duplicate_returns_the_stored_piece(library, midi_bytes):
    data = midi_bytes()
    first = ingest_midi(library, data, style="folk", title="First")
    again = ingest_midi(library, data, style="baroque", title="Second")
    assert again.status == "duplicate"
    assert again.piece == first.piece
    assert len(library.catalog.list_pieces()) == 1


@pytest.mark.parametrize("data", [b"", b"not midi at all", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_invalid_midi_stores_nothing(library, data):
    with pytest.raises(MidiError):
        ingest_midi(library, data, style="folk")
    assert library.catalog.list_pieces() == []
    assert list(library.blobs.keys()) == []


def test_bad_style_name_is_refused_before_anything_is_stored(library, midi_bytes):
    with pytest.raises(StyleError):
        ingest_midi(library, midi_bytes(), style="../etc")
    assert list(library.blobs.keys()) == []


def test_failed_row_insert_removes_the_new_blob(library, midi_bytes, monkeypatch):
    def fail(piece):
        raise LibraryError("catalog is read-only")

    monkeypatch.setattr(library.catalog, "add_piece", fail)
    with pytest.raises(LibraryError):
        ingest_midi(library, midi_bytes(), style="folk")
    assert list(library.blobs.keys()) == []


def test_failed_row_insert_keeps_a_blob_that_was_already_there(library, midi_bytes, monkeypatch):
    data = midi_bytes()
    key = blob_key_for(hashlib.sha256(data).hexdigest())
    library.blobs.put(key, data)  # e.g. left by an earlier row that was deleted

    monkeypatch.setattr(library.catalog, "add_piece", lambda piece: (_ for _ in ()).throw(LibraryError("x")))
    with pytest.raises(LibraryError):
        ingest_midi(library, data, style="folk")
    assert library.blobs.get(key) == data


def test_an_insert_that_committed_but_raised_keeps_its_blob(library, midi_bytes, monkeypatch):
    """A MongoDB insert whose reply was lost: the row is there, so its blob must stay."""
    real = library.catalog.add_piece

    def committed_then_lost(piece):
        real(piece)
        raise LibraryError("cannot reach MongoDB at mongodb://db: connection reset")

    monkeypatch.setattr(library.catalog, "add_piece", committed_then_lost)
    data = midi_bytes(60, 64, 67)
    with pytest.raises(LibraryError):
        ingest_midi(library, data, style="folk")
    row = library.catalog.find_by_sha256(hashlib.sha256(data).hexdigest())
    assert row is not None and library.blobs.get(row.blob_key) == data  # the piece is whole


def test_a_failed_insert_keeps_the_blob_when_the_catalog_cannot_say(library, midi_bytes, monkeypatch):
    def down(*_args):
        raise LibraryError("cannot reach MongoDB")

    monkeypatch.setattr(library.catalog, "add_piece", down)
    data = midi_bytes(60, 65, 69)
    key = blob_key_for(hashlib.sha256(data).hexdigest())
    real_find = library.catalog.find_by_sha256
    calls = []

    def find(sha):
        calls.append(sha)
        if len(calls) > 1:  # the look-up after the failed insert (the first is the dedupe before it)
            raise LibraryError("cannot reach MongoDB")
        return real_find(sha)

    monkeypatch.setattr(library.catalog, "find_by_sha256", find)
    with pytest.raises(LibraryError):
        ingest_midi(library, data, style="folk")
    assert len(calls) == 2 and library.blobs.get(key) == data  # an orphan blob, never a row without one


def test_load_notes_gives_the_prepared_piece(library, midi_bytes):
    piece = ingest_midi(library, midi_bytes(62, 66, 69, 74), style="folk").piece
    prepared = load_notes(library, piece)
    assert len(prepared.notes) == prepared.beats == piece.beats
    assert prepared.original_key.name == piece.original_key
    assert prepared.transpose == piece.transpose

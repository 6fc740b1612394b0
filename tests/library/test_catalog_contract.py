"""The Catalog contract: every backend in conftest.CATALOG_BACKENDS must pass all of it."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from radio.errors import LibraryError
from radio.library.base import PieceRecord, SourceRecord


def piece(n: int, style: str = "folk", **kw) -> PieceRecord:
    sha = hashlib.sha256(str(n).encode()).hexdigest()
    fields = dict(id=sha[:16], style=style, sha256=sha, blob_key=f"midi/{sha[:2]}/{sha}.mid",
                  composer="Anon", title=f"Tune {n}", original_key="D minor", key_source="signature",
                  transpose=-2, beats=64 + n, tempo_bpm=96.5, added_at=f"2026-01-01T00:00:{n:02d}+00:00")
    return PieceRecord(**(fields | kw))


def test_add_then_get_returns_every_field(catalog):
    p = piece(1, extra={"tune": 3, "tags": ["reel"]})
    assert catalog.add_piece(p) is True
    assert catalog.get_piece(p.id) == p
    assert catalog.find_by_sha256(p.sha256) == p


def test_same_sha256_is_refused_and_changes_nothing(catalog):
    p = piece(1)
    assert catalog.add_piece(p)
    assert catalog.add_piece(piece(1, title="Other", style="baroque")) is False
    assert catalog.get_piece(p.id) == p
    assert len(catalog.list_pieces()) == 1


def test_same_id_with_other_sha256_is_an_error_not_a_silent_drop(catalog):
    p = piece(1)
    catalog.add_piece(p)
    with pytest.raises(LibraryError):
        catalog.add_piece(piece(2, id=p.id))
    assert catalog.find_by_sha256(piece(2).sha256) is None


def test_missing_pieces_are_none(catalog):
    assert catalog.get_piece("0" * 16) is None
    assert catalog.find_by_sha256("0" * 64) is None


def test_list_filters_by_style_and_composer(catalog):
    catalog.add_piece(piece(1, style="folk", composer="A"))
    catalog.add_piece(piece(2, style="folk", composer="B"))
    catalog.add_piece(piece(3, style="baroque", composer="A"))
    assert {p.title for p in catalog.list_pieces(style="folk")} == {"Tune 1", "Tune 2"}
    assert {p.title for p in catalog.list_pieces(composer="A")} == {"Tune 1", "Tune 3"}
    assert [p.title for p in catalog.list_pieces(style="folk", composer="A")] == ["Tune 1"]
    assert catalog.list_pieces(style="medieval") == []
    assert len(catalog.list_pieces()) == 3
    assert catalog.styles() == ["baroque", "folk"]


def test_delete(catalog):
    p = piece(1)
    catalog.add_piece(p)
    assert catalog.delete_piece(p.id) is True
    assert catalog.get_piece(p.id) is None
    assert catalog.delete_piece(p.id) is False
    assert catalog.add_piece(p) is True  # its sha256 is free again


def test_records_insert_update_and_unchanged(catalog):
    r = SourceRecord(url="https://example.org/a.mid", status="licence_not_allowed", licence="CC-BY-NC",
                     reason="non-commercial", extra={"page": "https://example.org/"})
    assert catalog.add_record(r) is True
    assert catalog.add_record(r) is False
    stored = catalog.list_records()
    assert len(stored) == 1 and stored[0].reason == "non-commercial" and stored[0].extra == r.extra
    assert stored[0].added_at  # filled in when not given
    moved = SourceRecord(url=r.url, status="download_failed", reason="HTTP 500")
    assert catalog.add_record(moved) is True
    assert [x.status for x in catalog.list_records()] == ["download_failed"]
    assert catalog.list_records(status="licence_not_allowed") == []
    catalog.add_record(SourceRecord(url="https://example.org/b.mid", status="blocked_by_robots"))
    assert [x.url for x in catalog.list_records(status="blocked_by_robots")] == ["https://example.org/b.mid"]


def test_stats_counts_stored_pieces_per_style_and_records_by_status(catalog):
    catalog.add_piece(piece(1, style="folk", composer="A", beats=10, original_key="D minor"))
    catalog.add_piece(piece(2, style="folk", composer="B", beats=20, original_key="D minor"))
    catalog.add_piece(piece(3, style="folk", composer="", beats=5, original_key="G major"))
    catalog.add_piece(piece(4, style="baroque", composer="A", beats=7, original_key="C major"))
    catalog.add_record(SourceRecord(url="u1", status="blocked_by_robots", style="folk"))
    catalog.add_record(SourceRecord(url="u2", status="blocked_by_robots"))
    catalog.add_record(SourceRecord(url="u3", status="licence_not_allowed"))
    stats = catalog.stats()
    assert set(stats) == {"styles", "records"}
    folk = stats["styles"]["folk"]
    assert (folk["pieces"], folk["beats"], folk["composers"]) == (3, 35, 2)
    assert folk["keys"] == {"D minor": 2, "G major": 1}
    assert stats["styles"]["baroque"]["pieces"] == 1
    assert stats["records"] == {"blocked_by_robots": 2, "licence_not_allowed": 1}


def test_empty_catalog_stats(catalog):
    assert catalog.stats() == {"styles": {}, "records": {}}


async def test_concurrent_calls_from_worker_threads(catalog):
    # The aiohttp server reaches the catalog through asyncio.to_thread.
    results = await asyncio.gather(*(asyncio.to_thread(catalog.add_piece, piece(n % 20)) for n in range(60)))
    assert sum(results) == 20
    listed = await asyncio.gather(*(asyncio.to_thread(catalog.list_pieces) for _ in range(10)))
    assert all(len(x) == 20 for x in listed)

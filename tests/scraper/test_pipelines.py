"""Each pipeline step alone, on a real library in a temporary home."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import pytest
from scrapy.utils.test import get_crawler

from radio.music.midi_io import write_midi
from scraper.items import DOWNLOADED, DUPLICATE, INVALID_MIDI, LICENCE_NOT_ALLOWED, TOO_LARGE, MidiItem
from scraper.pipelines import DeduplicatePipeline, StorePipeline, StyleMapPipeline, ValidatePipeline
from scraper.store import CrawlLibrary



def tune(offset: int = 0) -> bytes:
    beats = [[(60 + (n + offset) % 12, "b")] if n % 2 == 0 else [(60 + (n - 1 + offset) % 12, "s")] for n in range(32)]
    return write_midi(beats, bpm=100)


@pytest.fixture
def crawler(tmp_path):
    crawler = get_crawler(settings_dict={"DOWNLOAD_MAXSIZE": 4096})
    crawler.stats.open_spider()
    library = CrawlLibrary.open(tmp_path / "home")
    crawler.spider = SimpleNamespace(library=library)
    yield crawler
    library.close()


def item(url: str, body: bytes, **meta) -> MidiItem:
    return MidiItem(source="test", url=url, page_url="http://site/page", body=body, licence="public-domain", **meta)


def run_all(crawler, it: MidiItem) -> MidiItem:
    for step in (ValidatePipeline, DeduplicatePipeline, StyleMapPipeline, StorePipeline):
        it = step.from_crawler(crawler).process_item(it)
    return it


def test_validate_refuses_html_garbage_and_oversize_and_passes_a_real_midi(crawler):
    validate = ValidatePipeline.from_crawler(crawler)
    html = validate.process_item(item("http://site/a.mid", b"<!DOCTYPE html><html><body>gate</body></html>"))
    assert (html.status, html.body) == (INVALID_MIDI, b"") and "HTML page" in html.reason
    broken = validate.process_item(item("http://site/b.mid", b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\xff"))
    assert broken.status == INVALID_MIDI and "parser" in broken.reason
    big = validate.process_item(item("http://site/c.mid", b"MThd" + bytes(5000)))
    assert big.status == TOO_LARGE and "4096" in big.reason
    good = validate.process_item(item("http://site/d.mid", tune()))
    assert good.status == DOWNLOADED and good.sha256 == hashlib.sha256(tune()).hexdigest()


def test_a_refused_item_passes_through_untouched(crawler):
    refused = item("http://site/x.mid", b"").reject(LICENCE_NOT_ALLOWED, "cc-by-nc")
    assert ValidatePipeline.from_crawler(crawler).process_item(refused) is refused
    assert refused.status == LICENCE_NOT_ALLOWED


def test_store_then_dedupe_by_sha256_and_by_url(crawler):
    library = crawler.spider.library
    first = run_all(crawler, item("http://site/bach.mid", tune(), composer="Bach, Johann Sebastian"))
    assert first.status == DOWNLOADED and first.style == "baroque"
    piece = library.library.catalog.find_by_sha256(first.sha256)
    assert piece.source == "http://site/bach.mid" and piece.licence == "public-domain"
    assert library.library.blobs.get(piece.blob_key) == tune()

    copy = run_all(crawler, item("http://mirror/bach-copy.mid", tune()))
    assert copy.status == DUPLICATE and "http://site/bach.mid" in copy.reason
    other = run_all(crawler, item("http://site/other.mid", tune(3), piece_style="Folk"))
    assert other.status == DOWNLOADED and other.style == "folk"

    records = {r.url: r for r in library.library.catalog.list_records()}
    assert set(records) == {"http://mirror/bach-copy.mid"} and records["http://mirror/bach-copy.mid"].status == DUPLICATE
    assert len(library.library.catalog.list_pieces()) == 2
    assert crawler.stats.get_value("continuo/stored") == 2
    assert crawler.stats.get_value("continuo/rejected/duplicate") == 1
    assert library.is_settled("http://site/bach.mid") and library.is_settled("http://mirror/bach-copy.mid")


def test_zip_members_mark_their_archive_settled(tmp_path):
    home = tmp_path / "home"
    first = CrawlLibrary.open(home)
    first.store(MidiItem(source="t", url="http://site/set.zip#one.mid", page_url="p", body=tune(), style="classical"))
    first.close()
    again = CrawlLibrary.open(home)
    assert again.is_settled("http://site/set.zip") and not again.is_settled("http://site/other.zip")
    again.close()

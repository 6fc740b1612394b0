"""The Mutopia Project: browse listings -> piece pages -> the MIDI link and its metadata.

Markup followed (cgibin/make-table.cgi and cgibin/piece-info.cgi of MutopiaWeb):
- ``browse.html`` links listings: ``cgibin/make-table.cgi?collection=...`` (or ``?Composer=``, ``?Style=``...);
- a listing holds one ``table.result-table`` per piece with a "More Information" link to
  ``piece-info.cgi?id=N``, and a "Next 10" link to the next page of the listing;
- a piece page has ``<h2>`` title, ``<h4>by Composer (dates)</h4>``, cells
  ``<b>Instrument(s):</b>``, ``<b>Style:</b>``, ``<b>Copyright:</b>`` and a "MIDI file" link
  (a .mid, or "MIDI files (zipped)" for multi-movement pieces: each .mid inside becomes an item).
"""

from __future__ import annotations

import re
from typing import Iterator

import scrapy

from scraper.items import MidiItem
from scraper.spiders.base import MidiSpider, clean_text


class MutopiaSpider(MidiSpider):
    name = "mutopia"
    default_base_url = "https://www.mutopiaproject.org/"
    canonical_hosts = ("www.mutopiaproject.org", "mutopiaproject.org")

    async def start(self):
        yield scrapy.Request(self.url("browse.html"), callback=self.parse_browse, errback=self.page_failed)

    def parse_browse(self, response: scrapy.http.Response) -> Iterator[scrapy.Request]:
        self.count_page()
        for href in response.css("a::attr(href)").getall():
            if "make-table.cgi" in href:
                yield response.follow(self.rebase(response.urljoin(href)), callback=self.parse_listing,
                                      errback=self.page_failed)

    def parse_listing(self, response: scrapy.http.Response) -> Iterator[scrapy.Request]:
        self.count_page()
        for table in response.css("table.result-table"):
            for link in table.css("a"):
                if "piece-info.cgi" in (link.attrib.get("href") or ""):
                    yield response.follow(link, callback=self.parse_piece, errback=self.page_failed)
        for link in response.css("a"):
            if clean_text(link.css("::text").get("")).startswith("Next"):
                yield response.follow(link, callback=self.parse_listing, errback=self.page_failed)

    def parse_piece(self, response: scrapy.http.Response) -> Iterator[MidiItem | scrapy.Request]:
        self.count_page()
        fields = {}
        for cell in response.css("td"):
            label = clean_text(cell.css("b::text").get(""))
            if label.endswith(":"):
                value = clean_text(" ".join(cell.xpath("./node()[not(self::b)]//text() | ./text()").getall()))
                fields[label.rstrip(":")] = value
        composer = clean_text(response.css("h4::text").get(""))
        composer = re.sub(r"\s*\([^)]*\)$", "", re.sub(r"^by\s+", "", composer))  # "by X (1685–1750)" -> "X"
        composer = composer.strip("() ")  # "(Traditional)" -> "Traditional"
        licence_text = clean_text(response.xpath("//td[b[contains(., 'Copyright')]]/a[1]//text()").get(""))
        for link in response.css("a"):
            label = clean_text(link.css("::text").get(""))
            if not label.startswith("MIDI file"):
                continue
            item = MidiItem(
                source=self.name,
                url=self.rebase(response.urljoin(link.attrib["href"])),
                page_url=response.url,
                composer=composer,
                title=clean_text(response.css("h2::text").get("")),
                piece_style=fields.get("Style", ""),
                instrument=fields.get("Instrument(s)", ""),
                licence_text=licence_text or fields.get("Copyright", ""),
            )
            yield from self.midi_request(item)

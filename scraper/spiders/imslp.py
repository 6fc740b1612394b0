"""IMSLP: list works through the documented API, then read each work page.

- ``/imslpscripts/API.ISCR.php?account=worklist/disclaimer=accepted/sort=id/type=2/start=N/retformat=json``
  answers ``{"0": {"id", "type": "2", "parent", "intvals": {"composer", "worktitle", "icatno",
  "pageid"}, "permlink"}, ..., "metadata": {"start", "limit", "moreresultsavailable", ...}}``.
- A work page has a "General Information" table of ``<tr><th>Label</th><td>value</td></tr>``
  rows (Work Title, Composer, Key, Composer Time Period, Piece Style, Instrumentation) and,
  in its audio tab, a "Synthesized/MIDI" heading followed by ``div.we`` blocks: each has a
  ``div.we_file_download`` link and a ``table.we_edition_info`` whose "Copyright" row is
  that file's licence.
- File links usually go to ``/wiki/Special:ImagefromIndex/...``, which robots.txt forbids
  (and which sits behind a disclaimer and a bot gate): those become ``blocked_by_robots``
  records. We never try to get around that.
"""

from __future__ import annotations

import json
from typing import Iterator

import scrapy

from scraper.items import MidiItem
from scraper.spiders.base import MidiSpider, clean_text

API_PATH = "imslpscripts/API.ISCR.php?account=worklist/disclaimer=accepted/sort=id/type=2/start={start}/retformat=json"
MIDI_HEADING = "synthesized/midi"


class ImslpSpider(MidiSpider):
    name = "imslp"
    default_base_url = "https://imslp.org/"
    canonical_hosts = ("imslp.org", "www.imslp.org")

    async def start(self):
        yield self._list_request(0)

    def _list_request(self, start: int) -> scrapy.Request:
        return scrapy.Request(self.url(API_PATH.format(start=start)), callback=self.parse_list,
                              errback=self.page_failed, cb_kwargs={"start": start})

    def parse_list(self, response: scrapy.http.Response, start: int) -> Iterator[scrapy.Request]:
        self.count_page()
        try:
            data = json.loads(response.text)
        except ValueError as exc:
            self.crawler.stats.inc_value("continuo/page_errors")
            self.logger.warning("work list %s is not JSON (%s); stopping the listing here", response.url, exc)
            return
        rows = [row for key, row in data.items() if key != "metadata" and isinstance(row, dict)]
        for row in rows:
            permlink = row.get("permlink")
            if row.get("type") == "2" and permlink:
                yield scrapy.Request(self.rebase(permlink), callback=self.parse_work, errback=self.page_failed,
                                     cb_kwargs={"listed": row.get("intvals") or {}})
        if rows and (data.get("metadata") or {}).get("moreresultsavailable"):
            yield self._list_request(start + len(rows))

    def parse_work(self, response: scrapy.http.Response, listed: dict) -> Iterator[MidiItem | scrapy.Request]:
        self.count_page()
        info = {}
        for row in response.xpath("//tr[th and td][not(ancestor::table[contains(@class, 'we_edition_info')])]"):
            label = clean_text(" ".join(row.xpath("./th//text()").getall()))
            if label and label not in info:
                info[label] = clean_text(" ".join(row.xpath("./td//text()").getall()))
        composer = info.get("Composer") or listed.get("composer", "")
        title = info.get("Work Title") or listed.get("worktitle", "") or clean_text(response.css("h1::text").get(""))
        for block in response.css("div.we"):
            heading = block.xpath("preceding-sibling::*[self::h2 or self::h3 or self::h4 or self::h5][1]")
            if clean_text(" ".join(heading.xpath(".//text()").getall())).lower() != MIDI_HEADING:
                continue
            link = block.css("div.we_file_download a[href]")
            if not link:
                continue
            licence = block.xpath(".//table[contains(@class, 'we_edition_info')]//tr[th[contains(., 'Copyright')]]/td")
            item = MidiItem(
                source=self.name,
                url=self.rebase(response.urljoin(link[0].attrib["href"])),
                page_url=response.url,
                composer=composer,
                title=title,
                period=info.get("Composer Time Period", ""),
                piece_style=info.get("Piece Style", ""),
                instrument=info.get("Instrumentation", ""),
                key=info.get("Key", ""),
                licence_text=clean_text(" ".join(licence.xpath(".//text()").getall())),
            )
            yield from self.midi_request(item)

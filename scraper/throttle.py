"""AutoThrottle that never goes below the site's robots.txt ``Crawl-delay``.

Scrapy reads robots.txt to allow or forbid paths but ignores ``Crawl-delay``; this
extension takes it from the parsed robots.txt (the ``robots_parsed`` signal) and keeps
the host's download slot at least that slow, whatever AutoThrottle computes.
"""

from __future__ import annotations

import logging

from scrapy import signals
from scrapy.extensions.throttle import AutoThrottle
from scrapy.utils.httpobj import urlparse_cached

logger = logging.getLogger(__name__)


class CrawlDelayThrottle(AutoThrottle):
    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.crawl_delays: dict[str, float] = {}
        crawler.signals.connect(self._robots_parsed, signal=signals.robots_parsed)

    def _robots_parsed(self, robotparser, request) -> None:
        useragent = self.crawler.settings.get("USER_AGENT")
        delay = robotparser.crawl_delay(useragent) if hasattr(robotparser, "crawl_delay") else None
        if not delay:
            return
        host = urlparse_cached(request).hostname or ""
        self.crawl_delays[host] = float(delay)
        self.crawler.stats.max_value("continuo/crawl_delay", float(delay))
        logger.info("robots.txt of %s asks for Crawl-delay %.3g s: honoured", host, delay)
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is not None:
            slot.delay = max(slot.delay, float(delay))

    def _response_downloaded(self, response, request, spider) -> None:
        super()._response_downloaded(response, request, spider)
        floor = self.crawl_delays.get(urlparse_cached(request).hostname or "", 0.0)
        _, slot = self._get_slot(request, spider)
        if floor and slot is not None and slot.delay < floor:
            slot.delay = floor

"""One spider per source site. ``SPIDERS`` maps the ``continuo scrape SOURCE`` name to its class."""

from __future__ import annotations

from scraper.spiders.imslp import ImslpSpider
from scraper.spiders.mutopia import MutopiaSpider

SPIDERS = {spider.name: spider for spider in (MutopiaSpider, ImslpSpider)}

"""The Scrapy project that collects openly licensed MIDI into the library.

``continuo scrape SOURCE`` (``scraper.command``) runs one spider from
``scraper.spiders``; the item pipelines in ``scraper.pipelines`` validate,
deduplicate, pick a style and store through ``radio.library``.
"""

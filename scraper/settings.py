"""Scrapy settings for the Continuo scraper: polite by default.

``continuo scrape`` overrides a few of these from its options (--delay, --max-bytes,
--contact, --jobdir, --limit); tests turn the delays down to 0 that way, never here.
"""

BOT_NAME = "continuo"
SPIDER_MODULES = ["scraper.spiders"]
NEWSPIDER_MODULE = "scraper.spiders"

CONTACT_URL = "https://github.com/continuo-radio/continuo"
USER_AGENT = f"ContinuoBot/0.1 (+{CONTACT_URL}; collects openly licensed MIDI)"

# Politeness. One request at a time per host, at least DOWNLOAD_DELAY apart (and at least
# the host's robots.txt Crawl-delay, see scraper.throttle), slower when the host slows down.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 2.0
DOWNLOAD_DELAY_JITTER = 0  # a random jitter would dip below Crawl-delay half the time
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 5.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "scraper.throttle.CrawlDelayThrottle": 0,
}

# Limits: a MIDI file is small; anything near these is not what we want.
DOWNLOAD_MAXSIZE = 2 * 1024 * 1024
DOWNLOAD_WARNSIZE = 1024 * 1024
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 5
RETRY_TIMES = 1
COOKIES_ENABLED = False  # no session, no disclaimer cookie: we never pass a gate

ITEM_PIPELINES = {
    "scraper.pipelines.ValidatePipeline": 100,
    "scraper.pipelines.DeduplicatePipeline": 200,
    "scraper.pipelines.StyleMapPipeline": 300,
    "scraper.pipelines.StorePipeline": 400,
}

LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

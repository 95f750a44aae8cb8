"""Scrapy settings for the pixelforge crawler. Every behaviour is a setting; override with ``-s NAME=value``.

Defaults are polite: robots.txt obeyed (with our fix for the concurrent-first-request defect),
AutoThrottle on, at most 2 requests in flight per domain, 50 MB per download, 429/503 retried
after ``Retry-After``. Settings that only pixelforge reads are prefixed with nothing special
but documented here: ``RAW_STORE``, ``CONTACT``, ``REDIS_URL``, ``RETRY_AFTER_MAX``,
``RAW_STORE_FSYNC``.
"""

BOT_NAME = "pixelforge"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# -- where things go ---------------------------------------------------------------------------
#: The raw store folder (files/ab/<sha256>.<ext> + manifest.jsonl + crawl_stats.json).
RAW_STORE = "data/raw"
#: fsync the manifest after every record (survives power loss, not only a killed process).
RAW_STORE_FSYNC = True

# -- identity and politeness -------------------------------------------------------------------
#: Who to contact about this crawler; appears in the User-Agent. Set it to your address or URL.
CONTACT = "https://github.com/pixelforge/pixelforge"
USER_AGENT = f"pixelforge/0.1 (pixel-art dataset research crawler; +{CONTACT})"
ROBOTSTXT_OBEY = True
#: RFC 9309 on top of Protego: groups chosen by our product token, 500 KiB parse limit (crawler/robots.py).
ROBOTSTXT_PARSER = "crawler.robots.RFC9309RobotParser"
#: The product token robots.txt groups are matched against (case-insensitively).
ROBOTSTXT_USER_AGENT = "pixelforge"
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 50 * 1024 * 1024
DOWNLOAD_WARNSIZE = 20 * 1024 * 1024
REDIRECT_MAX_TIMES = 5
#: Items processed in parallel per response. A page yields a handful of files; Scrapy's default of
#: 100 spawns 100 worker tasks per response, which costs more than it buys (see benchmarks/crawl.py).
CONCURRENT_ITEMS = 16
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

# -- retries: 429 and 503 wait for Retry-After (capped), the others retry at once -----------------
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
#: Longest Retry-After we honour, in seconds; a longer one gives up on that request.
RETRY_AFTER_MAX = 120.0

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.middlewares.ConcurrentSafeRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
}

# -- what the user sees: a tqdm line on a terminal ("auto"), 1 to force, 0 to hide ------------------
PROGRESS_BAR = "auto"
EXTENSIONS = {"crawler.progress.ProgressBar": 500}

# -- `scrapy check`: @base moves a contract's @url onto -a base_url= (see crawler/contracts.py) --------
SPIDER_CONTRACTS = {"crawler.contracts.BaseUrlContract": 5}

# -- the raw store -----------------------------------------------------------------------------
ITEM_PIPELINES = {"crawler.pipelines.RawStorePipeline": 300}
#: File downloads follow redirects (some hosts redirect to a CDN); offsite redirects are still dropped.
MEDIA_ALLOW_REDIRECTS = True

# -- resumable crawls: JOBDIR keeps the queue for a clean pause; after a SIGKILL the manifest is the
# -- truth, so the dupefilter is not persisted (a persisted one would hide pages whose queue entry died).
DUPEFILTER_CLASS = "crawler.dupefilter.MemoryDupeFilter"

# -- development: opt-in HTTP cache (-s HTTPCACHE_ENABLED=1) -----------------------------------
HTTPCACHE_ENABLED = False
HTTPCACHE_DIR = "httpcache"
HTTPCACHE_EXPIRATION_SECS = 0
HTTPCACHE_IGNORE_HTTP_CODES = [429, 500, 502, 503, 504]

# -- scale: -s REDIS_URL=redis://host:6379/0 switches to scrapy-redis' shared scheduler and
# -- dupefilter (see PixelForgeSpider.update_settings); these apply only then.
REDIS_URL = None
SCHEDULER_PERSIST = True
#: A worker closes after its shared queue has stayed empty this long (others may still add pages).
REDIS_IDLE_CLOSE_AFTER = 10.0

FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

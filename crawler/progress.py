"""A tqdm progress line for interactive crawls: pages read, files stored, errors so far.

On by default when stderr is a terminal (``-s PROGRESS_BAR=0`` turns it off, ``=1`` forces it);
logs and CI output stay clean. The total is unknown while a site is being discovered, so the bar
counts stored files and shows the rest in its postfix.
"""

from __future__ import annotations

import sys
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from tqdm import tqdm


class ProgressBar:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.bar: tqdm | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressBar:
        setting = crawler.settings.get("PROGRESS_BAR")
        enabled = sys.stderr.isatty() if setting in (None, "", "auto") else crawler.settings.getbool("PROGRESS_BAR")
        if not enabled:
            raise NotConfigured
        ext = cls(crawler)
        crawler.signals.connect(ext.opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.update, signal=signals.item_scraped)
        crawler.signals.connect(ext.update, signal=signals.response_received)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def opened(self, spider: Any) -> None:
        self.bar = tqdm(desc=f"crawl {spider.name}", unit=" files", dynamic_ncols=True)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if self.bar is None:
            return
        stats = self.crawler.stats
        files = int(stats.get_value("pixelforge/files", 0))
        self.bar.n = files
        errors = sum(v for k, v in stats.get_stats().items() if k.startswith("pixelforge/error/"))
        self.bar.set_postfix(pages=stats.get_value("pixelforge/pages", 0), errors=errors, refresh=False)
        self.bar.refresh()

    def closed(self, spider: Any) -> None:
        if self.bar is not None:
            self.update()
            self.bar.close()

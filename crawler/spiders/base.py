"""What every source shares: arguments, licence filtering, limits, error counting, redis switch.

A *source* (``Source`` subclass, one per site) knows a site's structure: where to start and how to
read its pages. A *spider* (``PixelForgeSpider`` subclass) runs one or more sources; every request
carries ``pf_source``/``pf_step`` in its meta and comes back to ``PixelForgeSpider.parse``, which
hands it to ``<source>.parse_<step>``. Callbacks are therefore spider methods, which JOBDIR and
scrapy-redis need to serialise requests.

Arguments every spider takes (``-a name=value``):

* ``limit``: at most this many stored files per source (counting what the store already holds).
* ``licenses``: comma-separated licences to keep, e.g. ``CC0,CC-BY 4.0``; spelling variants such as
  ``CC BY 4.0`` / ``CC-BY 4.0`` match. Files with an unknown licence are kept only when
  ``unknown`` is listed. Default: keep everything and record the licence as stated.
* ``base_url``: replace the source's site root (tests and mirrors), ``<source>_base_url`` for one
  source of the combined ``pixelart`` spider.
* ``file_hosts``: extra comma-separated hosts files may be downloaded from.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import Request, Response
from scrapy.settings import BaseSettings
from twisted.python.failure import Failure

from crawler.items import UNKNOWN_LICENSE, ArtFile
from crawler.reasons import SKIP_REASONS, UPSTREAM_COUNTED, reason_of

logger = logging.getLogger(__name__)


def normalize_license(name: str) -> str:
    """Compare licence names by letters and numbers: 'CC-BY 4.0', 'cc by 4.0' and 'CC BY 4.0' are one."""
    return re.sub(r"[\s\-_]+", " ", name.strip().upper())


def split_arg(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v and v.strip()]


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


class Source:
    """One site: its start requests and page readers (``parse_<step>`` methods yielding requests/items)."""

    name: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    #: Hosts of the real site: pages plus the known file hosts (downloads are allowed only from these).
    default_hosts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spider: PixelForgeSpider, base_url: str | None = None, **options: Any) -> None:
        self.spider = spider
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.options = options

    @property
    def hosts(self) -> list[str]:
        if self.base_url != self.default_base_url.rstrip("/"):
            return [host_of(self.base_url)]
        return list(self.default_hosts)

    def start_requests(self) -> Iterable[Request]:
        raise NotImplementedError

    def request(self, url: str, step: str, **meta: Any) -> Request:
        """A request whose response goes to ``self.parse_<step>``."""
        return Request(url, callback=self.spider.parse, errback=self.spider.on_error,
                       meta={"pf_source": self.name, "pf_step": step, **meta})

    def art_file(self, url: str, page_url: str, *, title: str = "", author: str = "",
                 licenses: list[tuple[str, str]] | None = None, tags: Iterable[str] = ()) -> ArtFile | None:
        """The item for one file, or None when the licence filter says no (counted).

        ``licenses`` lists (name, url) pairs as the page states them. A multi-licensed work is kept
        when any of its licences is allowed and records them all; ``license`` is the first allowed
        one (the choice among them belongs to the user).
        """
        stated = [(n.strip(), u.strip()) for n, u in (licenses or []) if n and n.strip()]
        chosen = self.spider.pick_license(stated)
        if chosen is None:
            self.spider.count("skip", "license_filtered", self.name)
            return None
        return ArtFile(url=url, page_url=page_url, source=self.name, title=title.strip(), author=author.strip(),
                       license=chosen[0], license_url=chosen[1], tags=sorted({t.strip() for t in tags if t.strip()}),
                       licenses=[{"name": n, "url": u} for n, u in stated or [chosen]])

    @property
    def full(self) -> bool:
        return self.spider.source_full(self.name)


class PixelForgeSpider(scrapy.Spider):
    """Base spider: runs ``source_classes`` (or the ones picked with ``-a sources=``)."""

    source_classes: ClassVar[tuple[type[Source], ...]] = ()

    def __init__(self, *args: Any, sources: str | None = None, limit: str | int | None = None,
                 licenses: str | None = None, base_url: str | None = None, file_hosts: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = int(limit) if limit not in (None, "", "0", 0) else None
        allowed = split_arg(licenses)
        self.licenses = {normalize_license(n) for n in allowed} or None
        self.sources: dict[str, Source] = {}
        wanted = set(split_arg(sources))
        for source in self.build_sources(base_url, kwargs):
            if wanted and source.name not in wanted:
                continue
            self.sources[source.name] = source
        unknown = wanted - set(self.sources)
        if unknown:
            raise ValueError(f"unknown source(s) {sorted(unknown)}; available: {sorted(self.available_sources())}")
        hosts = {h for s in self.sources.values() for h in s.hosts} | set(split_arg(file_hosts))
        self.allowed_domains = sorted(h for h in hosts if h)

    # -- construction ------------------------------------------------------------------------
    def build_sources(self, base_url: str | None, options: dict[str, Any]) -> list[Source]:
        built = []
        for cls in self.source_classes:
            own = options.get(f"{cls.name}_base_url") or base_url
            built.append(cls(self, own, **options))
        return built

    def available_sources(self) -> list[str]:
        return [cls.name for cls in self.source_classes]

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        """Settings that depend on other settings: scrapy-redis behind REDIS_URL, contact in the UA."""
        super().update_settings(settings)
        if settings.get("REDIS_URL"):
            settings.set("SCHEDULER", "scrapy_redis.scheduler.Scheduler", priority="spider")
            settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="spider")
        if settings.getpriority("CONTACT") > settings.getpriority("USER_AGENT"):
            contact = settings.get("CONTACT")
            settings.set("USER_AGENT", f"pixelforge/0.1 (pixel-art dataset research crawler; +{contact})",
                         priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> PixelForgeSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if crawler.settings.get("REDIS_URL"):
            spider._idle_since = None
            spider._idle_grace = crawler.settings.getfloat("REDIS_IDLE_CLOSE_AFTER", 10.0)
            crawler.signals.connect(spider._redis_idle, signal=signals.spider_idle)
        return spider

    def _redis_idle(self) -> None:
        """A worker on a shared queue waits a while before closing: the others may still be producing."""
        now = time.monotonic()
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < self._idle_grace:
            raise DontCloseSpider

    # -- running -----------------------------------------------------------------------------
    async def start(self) -> Any:
        for source in self.sources.values():
            for request in source.start_requests():
                yield request

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """Dispatch to the source's ``parse_<step>``; a reader that crashes on a page is counted, not fatal."""
        source = self.sources.get(response.meta.get("pf_source", ""))
        step = response.meta.get("pf_step", "")
        handler = getattr(source, f"parse_{step}", None)
        if source is None or handler is None:
            self.count("error", "no_handler", response.meta.get("pf_source", "?"))
            return
        self._idle_since = None
        self.crawler.stats.inc_value("pixelforge/pages")
        self.crawler.stats.inc_value(f"pixelforge/source/{source.name}/pages")
        try:
            yield from handler(response)
        except CloseSpider:
            raise
        except Exception as exc:  # one bad page never stops the crawl
            self.logger.warning("could not read %s (%s): %r", response.url, step, exc)
            self.count("error", "parse_error", source.name)
        if self.sources and all(s.full for s in self.sources.values()):
            raise CloseSpider("limit")

    def on_error(self, failure: Failure) -> None:
        """Errback for every page request: log the reason and count it."""
        request = failure.request
        reason = reason_of(failure)
        if reason in UPSTREAM_COUNTED:
            return
        kind = "skip" if reason in SKIP_REASONS else "error"
        source = request.meta.get("pf_source", "?")
        if kind == "error":
            self.logger.warning("page %s failed: %s", request.url, reason)
        self.count(kind, reason, source)

    # -- helpers sources use -----------------------------------------------------------------
    def count(self, kind: str, reason: str, source: str) -> None:
        self.crawler.stats.inc_value(f"pixelforge/{kind}/{reason}")
        self.crawler.stats.inc_value(f"pixelforge/source/{source}/{kind}")

    def pick_license(self, stated: list[tuple[str, str]]) -> tuple[str, str] | None:
        """The licence to record, or None when the filter rejects the work. Never invents one."""
        if not stated:
            if self.licenses is None or normalize_license(UNKNOWN_LICENSE) in self.licenses:
                return UNKNOWN_LICENSE, ""
            return None
        if self.licenses is None:
            return stated[0]
        for name, url in stated:
            if normalize_license(name) in self.licenses:
                return name, url
        return None

    def source_full(self, name: str) -> bool:
        if not self.limit:
            return False
        return (self.crawler.stats.get_value(f"pixelforge/source/{name}/in_store") or 0) >= self.limit

"""A generic gallery spider: add a site with a small TOML file, no code.

``scrapy crawl gallery -a config=path/to/site.toml`` (or the name of a file in ``crawler/configs/``).
The combined ``pixelart`` spider also runs every config in ``crawler/configs/`` with ``enabled = true``.
See ``crawler/configs/example_gallery.toml`` for every key; in short::

    name = "my-gallery"                 # source name recorded in the manifest
    enabled = false                      # run it from `scrapy crawl pixelart`?
    start_urls = ["https://example.org/gallery"]
    allowed_domains = ["example.org"]    # pages are followed only on these
    file_hosts = ["cdn.example.org"]     # extra hosts files may be downloaded from
    [selectors]                          # CSS, read with parsel
    item_links = ".gallery a.item::attr(href)"   # listing -> item pages (omit: images are on the listing)
    image_links = ".artwork a.download::attr(href)"
    next_page = "a.next::attr(href)"
    title = "h1::text"
    author = ".author::text"
    license = ".license::text"          # missing on a page -> license "unknown", never invented
    license_url = ".license a::attr(href)"
    tags = ".tags a::text"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy.http import Request, Response

from crawler.spiders.base import PixelForgeSpider, Source, host_of

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class Selectors:
    image_links: str
    item_links: str = ""
    next_page: str = ""
    title: str = ""
    author: str = ""
    license: str = ""
    license_url: str = ""
    tags: str = ""


@dataclass(frozen=True)
class GalleryConfig:
    name: str
    start_urls: list[str]
    selectors: Selectors
    allowed_domains: list[str] = field(default_factory=list)
    file_hosts: list[str] = field(default_factory=list)
    enabled: bool = False

    @classmethod
    def load(cls, path: str | Path) -> GalleryConfig:
        """Read and check a config; a missing key or wrong type is a clear ValueError."""
        candidate = Path(path)
        if not candidate.exists() and (CONFIG_DIR / f"{path}.toml").exists():
            candidate = CONFIG_DIR / f"{path}.toml"
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"gallery config {candidate}: {exc}") from exc
        try:
            selectors = Selectors(**raw.pop("selectors"))
            config = cls(selectors=selectors, **raw)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"gallery config {candidate}: missing or unknown key ({exc})") from exc
        if not config.start_urls or not all(isinstance(u, str) for u in config.start_urls):
            raise ValueError(f"gallery config {candidate}: start_urls must be a non-empty list of URLs")
        return config


def enabled_configs() -> list[GalleryConfig]:
    return [c for c in (GalleryConfig.load(p) for p in sorted(CONFIG_DIR.glob("*.toml"))) if c.enabled]


def rebase(url: str, base_url: str) -> str:
    """``url`` with scheme and host taken from ``base_url`` (point a config at a mirror or a test server)."""
    parts, base = urlsplit(url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def _text(response: Response, selector: str) -> str:
    if not selector:
        return ""
    return " ".join(t.strip() for t in response.css(selector).getall() if t.strip())


class GallerySource(Source):
    """A site described by a ``GalleryConfig``."""

    def __init__(self, spider: PixelForgeSpider, config: GalleryConfig, base_url: str | None = None,
                 **options: Any) -> None:
        self.config = config
        self.name = config.name  # type: ignore[misc]  # per-instance name: one source per config
        self.default_base_url = f"{urlsplit(config.start_urls[0]).scheme}://{host_of(config.start_urls[0])}"
        super().__init__(spider, base_url, **options)
        self.overridden = bool(base_url)

    @property
    def hosts(self) -> list[str]:
        if self.overridden:
            return [host_of(self.base_url)]
        return [*self.config.allowed_domains, *self.config.file_hosts]

    def start_requests(self) -> Iterable[Request]:
        for url in self.config.start_urls:
            yield self.request(rebase(url, self.base_url) if self.overridden else url, "listing")

    def parse_listing(self, response: Response) -> Iterator[Any]:
        sel = self.config.selectors
        if sel.item_links:
            links = response.css(sel.item_links).getall()
            if not links:
                self.spider.count("error", "missing_fields", self.name)
            for href in dict.fromkeys(links):
                if self.full:
                    return
                yield self.request(response.urljoin(href), "item")
        else:
            yield from self.parse_item(response)
        following = response.css(sel.next_page).get() if sel.next_page else None
        if following and not self.full:
            yield self.request(response.urljoin(following), "listing")

    def parse_item(self, response: Response) -> Iterator[Any]:
        sel = self.config.selectors
        images = response.css(sel.image_links).getall()
        if not images:
            self.spider.count("error", "missing_fields", self.name)
            self.spider.logger.warning("%s: no image links on %s", self.name, response.url)
            return
        license_name = _text(response, sel.license)
        license_url = response.css(sel.license_url).get("") if sel.license_url else ""
        licenses = [(license_name, response.urljoin(license_url) if license_url else "")] if license_name else []
        tags = response.css(sel.tags).getall() if sel.tags else []
        for href in dict.fromkeys(images):
            item = self.art_file(response.urljoin(href), response.url, title=_text(response, sel.title),
                                 author=_text(response, sel.author), licenses=licenses, tags=tags)
            if item is not None:
                yield item


class GallerySpider(PixelForgeSpider):
    """Any gallery described by a TOML config: ``-a config=<path or name in crawler/configs>``."""

    name = "gallery"

    def __init__(self, *args: Any, config: str | None = None, **kwargs: Any) -> None:
        if not config:
            raise ValueError("the gallery spider needs -a config=<file.toml or name in crawler/configs>")
        self.config_path = config
        super().__init__(*args, **kwargs)

    def build_sources(self, base_url: str | None, options: dict[str, Any]) -> list[Source]:
        config = GalleryConfig.load(self.config_path)
        return [GallerySource(self, config, options.get(f"{config.name}_base_url") or base_url, **options)]

    def available_sources(self) -> list[str]:
        return [GalleryConfig.load(self.config_path).name]

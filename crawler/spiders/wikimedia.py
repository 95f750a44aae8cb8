"""Wikimedia Commons through the MediaWiki API (``{base_url}/w/api.php``), never the HTML.

Two queries per category, each following its ``continue`` token until the API stops sending one:

* files: ``generator=categorymembers&gcmtype=file&prop=imageinfo&iiprop=url|size|mime|extmetadata``;
  each page's ``imageinfo[0]`` gives the original ``url`` (never ``thumburl``), ``descriptionurl``
  (the page URL we record), and ``extmetadata`` with ``LicenseShortName``, ``LicenseUrl``,
  ``Artist`` (HTML, reduced to text) and ``ObjectName``/``Categories``;
* subcategories: ``list=categorymembers&cmtype=subcat``, recursed into up to ``depth`` levels
  (``Category:Pixel art`` itself holds few files).

Arguments: ``category`` (default ``Category:Pixel art``), ``depth`` (default 2).

robots.txt: the Wikimedia farm's robots.txt says ``Disallow: /w/``, which covers ``/w/api.php``.
That rule keeps HTML crawlers off dynamic pages; API clients are governed instead by Wikimedia's
API etiquette and User-Agent policy (identify yourself, stay modest, serial-ish requests), which
the defaults follow (descriptive ``USER_AGENT`` with ``CONTACT``, 2 requests per host,
AutoThrottle). So API requests carry ``dont_obey_robotstxt``; file downloads from
``upload.wikimedia.org`` still obey that host's robots.txt.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from bs4 import BeautifulSoup
from scrapy.http import Request, Response

from crawler.spiders.base import PixelForgeSpider, Source

FILE_PROPS = "url|size|mime|extmetadata"


def html_to_text(fragment: str) -> str:
    """Artist fields are HTML (links, spans, <bdi>); keep the words a person would read."""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    return " ".join(BeautifulSoup(fragment, "html.parser").get_text(" ").split())


def meta_value(extmetadata: dict[str, Any], key: str) -> str:
    entry = extmetadata.get(key)
    if isinstance(entry, dict):
        value = entry.get("value", "")
        return value if isinstance(value, str) else str(value)
    return ""


class WikimediaSource(Source):
    name = "wikimedia"
    default_base_url = "https://commons.wikimedia.org"
    default_hosts = ("commons.wikimedia.org", "upload.wikimedia.org")

    def __init__(self, spider: PixelForgeSpider, base_url: str | None = None, **options: Any) -> None:
        super().__init__(spider, base_url, **options)
        self.category = str(options.get("category") or "Category:Pixel art")
        self.depth = int(options.get("depth", 2))
        self.seen_categories: set[str] = set()

    def api_url(self, params: dict[str, str]) -> str:
        return f"{self.base_url}/w/api.php?{urlencode(sorted(params.items()))}"

    def api_request(self, query: dict[str, str], step: str, **meta: Any) -> Request:
        """An API call (see the module docstring for why robots.txt does not apply to it)."""
        return self.request(self.api_url(query), step, pf_query=query, dont_obey_robotstxt=True, **meta)

    def files_query(self, category: str) -> dict[str, str]:
        return {"action": "query", "format": "json", "generator": "categorymembers", "gcmtype": "file",
                "gcmtitle": category, "gcmlimit": "50", "prop": "imageinfo", "iiprop": FILE_PROPS}

    def subcats_query(self, category: str) -> dict[str, str]:
        return {"action": "query", "format": "json", "list": "categorymembers", "cmtype": "subcat",
                "cmtitle": category, "cmlimit": "50"}

    def category_requests(self, category: str, depth: int) -> Iterator[Request]:
        if category in self.seen_categories:
            return
        self.seen_categories.add(category)
        base = self.files_query(category)
        yield self.api_request(base, "files")
        if depth < self.depth:
            sub = self.subcats_query(category)
            yield self.api_request(sub, "subcats", pf_depth=depth)

    def start_requests(self) -> Iterable[Request]:
        yield from self.category_requests(self.category, 0)

    def _json(self, response: Response) -> dict[str, Any] | None:
        try:
            data = json.loads(response.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            self.spider.count("error", "bad_json", self.name)
            self.spider.logger.warning("API answer from %s is not a JSON object", response.url)
            return None
        if "error" in data:
            self.spider.count("error", "api_error", self.name)
            self.spider.logger.warning("API error from %s: %s", response.url, data["error"])
            return None
        return data

    def _continue(self, response: Response, data: dict[str, Any], step: str, **meta: Any) -> Iterator[Request]:
        token = data.get("continue")
        if isinstance(token, dict) and token and not self.full:
            params = {**response.meta["pf_query"], **{k: str(v) for k, v in token.items()}}
            request = self.api_request(params, step, **meta)
            request.meta["pf_query"] = response.meta["pf_query"]
            yield request

    def parse_files(self, response: Response) -> Iterator[Any]:
        data = self._json(response)
        if data is None:
            return
        pages = (data.get("query") or {}).get("pages") or []
        if isinstance(pages, dict):  # formatversion=1 keys pages by id
            pages = list(pages.values())
        for page in pages:
            if self.full:
                break
            item = self._page_item(page)
            if item is not None:
                yield item
        yield from self._continue(response, data, "files")

    def _page_item(self, page: Any) -> Any:
        info = (page.get("imageinfo") or [None])[0] if isinstance(page, dict) else None
        if not isinstance(info, dict) or not isinstance(info.get("url"), str):
            self.spider.count("error", "missing_fields", self.name)
            return None
        ext = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}
        title = html_to_text(meta_value(ext, "ObjectName")) or str(page.get("title", "")).removeprefix("File:")
        license_name = html_to_text(meta_value(ext, "LicenseShortName"))
        licenses = [(license_name, meta_value(ext, "LicenseUrl"))] if license_name else []
        tags = [t for t in meta_value(ext, "Categories").split("|") if t]
        page_url = info.get("descriptionurl") or f"{self.base_url}/wiki/{page.get('title', '')}"
        return self.art_file(info["url"], page_url, title=title, author=html_to_text(meta_value(ext, "Artist")),
                             licenses=licenses, tags=tags)

    def parse_subcats(self, response: Response) -> Iterator[Request]:
        data = self._json(response)
        if data is None:
            return
        depth = response.meta.get("pf_depth", 0)
        for member in (data.get("query") or {}).get("categorymembers") or []:
            title = member.get("title") if isinstance(member, dict) else None
            if isinstance(title, str) and title.startswith("Category:"):
                yield from self.category_requests(title, depth + 1)
        yield from self._continue(response, data, "subcats", pf_depth=depth)


class WikimediaSpider(PixelForgeSpider):
    """Wikimedia Commons "Category:Pixel art" and its subcategories, via the MediaWiki API."""

    name = "wikimedia"
    source_classes = (WikimediaSource,)

    def check_files(self, response: Response) -> Iterator[Any]:
        """Contract for the file-list reader (``scrapy check wikimedia``): one API page of files.

        @url https://commons.wikimedia.org/w/api.php?action=query&format=json&generator=categorymembers&gcmlimit=50&gcmtitle=Category%3APixel+art&gcmtype=file&iiprop=url%7Csize%7Cmime%7Cextmetadata&prop=imageinfo
        @base
        @meta {"pf_source": "wikimedia", "pf_step": "files", "dont_obey_robotstxt": true, "pf_query": {"action": "query", "format": "json", "generator": "categorymembers", "gcmlimit": "50", "gcmtitle": "Category:Pixel art", "gcmtype": "file", "iiprop": "url|size|mime|extmetadata", "prop": "imageinfo"}}
        @returns items 1
        @scrapes url page_url source title author license license_url tags
        """
        return self.parse(response)

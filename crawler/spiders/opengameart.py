"""OpenGameArt.org (Drupal 7): the 2D-art search filtered to a tag, then each ``/content/<slug>`` node.

Page structure read here (as served by opengameart.org):

* listing ``/art-search-advanced?...&field_art_type_tid[]=9&field_art_tags_tid=pixel art&page=N``:
  node links in ``.view-content .views-row``, next page in ``li.pager-next a``;
* node page: title in ``div[property="dc:title"] h2`` or ``div.group-header h2`` (else
  ``<title>``, minus `` | OpenGameArt.org``), author in
  ``.field-name-author-submitter``, licences in ``.field-name-field-art-licenses`` (name in
  ``.license-name``, link in ``.license-icon a``), tags in ``.field-name-field-art-tags a``,
  files in ``.field-name-field-art-files span.file a``: originals under ``/sites/default/files/``.
  Anything under ``/styles/`` is a resampled preview and is never stored.

Arguments: ``tags`` (default ``pixel art``), ``max_pages`` (listing pages, default unlimited).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

from scrapy.http import Request, Response

from crawler.spiders.base import PixelForgeSpider, Source

ART_TYPE_2D = "9"


class OpenGameArtSource(Source):
    name = "opengameart"
    default_base_url = "https://opengameart.org"
    default_hosts = ("opengameart.org",)

    def __init__(self, spider: PixelForgeSpider, base_url: str | None = None, **options: Any) -> None:
        super().__init__(spider, base_url, **options)
        self.tag = str(options.get("tags") or "pixel art")
        self.max_pages = int(options["max_pages"]) if options.get("max_pages") else None

    def listing_url(self, page: int = 0) -> str:
        query = urlencode([
            ("keys", ""), ("title", ""), ("field_art_tags_tid_op", "or"), ("field_art_tags_tid", self.tag),
            ("name", ""), ("field_art_type_tid[]", ART_TYPE_2D), ("sort_by", "created"), ("sort_order", "DESC"),
            ("items_per_page", "144"), ("page", str(page)),
        ])
        return f"{self.base_url}/art-search-advanced?{query}"

    def start_requests(self) -> Iterable[Request]:
        yield self.request(self.listing_url(0), "listing", pf_page=0)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        links = response.css(".view-content .views-row a::attr(href)").getall()
        nodes = list(dict.fromkeys(response.urljoin(h) for h in links if "/content/" in h))
        if not nodes:
            self.spider.count("error", "missing_fields", self.name)
            self.spider.logger.warning("listing %s has no node links", response.url)
        for url in nodes:
            if self.full:
                return
            yield self.request(url, "node")
        page = response.meta.get("pf_page", 0) + 1
        following = response.css("li.pager-next a::attr(href)").get()
        if following and not self.full and (self.max_pages is None or page < self.max_pages):
            yield self.request(response.urljoin(following), "listing", pf_page=page)

    def parse_node(self, response: Response) -> Iterator[Any]:
        title = (response.css('div[property="dc:title"] h2::text').get()
                 or response.css("div.group-header h2::text").get()
                 or (response.css("title::text").get() or "").rsplit("|", 1)[0])
        author = " ".join(t.strip() for t in response.css(".field-name-author-submitter .field-item *::text").getall()
                          if t.strip())
        licenses = []
        for block in response.css(".field-name-field-art-licenses .field-item"):
            name = " ".join(t.strip() for t in block.css(".license-name::text, .license-name *::text").getall())
            link = block.css("a::attr(href)").get() or ""
            if name.strip():
                licenses.append((name, response.urljoin(link) if link else ""))
        tags = response.css(".field-name-field-art-tags .field-item a::text").getall()
        files = response.css(".field-name-field-art-files span.file a::attr(href)").getall()
        if not files:
            self.spider.count("error", "missing_fields", self.name)
            self.spider.logger.warning("node %s lists no files", response.url)
            return
        for href in dict.fromkeys(files):
            url = response.urljoin(href)
            path = urlsplit(url).path
            if "/styles/" in path:
                self.spider.count("skip", "thumbnail", self.name)
                continue
            item = self.art_file(url, response.url, title=title, author=author, licenses=licenses, tags=tags)
            if item is not None:
                yield item


class OpenGameArtSpider(PixelForgeSpider):
    """OpenGameArt.org 2D art tagged "pixel art": original files with licence and author."""

    name = "opengameart"
    source_classes = (OpenGameArtSource,)

    def check_node(self, response: Response) -> Iterator[Any]:
        """Contract for the node reader (``scrapy check opengameart``): a CC0 pixel-art tileset page.

        @url https://opengameart.org/content/dungeon-crawl-32x32-tiles
        @base
        @meta {"pf_source": "opengameart", "pf_step": "node"}
        @returns items 1
        @returns requests 0 0
        @scrapes url page_url source title author license license_url tags
        """
        return self.parse(response)

    def check_listing(self, response: Response) -> Iterator[Any]:
        """Contract for the search listing: node pages and the next listing page.

        @url https://opengameart.org/art-search-advanced?field_art_tags_tid=pixel%20art&field_art_type_tid%5B%5D=9&page=0
        @base
        @meta {"pf_source": "opengameart", "pf_step": "listing", "pf_page": 0}
        @returns requests 2
        @returns items 0 0
        """
        return self.parse(response)

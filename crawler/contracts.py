"""Scrapy contracts for ``scrapy check``: the spiders' page readers checked against a live page.

``scrapy check opengameart`` fetches the real page named in each ``@url`` and checks what the reader
returns (run it now and then: it is how a change in a site's structure shows up). With
``-a base_url=http://127.0.0.1:PORT`` the ``@base`` contract moves that URL onto a mirror or a
local fixture site, which is how the test suite runs the same contracts without the internet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy.contracts import Contract


class BaseUrlContract(Contract):
    """``@base``: rewrite the ``@url`` onto the spider's ``base_url`` when one was given."""

    name = "base"

    def __init__(self, method: Callable[..., Any], *args: Any) -> None:
        super().__init__(method, *args)
        self.spider = method.__self__  # contracts are built from the bound callbacks of a spider

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        spider = self.spider
        source = next(iter(spider.sources.values()), None)
        if source is None or not getattr(source, "base_url", ""):
            return args
        url, base = urlsplit(args["url"]), urlsplit(source.base_url)
        args["url"] = urlunsplit((base.scheme, base.netloc, url.path, url.query, url.fragment))
        return args

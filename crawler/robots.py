"""robots.txt as RFC 9309 says, on top of Protego (Scrapy's default parser).

Protego does the rule matching (longest match wins, ``Allow`` wins a tie, ``*`` and ``$``), and
we give it only what RFC 9309 asks it to see:

* **Group selection by the product token** (section 2.2.1): a group applies when its user-agent
  is our product token (``pixelforge``; case-insensitive; a ``/version`` suffix is tolerated) or
  ``*``. Protego matches any token found inside the full User-Agent string at a word boundary,
  so ours (``pixelforge/0.1 (pixel-art dataset research crawler; +...)``) would obey a group
  written for ``crawler``, ``research`` or ``pixel``. Other groups are renamed before parsing.
* **A parsing limit of 500 KiB** (section 2.5): the first 500 KiB are parsed (cut at a line end),
  the rest is ignored, so a huge robots.txt cannot make the crawler parse megabytes.

What a status means (section 2.3.1) is decided by the middleware
(:class:`crawler.middlewares.ConcurrentSafeRobotsTxtMiddleware`): 2xx is parsed, 4xx allows
everything, 5xx and network errors disallow everything on that host.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from protego import Protego
from scrapy.robotstxt import RobotParser, decode_robotstxt
from scrapy.utils.python import to_unicode

if TYPE_CHECKING:  # pragma: no cover
    from scrapy.crawler import Crawler

#: RFC 9309 2.5: crawlers MUST parse at least 500 KiB; we parse exactly that much.
MAX_ROBOTS_BYTES = 500 * 1024
_UA_LINE = re.compile(r"^(\s*user[-_ ]?agent\s*:\s*)([^#\r\n]*)(.*)$", re.IGNORECASE)
_OTHER = "-another-crawler-"  # never a substring of a product token (tokens cannot start with "-")


def product_token(settings: Any) -> str:
    """Our product token: ``ROBOTSTXT_USER_AGENT``, else the User-Agent up to its first ``/`` or space."""
    agent = str(settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or "")
    return re.split(r"[/\s]", agent.strip(), maxsplit=1)[0].lower() or "*"


def truncate(body: bytes, limit: int = MAX_ROBOTS_BYTES) -> bytes:
    """The first ``limit`` bytes, cut back to the last line end so no rule is read half."""
    if len(body) <= limit:
        return body
    head = body[:limit]
    end = max(head.rfind(b"\n"), head.rfind(b"\r"))
    return head[: end + 1] if end >= 0 else b""


def only_our_groups(text: str, product: str) -> str:
    """``text`` with every user-agent line that is neither ``*`` nor our product token renamed."""
    out = []
    for line in text.splitlines():
        match = _UA_LINE.match(line)
        if match:
            value = match.group(2).strip()
            token = value.split("/", 1)[0].strip().lower()
            if value != "*" and token != product:
                line = f"{match.group(1)}{_OTHER}{match.group(3)}"
        out.append(line)
    return "\n".join(out)


class RFC9309RobotParser(RobotParser):
    """``ROBOTSTXT_PARSER`` for pixelforge: Protego, fed as RFC 9309 asks (see the module docstring)."""

    def __init__(self, robotstxt_body: bytes, spider: Any, product: str) -> None:
        self.spider = spider
        self.product = product
        text = decode_robotstxt(truncate(robotstxt_body), spider)
        self.rp = Protego.parse(only_our_groups(text, product))

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> RFC9309RobotParser:
        spider = None if not crawler else crawler.spider
        product = product_token(crawler.settings) if crawler else "*"
        return cls(robotstxt_body, spider, product)

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return bool(self.rp.can_fetch(to_unicode(url), self.product))

    def crawl_delay(self, user_agent: str | bytes) -> float | None:
        delay = self.rp.crawl_delay(self.product)
        return None if delay is None else float(delay)


class DisallowAll(RobotParser):
    """The rules of a host whose robots.txt could not be fetched (5xx, network error): nothing."""

    def __init__(self, why: str) -> None:
        self.why = why

    @classmethod
    def from_crawler(cls, crawler: Crawler, robotstxt_body: bytes) -> DisallowAll:
        return cls("robots.txt unreachable")

    def allowed(self, url: str | bytes, user_agent: str | bytes) -> bool:
        return False

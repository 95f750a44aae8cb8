"""Downloader middlewares: robots.txt that holds for concurrent first requests, and Retry-After.

``ConcurrentSafeRobotsTxtMiddleware`` guards against an upstream Scrapy defect (seen in 2.19.0):
while a host's robots.txt is being fetched, every further request to that host awaits the same
Deferred through ``maybe_deferred_to_future``. Converting a Deferred to a future adds a callback
that returns ``None``, so the first waiter consumes the parsed rules and every later waiter gets
``None``, which the middleware reads as "no robots.txt, allow everything". Four simultaneous
first requests to a host therefore let a disallowed page through. Once the Deferred has fired,
the parser (or ``None`` after a download error, which upstream deliberately treats as "allow")
is stored in ``_parsers``; we hand every waiter that stored value instead of the consumed result.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import defer, reactor, task

from crawler.robots import DisallowAll

logger = logging.getLogger(__name__)


class ConcurrentSafeRobotsTxtMiddleware(RobotsTxtMiddleware):
    """``RobotsTxtMiddleware`` whose waiters all get the parsed rules, not just the first one, and
    which reads robots.txt statuses as RFC 9309 2.3.1 says.

    2xx: the rules (parsed by ``ROBOTSTXT_PARSER``). 3xx left after ``REDIRECT_MAX_TIMES`` (5)
    redirects, and 4xx except 429: "unavailable", everything allowed. 5xx, 429 and network errors
    (timeouts, refused or dropped connections): "unreachable", everything on that host disallowed
    for this crawl (upstream Scrapy allows everything then, and parses a 5xx error page as rules).
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        stored = self._parsers.get(urlparse_cached(request).netloc)
        if isinstance(stored, defer.Deferred):  # cannot happen after the await; keep upstream's answer
            return parser
        return stored

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        status = response.status
        if 200 <= status < 300:
            await super()._parse_robots(response, netloc, request)
            return
        self._stats.inc_value("robotstxt/response_count")
        self._stats.inc_value(f"robotstxt/response_status_count/{status}")
        if status >= 500 or status == 429:
            logger.warning("robots.txt of %s answered %d: nothing on that host is fetched (RFC 9309 2.3.1.4)",
                           netloc, status)
            self._settle(netloc, DisallowAll(f"robots.txt answered {status}"))
        else:
            self._settle(netloc, None)  # 3xx/4xx: unavailable, no rules (RFC 9309 2.3.1.3)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):  # too many redirects, or filtered: unavailable
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        logger.warning("robots.txt of %s unreachable (%s): nothing on that host is fetched (RFC 9309 2.3.1.4)",
                       netloc, type(exc).__name__)
        self._settle(netloc, DisallowAll(f"robots.txt unreachable: {type(exc).__name__}"))

    def _settle(self, netloc: str, parser: RobotParser | None) -> None:
        pending = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(pending, defer.Deferred):
            pending.callback(parser)


def parse_retry_after(value: bytes | str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    """``RetryMiddleware`` that waits ``Retry-After`` seconds before retrying a 429 or 503.

    The wait is capped by ``RETRY_AFTER_MAX``: a server asking for longer gets the request given
    up (reason ``retry_after_too_long``) instead of a crawler that silently stalls for hours.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.retry_after_max = crawler.settings.getfloat("RETRY_AFTER_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry") or response.status not in (429, 503):
            return super().process_response(request, response)
        delay = parse_retry_after(response.headers.get(b"Retry-After"))
        stats = self.crawler.stats
        if delay is not None and delay > self.retry_after_max:
            logger.warning(
                "Giving up %s: Retry-After %.0fs exceeds RETRY_AFTER_MAX=%.0fs", request, delay, self.retry_after_max
            )
            stats.inc_value("pixelforge/retry_after/too_long")
            return response
        if delay:
            stats.inc_value("pixelforge/retry_after/waited")
            logger.info("%s answered %d, waiting %.1fs (Retry-After)", request, response.status, delay)
            await maybe_deferred_to_future(task.deferLater(reactor, delay, lambda: None))
        return super().process_response(request, response)

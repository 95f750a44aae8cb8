"""Turn a failure into a short, stable reason ("timeout", "http_404", ...) for logs and crawl_stats.json."""

from __future__ import annotations

import errno

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net_error
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

#: Reasons that are a deliberate "no", not a failure: counted under skips, not errors.
SKIP_REASONS = frozenset(
    {"robots_forbidden", "offsite", "ignored", "already_stored", "license_filtered", "limit", "thumbnail"}
)

#: Reasons Scrapy's own middlewares count (offsite/filtered, robotstxt/forbidden); we copy those stats.
UPSTREAM_COUNTED = {"offsite": "offsite/filtered", "robots_forbidden": "robotstxt/forbidden"}

try:  # a failure of this type is logged by MediaPipeline without a traceback; ours carry a reason instead
    from scrapy.pipelines.media import _MediaRequestFiltered as _QuietMediaError
except ImportError:  # pragma: no cover - older/newer Scrapy
    _QuietMediaError = Exception  # type: ignore[misc,assignment]


class CrawlError(_QuietMediaError):
    """An error with a reason that goes into crawl_stats.json as it is (and into one log line, no traceback)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


_BY_NAME = {
    "DownloadTimeoutError": "timeout",
    "ResponseDataLossError": "truncated",
    "DownloadCancelledError": "too_large",
    "DownloadConnectionRefusedError": "connection_refused",
    "CannotResolveHostError": "dns",
    "DownloadFailedError": "download_failed",
    "UnsupportedURLSchemeError": "bad_url",
}


def reason_of(failure: Failure | BaseException) -> str:
    """A short reason for a failed request, page or file."""
    exc = failure.value if isinstance(failure, Failure) else failure
    if isinstance(exc, CrawlError):
        return exc.reason
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        text = str(exc).lower()
        if "robots" in text:
            return "robots_forbidden"
        if "redirect" in text:
            return "redirect_loop"
        if "offsite" in text:
            return "offsite"
        return "ignored"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "disk_full"
    name = type(exc).__name__
    if name in _BY_NAME:  # Scrapy's own download exceptions (2.13+), matched by name across versions
        if name == "DownloadCancelledError" and "max size" not in str(exc).lower() and "maxsize" not in str(exc).lower():
            return "cancelled"
        return _BY_NAME[name]
    if isinstance(exc, (net_error.TimeoutError, net_error.TCPTimedOutError)) or name == "TimeoutError":
        return "timeout"
    if isinstance(exc, net_error.DNSLookupError):
        return "dns"
    if isinstance(exc, (net_error.ConnectionRefusedError, net_error.ConnectError)):
        return "connection_refused"
    if isinstance(exc, ResponseFailed):
        if any("PotentialDataLoss" in repr(r) or "_DataLoss" in repr(r) for r in exc.reasons):
            return "truncated"
        return "connection_lost"
    if isinstance(exc, ResponseNeverReceived):
        return "no_response"
    if "maxsize" in str(exc).lower() or "cancelled" in str(exc).lower():
        return "too_large"
    return type(exc).__name__

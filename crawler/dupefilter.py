"""A request dupefilter that never persists to JOBDIR, so a crawl killed with SIGKILL loses nothing.

Scrapy's ``RFPDupeFilter`` appends fingerprints to ``JOBDIR/requests.seen`` when a request is
*scheduled*, while the disk queue's index is written only on a clean close. After a SIGKILL the
restarted crawl therefore believes it saw pages whose queue entries died with the process, and
never visits them. We keep the fingerprints in memory instead: a resumed crawl re-walks the
listing and node pages (cheap), and the raw store's manifest, which is crash-safe, makes every
file it already holds a skip without a download.
"""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter


class MemoryDupeFilter(RFPDupeFilter):
    """``RFPDupeFilter`` without the ``requests.seen`` file."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MemoryDupeFilter:
        return cls(None, crawler.settings.getbool("DUPEFILTER_DEBUG"), fingerprinter=crawler.request_fingerprinter)

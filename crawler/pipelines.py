"""Scrapy glue for the raw store: download each ``ArtFile`` once and record where it was found.

The store's layout and manifest format are the kernel's contract (:mod:`pixelforge.rawstore`);
this module only adapts them to Scrapy. Why FilesPipeline and not ImagesPipeline: ImagesPipeline
re-encodes to JPEG and drops alpha, which destroys pixel art. We keep FilesPipeline's split of
storage (``AtomicFSFilesStore``) and download logic, and replace its URL-hash path with the
content hash.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from hashlib import sha256
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline, FSFilesStore
from scrapy.pipelines.media import MediaPipeline
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import reactor
from twisted.python.failure import Failure

from crawler.items import ArtFile
from crawler.reasons import SKIP_REASONS, UPSTREAM_COUNTED, CrawlError, reason_of
from pixelforge.io import atomic_path, atomic_write
from pixelforge.rawstore import (
    MANIFEST_FILE,
    STATS_FILE,
    Manifest,
    ManifestRecord,
    extension_for,
    false_claim,
    file_path,
    looks_like_html,
    sniff,
    utc_now,
)

logger = logging.getLogger(__name__)


class AtomicFSFilesStore(FSFilesStore):
    """Local store that writes to a temporary file and renames, so a file is either whole or absent."""

    def __init__(self, basedir: str | os.PathLike[str]) -> None:
        # several crawler processes may share one store (scrapy-redis): Scrapy's own mkdir is not
        # race-safe, so make the folder first, tolerating a twin that just made it
        Path(basedir).mkdir(parents=True, exist_ok=True)
        super().__init__(basedir)

    def persist_file(self, path: str | os.PathLike[str], buf: BytesIO, info: MediaPipeline.SpiderInfo,
                     meta: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        target = Path(self.basedir, path)
        if target.exists():
            return  # content-addressed: same name, same bytes
        with atomic_path(target) as tmp:
            tmp.write_bytes(buf.getvalue())


class RawStorePipeline(FilesPipeline):
    """Download each ``ArtFile`` once, store it by content hash, and append its provenance.

    Skips (with a counted reason): a (url, page_url) already in the manifest, a source already at
    ``-a limit``. A URL already stored but found on a new page gets a provenance line without a
    download. Failures (HTTP errors, timeouts, truncated or empty bodies, HTML served as a file)
    are logged and counted under their reason; the crawl goes on.
    """

    STORE_SCHEMES = {**FilesPipeline.STORE_SCHEMES, "": AtomicFSFilesStore, "file": AtomicFSFilesStore}

    def __init__(self, store_uri: str, *, crawler: Crawler) -> None:
        super().__init__(store_uri, crawler=crawler)
        self.root = Path(store_uri.removeprefix("file://"))
        self.manifest = Manifest(self.root / MANIFEST_FILE, fsync=crawler.settings.getbool("RAW_STORE_FSYNC", True))
        self.by_url: dict[str, dict[str, Any]] = {}
        self.by_sha: dict[str, dict[str, Any]] = {}
        self.provenances: set[tuple[str, str]] = set()
        self.source_files: dict[str, set[str]] = {}
        self.pending: Counter[str] = Counter()
        self.disk_full = False
        self.started_at = utc_now()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RawStorePipeline:
        pipeline = cls(str(crawler.settings.get("RAW_STORE") or "data/raw"), crawler=crawler)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    # -- lifecycle ---------------------------------------------------------------------------
    def open_spider(self, spider: Any = None) -> None:
        super().open_spider()
        for rec in self.manifest.load():
            self._remember(rec)
        logger.info("raw store %s: %d files, %d records", self.root, len(self.by_sha), len(self.provenances))

    def close_spider(self, spider: Any = None) -> None:
        self.manifest.close()

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Write crawl_stats.json once the finish reason is known, and log the summary."""
        try:
            summary = write_crawl_stats(self.root / STATS_FILE, self.crawler, self.started_at, self._store_totals(),
                                        reason)
        except OSError as exc:  # a full disk: the previous crawl_stats.json stays whole
            logger.error("raw store %s: cannot write %s: %s", self.root, STATS_FILE, exc)
            return
        logger.info(
            "raw store %s: %d new files (%d bytes), %d extra provenances, %d pages; skips %s; errors %s",
            self.root, summary["files"], summary["bytes"], summary["provenance_added"], summary["pages"],
            summary["skips"] or "none", summary["errors"] or "none",
        )

    def _remember(self, rec: dict[str, Any]) -> None:
        self.by_url.setdefault(rec["url"], rec)
        self.by_sha.setdefault(rec["sha256"], rec)
        self.provenances.add((rec["url"], rec["page_url"]))
        files = self.source_files.setdefault(rec["source"], set())
        files.add(rec["sha256"])
        self.crawler.stats.set_value(f"pixelforge/source/{rec['source']}/in_store", len(files))

    def _store_totals(self) -> dict[str, int]:
        return {
            "files": len(self.by_sha),
            "records": len(self.provenances),
            "bytes": sum(int(r.get("bytes", 0)) for r in self.by_sha.values()),
        }

    # -- counting ----------------------------------------------------------------------------
    def _count(self, reason: str, source: str, url: str) -> None:
        if reason in UPSTREAM_COUNTED:
            return
        kind = "skip" if reason in SKIP_REASONS else "error"
        self.crawler.stats.inc_value(f"pixelforge/{kind}/{reason}")
        self.crawler.stats.inc_value(f"pixelforge/source/{source}/{kind}")
        if kind == "error":
            logger.warning("file %s (%s): %s", url, source, reason)
        else:
            logger.debug("file %s (%s) skipped: %s", url, source, reason)

    def _limit_reached(self, source: str) -> bool:
        limit = getattr(self.crawler.spider, "limit", None)
        if not limit:
            return False
        return len(self.source_files.get(source, ())) + self.pending[source] >= limit

    # -- the item ----------------------------------------------------------------------------
    async def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, ArtFile):
            return item
        if not item.url.startswith(("http://", "https://")):
            self._count("bad_url", item.source, item.url)
            return item
        if (item.url, item.page_url) in self.provenances:
            self._count("already_stored", item.source, item.url)
            return item
        known = self.by_url.get(item.url)
        if known is not None:
            self._append(item, known)
            return item
        if self._limit_reached(item.source):
            self._count("limit", item.source, item.url)
            return item
        self.pending[item.source] += 1
        try:
            return await super().process_item(item)
        finally:
            self.pending[item.source] -= 1

    def get_media_requests(self, item: ArtFile, info: MediaPipeline.SpiderInfo) -> list[Request]:
        return [Request(item.url, callback=NO_CALLBACK, meta={"pf_source": item.source, "pf_file": True})]

    def media_to_download(self, request: Request, info: MediaPipeline.SpiderInfo, *, item: Any = None) -> None:
        return None  # the URL index in open_spider already decided; content paths need the body

    def media_failed(self, failure: Failure, request: Request, info: MediaPipeline.SpiderInfo) -> None:
        raise CrawlError(reason_of(failure), str(failure.value)[:200])

    async def media_downloaded(
        self, response: Response, request: Request, info: MediaPipeline.SpiderInfo, *, item: Any = None
    ) -> dict[str, Any]:
        if response.status != 200:
            raise CrawlError(f"http_{response.status}")
        body = response.body
        if not body:
            raise CrawlError("empty_body")
        header_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip().lower()
        if sniff(body) is None and (looks_like_html(body) or header_type == "text/html"):
            raise CrawlError("html_not_file", f"served as {header_type or 'no type'}")
        problem = false_claim(body, urlsplit(request.url).path, header_type)
        if problem:  # an SVG, an XML error, or "image/png" bytes that are not a PNG
            raise CrawlError("not_an_image", problem)
        digest = sha256(body).hexdigest()
        ext, content_type = extension_for(body, request.url.split("?", 1)[0], header_type)
        path = file_path(digest, ext)
        try:
            self.store.persist_file(path, BytesIO(body), info)
        except OSError as exc:
            if reason_of(exc) == "disk_full":
                self._stop_for_full_disk()
                raise CrawlError("disk_full", str(exc)) from None
            raise
        self.crawler.stats.inc_value("pixelforge/downloaded")
        return {"url": request.url, "path": path, "sha256": digest, "bytes": len(body),
                "content_type": content_type, "status": "downloaded", "checksum": digest}

    def file_path(self, request: Request, response: Response | None = None, info: Any = None, *,
                  item: Any = None) -> str:
        if response is None:
            raise CrawlError("internal", "content-addressed paths need the response body")
        digest = sha256(response.body).hexdigest()
        ext, _ = extension_for(response.body, request.url.split("?", 1)[0], "")
        return file_path(digest, ext)

    def item_completed(self, results: list[tuple[bool, Any]], item: ArtFile, info: MediaPipeline.SpiderInfo) -> Any:
        for ok, value in results:
            if not ok:
                self._count(reason_of(value), item.source, item.url)
                continue
            if (item.url, item.page_url) in self.provenances:  # same file listed twice on a page
                self._count("already_stored", item.source, item.url)
                continue
            stored = self.by_sha.get(value["sha256"])
            if stored is not None:
                self.crawler.stats.inc_value("pixelforge/skip/duplicate_bytes")
                self._append(item, stored)
            else:
                self._append(item, value, new=True)
        return item

    def _stop_for_full_disk(self) -> None:
        """Close the crawl (finish reason ``disk_full``): what is recorded is whole, a re-run resumes."""
        if self.disk_full:
            return
        self.disk_full = True
        logger.error("no space left on the device of %s: stopping the crawl; free some space and run it again "
                     "(every file and manifest line written so far is whole)", self.root)
        engine = self.crawler.engine
        if engine is not None:
            reactor.callLater(0, lambda: deferred_from_coro(engine.close_spider_async(reason="disk_full")))

    def _append(self, item: ArtFile, file: dict[str, Any], new: bool = False) -> None:
        record = ManifestRecord(
            sha256=file["sha256"], path=file["path"], bytes=int(file["bytes"]), content_type=file["content_type"],
            url=item.url, page_url=item.page_url, source=item.source, title=item.title, author=item.author,
            license=item.license, license_url=item.license_url, tags=list(item.tags), fetched_at=utc_now(),
            licenses=[dict(x) for x in item.licenses] or [{"name": item.license, "url": item.license_url}],
        )
        try:
            self.manifest.append(record)
        except OSError as exc:
            if reason_of(exc) != "disk_full":
                raise
            self._count("disk_full", item.source, item.url)  # the line was rolled back: a re-run records it
            self._stop_for_full_disk()
            return
        self._remember(record.to_dict())
        stats = self.crawler.stats
        if new:
            stats.inc_value("pixelforge/files")
            stats.inc_value("pixelforge/bytes", record.bytes)
            stats.inc_value(f"pixelforge/source/{item.source}/files")
            stats.inc_value(f"pixelforge/source/{item.source}/bytes", record.bytes)
        else:
            stats.inc_value("pixelforge/provenance_added")


def write_crawl_stats(path: Path, crawler: Crawler, started_at: str, store: dict[str, int],
                      finish_reason: str = "") -> dict[str, Any]:
    """Summarise this crawl's counters into crawl_stats.json (atomically) and return the summary."""
    raw = crawler.stats.get_stats()
    summary: dict[str, Any] = {
        "spider": getattr(crawler.spider, "name", ""),
        "started_at": started_at,
        "finished_at": utc_now(),
        "finish_reason": finish_reason or raw.get("finish_reason", ""),
        "pages": int(raw.get("pixelforge/pages", 0)),
        "files": int(raw.get("pixelforge/files", 0)),
        "bytes": int(raw.get("pixelforge/bytes", 0)),
        "provenance_added": int(raw.get("pixelforge/provenance_added", 0)),
        "skips": {},
        "errors": {},
        "sources": {},
        "store": store,
    }
    for key, value in sorted(raw.items()):
        parts = key.split("/")
        if parts[0] != "pixelforge" or len(parts) < 3:
            continue
        if parts[1] == "skip":
            summary["skips"]["/".join(parts[2:])] = int(value)
        elif parts[1] == "error":
            summary["errors"]["/".join(parts[2:])] = int(value)
        elif parts[1] == "source" and len(parts) == 4:
            summary["sources"].setdefault(parts[2], {})[parts[3]] = int(value)
    for reason, key in UPSTREAM_COUNTED.items():
        if raw.get(key):
            summary["skips"][reason] = int(raw[key])
    atomic_write(path, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary

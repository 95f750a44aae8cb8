"""The raw store: original bytes, content-addressed, with a crash-safe provenance manifest.

Contract (the crawler writes it, ``curate run`` reads it; both import it from here)::

    <RAW_STORE>/
      files/ab/<sha256>.<ext>   the downloaded bytes exactly as served (zip packs stay zipped);
                                ab = first two hex digits of the sha256 of those bytes
      manifest.jsonl            one JSON object per line, appended, never rewritten
      crawl_stats.json          counts of the latest crawl (pages, files, bytes, skips and
                                errors by reason, per source) plus totals of the store

Each manifest line has exactly these keys:

    sha256, path, bytes, content_type, url, page_url, source, title, author, license,
    license_url, tags, fetched_at

* ``path`` is relative to the store (``files/ab/<sha256>.<ext>``); ``bytes`` is its size;
  ``content_type`` is sniffed from the bytes when recognised, else the server's header.
* ``license`` is the licence the page states (e.g. ``"CC0"``, ``"CC-BY 4.0"``) or ``"unknown"``
  when it states none; ``license_url`` is ``""`` then. Nothing is ever guessed.
* ``tags`` is a list of strings; ``fetched_at`` is an ISO-8601 UTC timestamp.
* A line is a *provenance* of a stored file: the same bytes found at two URLs (or the same URL on
  two pages) are stored once and get two lines with the same ``sha256`` and ``path``. Readers
  group by ``sha256``; the first line is where the file was first seen.
* A (url, page_url) pair appears at most once, across re-runs and resumed crawls.
* The last line may be torn only by a power loss mid-append; the next crawl truncates it away
  before appending, and readers should ignore a final line without ``\\n``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import mimetypes
import os
import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.jsonl"
STATS_FILE = "crawl_stats.json"
FILES_DIR = "files"
#: The manifest keys that describe where a file came from (carried into dataset rows).
PROVENANCE_FIELDS: tuple[str, ...] = ("source", "url", "page_url", "title", "author", "license", "license_url")


@dataclass(frozen=True)
class ManifestRecord:
    """One manifest line: a stored file and one place it was found."""

    sha256: str
    path: str
    bytes: int
    content_type: str
    url: str
    page_url: str
    source: str
    title: str
    author: str
    license: str
    license_url: str
    tags: list[str]
    fetched_at: str

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))  # flat fields: cheaper than dataclasses.asdict's deep copy

    def to_line(self) -> bytes:
        return (json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


MANIFEST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ManifestRecord))


class Manifest:
    """Append-only JSONL with whole-line writes: a killed process never leaves half a record.

    Each record is one ``os.write`` on an ``O_APPEND`` descriptor (the kernel finishes a write
    it has started even if the process is SIGKILLed), optionally followed by ``fsync`` for power
    loss. On open, a torn final line (no newline) is cut off, so appends always start clean. An
    advisory ``flock`` around each append and the repair keeps several crawlers on one store safe.
    """

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._fd: int | None = None

    def load(self) -> list[dict[str, Any]]:
        """Read all complete records, repairing a torn tail; bad lines are logged and skipped."""
        if not self.path.exists():
            return []
        with self.path.open("r+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # another crawler sharing this store may be appending
            data = fh.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                logger.warning("manifest %s: cutting a torn last line (%d bytes)", self.path, len(data) - end)
                fh.truncate(end)
                data = data[:end]
            fcntl.flock(fh, fcntl.LOCK_UN)
        records = []
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("manifest %s: line %d is not JSON, ignored", self.path, n)
                continue
            if isinstance(rec, dict) and {"sha256", "path", "url", "page_url", "source"} <= rec.keys():
                records.append(rec)
        return records

    def append(self, record: ManifestRecord) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = record.to_line()
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # whole lines even with several writers on one store
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # regular files do not short-write in practice; be correct anyway
                written += os.write(self._fd, data[written:])
            if self.fsync:
                os.fsync(self._fd)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def file_path(digest: str, ext: str) -> str:
    """Where the bytes with sha256 ``digest`` live, relative to the store."""
    return f"{FILES_DIR}/{digest[:2]}/{digest}.{ext}"


_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"GIF87a", "gif", "image/gif"),
    (b"GIF89a", "gif", "image/gif"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"BM", "bmp", "image/bmp"),
    (b"PK\x03\x04", "zip", "application/zip"),
    (b"PK\x05\x06", "zip", "application/zip"),
)
_SAFE_EXT = re.compile(r"^[a-z0-9]{1,8}$")


def sniff(body: bytes) -> tuple[str, str] | None:
    """(extension, MIME type) from the first bytes, or None when unrecognised."""
    for magic, ext, mime in _MAGIC:
        if body.startswith(magic):
            return ext, mime
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "webp", "image/webp"
    return None


def looks_like_html(body: bytes) -> bool:
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in head[:200]


def extension_for(body: bytes, url_path: str, header_type: str) -> tuple[str, str]:
    """File extension and content type: the bytes decide, then the URL, then the header."""
    sniffed = sniff(body)
    if sniffed:
        return sniffed
    suffix = Path(url_path).suffix.lower().lstrip(".")
    if _SAFE_EXT.match(suffix):
        return suffix, header_type or mimetypes.guess_type("x." + suffix)[0] or "application/octet-stream"
    guessed = mimetypes.guess_extension(header_type) if header_type else None
    return (guessed or ".bin").lstrip("."), header_type or "application/octet-stream"




def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

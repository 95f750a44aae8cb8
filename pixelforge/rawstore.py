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
    license_url, tags, fetched_at, licenses

* ``path`` is relative to the store (``files/ab/<sha256>.<ext>``); ``bytes`` is its size;
  ``content_type`` is sniffed from the bytes when recognised, else the server's header.
* ``license`` is the licence the page states (e.g. ``"CC0"``, ``"CC-BY 4.0"``) or ``"unknown"``
  when it states none; ``license_url`` is ``""`` then. Nothing is ever guessed.
* ``licenses`` is every licence the page states, in page order, as a list of
  ``{"name": ..., "url": ...}`` objects (``url`` may be ``""``): a work offered under
  "CC-BY-SA 3.0, GPL 2.0" keeps both, because choosing one belongs to the user.
  ``license``/``license_url`` stay the chosen one (the first the crawl's licence filter
  accepts) for older readers. Lines written before this field existed lack it: read them as
  ``[{"name": license, "url": license_url}]`` (:func:`record_licenses` does).
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
from dataclasses import dataclass, field, fields
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
    licenses: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))  # flat fields: cheaper than dataclasses.asdict's deep copy

    def to_line(self) -> bytes:
        return (json.dumps(vars(self), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


MANIFEST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ManifestRecord))


#: Keys a record must have, as strings, for a reader to use it.
REQUIRED_FIELDS: tuple[str, ...] = ("sha256", "path", "url", "page_url", "source")


def record_licenses(rec: dict[str, Any]) -> list[dict[str, str]]:
    """Every licence of a manifest record as ``{"name", "url"}``; an old line without ``licenses`` has one."""
    stated = rec.get("licenses")
    if isinstance(stated, list) and stated:
        return [{"name": str(x.get("name") or ""), "url": str(x.get("url") or "")}
                for x in stated if isinstance(x, dict) and x.get("name")]
    return [{"name": str(rec.get("license") or "unknown"), "url": str(rec.get("license_url") or "")}]


def is_valid_record(rec: Any) -> bool:
    """True for a manifest line a reader can rely on: the required keys are strings, ``bytes`` an int."""
    if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in REQUIRED_FIELDS):
        return False
    size = rec.get("bytes", 0)
    return isinstance(size, int) and not isinstance(size, bool) and isinstance(rec.get("tags", []), list)


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
            except (ValueError, RecursionError):  # not UTF-8, not JSON, nested too deeply
                logger.warning("manifest %s: line %d is not JSON, ignored", self.path, n)
                continue
            if is_valid_record(rec):
                records.append(rec)
            else:
                logger.warning("manifest %s: line %d is not a manifest record, ignored", self.path, n)
        return records

    def append(self, record: ManifestRecord) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = record.to_line()
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # whole lines even with several writers on one store
        try:
            start = os.lseek(self._fd, 0, os.SEEK_END)
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a full disk short-writes; be correct anyway
                    written += os.write(self._fd, data[written:])
            except OSError:
                os.ftruncate(self._fd, start)  # never leave half a line for the next append to run into
                raise
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


#: What a body that starts like markup looks like (after whitespace, comments and an XML declaration);
#: the tags are those of the WHATWG MIME sniffing rules for text/html.
_HTML_TAGS = (b"!doctype html", b"html", b"head", b"script", b"iframe", b"h1", b"div", b"font", b"table", b"a",
              b"style", b"title", b"b", b"body", b"br", b"p", b"meta", b"link")
_BOMS = (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe")


def _skip_prolog(head: bytes) -> tuple[bytes, bool]:
    """``head`` without leading whitespace, comments, ``<?xml ...?>`` and a non-HTML doctype;
    and whether a comment was skipped (a body that opens with one is markup)."""
    comment = False
    while True:
        head = head.lstrip()
        if head.startswith(b"<!--"):
            end = head.find(b"-->")
            comment = True
            head = head[end + 3:] if end >= 0 else b""
        elif head.startswith(b"<?"):
            end = head.find(b"?>")
            head = head[end + 2:] if end >= 0 else b""
        elif head.startswith(b"<!doctype") and not head.startswith(b"<!doctype html"):
            end = head.find(b">")
            head = head[end + 1:] if end >= 0 else b""
        else:
            return head, comment


def markup_kind(body: bytes) -> str | None:
    """"html", "svg" or "xml" when ``body`` is markup rather than a file's bytes, else None.

    Looks past a byte-order mark, whitespace, comments, an XML declaration and a doctype, so an
    error page that opens with ``<!-- ... -->`` and blank lines is still seen as HTML.
    """
    head = body[:4096]
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom):]
            break
    lowered = head.lower()
    rest, comment = _skip_prolog(lowered)
    if rest.startswith(b"<svg") or (lowered.lstrip().startswith((b"<?xml", b"<!doctype svg")) and b"<svg" in lowered):
        return "svg"
    for tag in _HTML_TAGS:
        if rest.startswith(b"<" + tag) and rest[len(tag) + 1:len(tag) + 2] in (b" ", b">", b"\t", b"\n", b"\r", b"/"):
            return "html"
    if b"<html" in lowered[:1024] or b"<!doctype html" in lowered[:1024]:
        return "html"
    if comment:
        return "html"  # WHATWG: a body that opens with a comment is text/html
    if lowered.lstrip().startswith(b"<?xml"):
        return "xml"
    return None


def looks_like_html(body: bytes) -> bool:
    return markup_kind(body) == "html"


#: Types that always open with a magic number :func:`sniff` knows: a body claimed to be one of them
#: (by its URL or its Content-Type) that does not sniff as anything is not what it claims.
_CLAIMABLE = {"png": "PNG", "gif": "GIF", "jpg": "JPEG", "jpeg": "JPEG", "jpe": "JPEG", "bmp": "BMP",
              "webp": "WebP", "zip": "zip"}
_CLAIMABLE_TYPES = {"image/png": "PNG", "image/gif": "GIF", "image/jpeg": "JPEG", "image/pjpeg": "JPEG",
                    "image/bmp": "BMP", "image/webp": "WebP", "application/zip": "zip"}


def false_claim(body: bytes, url_path: str, header_type: str) -> str | None:
    """Why ``body`` is not what its URL or header says (None when it may be): markup, or a format
    whose magic number is missing. The crawler stores no such file."""
    if sniff(body) is not None:
        return None
    kind = markup_kind(body)
    if kind is not None:
        return f"{kind} served as {header_type or 'no type'}"
    suffix = Path(url_path).suffix.lower().lstrip(".")
    claimed = _CLAIMABLE_TYPES.get(header_type) or _CLAIMABLE.get(suffix)
    if claimed:
        return f"served as {header_type or 'no type'} ({Path(url_path).name or '/'}), but the bytes are not {claimed}"
    return None


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

"""Where pictures come from: files, folders (searched recursively) and URLs.

Every problem becomes an :class:`InputError` with a short ``reason`` tag, so the CLI can report
it for that one input and carry on with the rest. URLs are fetched with a timeout, a byte limit
(checked against ``Content-Length`` and again while streaming) and a content-type check.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
import urllib3

from pixelforge.decoding import IMAGE_SUFFIXES

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
_CONTENT_SUFFIX = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
    "video/x-matroska": ".mkv",
}

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
USER_AGENT = "pixelforge-pixelate/0.1 (+https://github.com/pixelforge)"


class InputError(ValueError):
    """One input that cannot be used; ``reason`` is a short tag (``not-found``, ``http-404``, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class InputItem:
    """One thing to pixelate: a local file or a URL, and the name its output gets under ``-o``."""

    source: str
    name: Path  # relative output name, suffix included (the CLI changes the suffix)
    path: Path | None = None
    url: str | None = None

    @property
    def suffix(self) -> str:
        return self.name.suffix.lower()

    @property
    def is_video(self) -> bool:
        return self.suffix in VIDEO_SUFFIXES

    @property
    def is_gif(self) -> bool:
        return self.suffix == ".gif"


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str
    url: str


def is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def _url_name(url: str) -> Path:
    """A file name for a URL's output: its last path segment, or a short hash when there is none."""
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    segment = re.sub(r"[^A-Za-z0-9._-]+", "_", segment).strip("._")
    if not segment:
        segment = "url-" + hashlib.sha256(url.encode()).hexdigest()[:10]
    return Path(segment)


def collect_inputs(args: list[str]) -> tuple[list[InputItem], list[tuple[str, InputError]]]:
    """Expand the command line into items; missing paths and empty folders become failures, not exceptions."""
    items: list[InputItem] = []
    failures: list[tuple[str, InputError]] = []
    for arg in args:
        if is_url(arg):
            items.append(InputItem(source=arg, name=_url_name(arg), url=arg))
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                failures.append((arg, InputError("empty-folder", f"no images or videos found under {path}")))
            items.extend(InputItem(source=str(p), name=p.relative_to(path), path=p) for p in found)
        elif path.is_file():
            items.append(InputItem(source=arg, name=Path(path.name), path=path))
        else:
            failures.append((arg, InputError("not-found", f"no such file or folder: {arg}")))
    return _unique_names(items), failures


def _unique_names(items: list[InputItem]) -> list[InputItem]:
    """Two inputs never write the same output: a repeated name gets ``-2``, ``-3``... appended."""
    seen: set[str] = set()
    out = []
    for item in items:
        name = item.name
        n = 1
        while name.with_suffix("").as_posix().lower() in seen:
            n += 1
            name = item.name.with_name(f"{item.name.stem}-{n}{item.name.suffix}")
        seen.add(name.with_suffix("").as_posix().lower())
        out.append(InputItem(item.source, name, item.path, item.url))
    return out


def fetch_url(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    session: requests.Session | None = None,
) -> Fetched:
    """Download an image or video, refusing anything that is not ``image/*``/``video/*`` or too big.

    ``timeout`` bounds the whole download (connecting, headers and body), not each read: a server
    that drips a byte a second is cut off when the time is up. The download runs in a daemon thread
    the caller stops waiting for at the deadline; told to stop, the thread quits at its next read.
    """
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["ok"] = _download(url, timeout, max_bytes, session, deadline, stop)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name="pixelate-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()) + 0.2)
    if worker.is_alive():
        stop.set()
        raise InputError("timeout", f"{url} did not finish within {timeout:g} s (--timeout bounds the whole download)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["ok"]  # type: ignore[return-value]


def _download(
    url: str, timeout: float, max_bytes: int, session: requests.Session | None, deadline: float, stop: threading.Event
) -> Fetched:
    http = session or requests
    try:
        with http.get(url, stream=True, timeout=timeout, headers={"User-Agent": USER_AGENT}) as resp:
            if resp.status_code != 200:
                raise InputError(f"http-{resp.status_code}", f"{url} answered {resp.status_code} {resp.reason}")
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not ctype.startswith(("image/", "video/")):
                raise InputError("not-an-image", f"{url} is {ctype or 'of no declared type'}, not an image or video")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise InputError("too-large", f"{url} announces {int(declared)} bytes, over the {max_bytes}-byte limit")
            chunks, total = [], 0
            # read1 returns whatever one read brings, so the deadline is checked between every few bytes
            read = resp.raw.read1 if hasattr(resp.raw, "read1") else resp.raw.read
            while chunk := read(1 << 16, decode_content=True):
                if stop.is_set() or time.monotonic() > deadline:
                    raise InputError("timeout", f"{url} did not finish within {timeout:g} s (--timeout bounds the whole download)")
                total += len(chunk)
                if total > max_bytes:
                    raise InputError("too-large", f"{url} sent more than the {max_bytes}-byte limit")
                chunks.append(chunk)
            data = b"".join(chunks)
            final = resp.url
    except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
        raise InputError("timeout", f"{url} did not answer within {timeout:g} s") from exc
    except requests.TooManyRedirects as exc:
        raise InputError("redirect-loop", f"{url}: {exc}") from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        raise InputError("download-failed", f"{url}: {exc}") from exc
    if not data:
        raise InputError("empty", f"{url} sent an empty body")
    return Fetched(data, ctype, final)


def read_input(item: InputItem, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, InputItem]:
    """The item's bytes (local files are limited by the decoder's pixel limit, URLs by ``max_bytes``),
    and the item again with its name's suffix fixed from the content type for URLs."""
    if item.url is None:
        assert item.path is not None
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            raise InputError("unreadable", f"{item.path}: {exc.strerror or exc}") from exc
        if not data:
            raise InputError("empty", f"{item.path} is an empty file")
        return data, item
    fetched = fetch_url(item.url, timeout=timeout, max_bytes=max_bytes)
    suffix = _CONTENT_SUFFIX.get(fetched.content_type)
    name = item.name
    if suffix and name.suffix.lower() != suffix and not (suffix == ".jpg" and name.suffix.lower() == ".jpeg"):
        name = name.with_name(name.name + suffix) if not name.suffix else name.with_suffix(suffix)
    return fetched.data, InputItem(item.source, name, item.path, item.url)

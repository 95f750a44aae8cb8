"""Input readers: a raw store (on the kernel's contract) or a plain folder of images -> distinct files.

Both give :class:`Inputs`: one :class:`RawInput` per distinct sha256, with every provenance record
of it (first seen first), plus the input-stage rejections. Hostile or unlucky input is a
rejection with a reason, never an exception: a manifest line that is not UTF-8, not JSON, nested
too deeply, too long, or has a field of the wrong type; a path that escapes the store or holds a
NUL; a missing, unreadable or non-regular file; a folder that cannot be listed; a symlink that
leads out of a plain input folder; a file name that is not valid UTF-8 (Parquet needs UTF-8).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from curation.errors import CurateError
from curation.process import ItemInfo
from pixelforge.dataset import UNKNOWN_LICENSE
from pixelforge.rawstore import MANIFEST_FILE as MANIFEST
from pixelforge.rawstore import PROVENANCE_FIELDS

#: A manifest line longer than this is rejected without being held in memory (real lines are < 2 KB).
MAX_MANIFEST_LINE = 1 << 20


@dataclass
class RawInput:
    """One distinct raw file; ``records`` are all its provenances, the first one names the row."""

    sha256: str
    path: Path
    records: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return str(self.records[0].get("url") or self.path)


@dataclass
class Inputs:
    kind: str  # "raw-store" or "folder"
    files: list[RawInput]
    rejected: list[dict[str, Any]] = field(default_factory=list)
    n_records: int = 0


class ReadRefused(Exception):
    """A raw file that is not read: ``reason`` is the rejection reason, ``detail`` names the limit."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _open_regular(path: Path) -> int:
    """An fd on ``path`` if it is a regular file. O_NONBLOCK: opening a FIFO never waits for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ReadRefused("not-a-file", f"{path} is a {_kind(mode)}, not a regular file")
    return fd


def read_regular(path: str | os.PathLike[str], limit: int, key: str = "expand.max_file_bytes") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; the size is checked before reading.

    Raises :class:`ReadRefused` (not a regular file, too large) or ``OSError`` (cannot be read).
    """
    fd = _open_regular(Path(path))
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise ReadRefused("file-too-large", f"{size} bytes > {key} = {limit}")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:  # it grew since the stat
            raise ReadRefused("file-too-large", f"more than {key} = {limit} bytes")
        return data
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
    fd = _open_regular(path)
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _printable(text: str) -> str:
    """``text`` safe for UTF-8 reports: undecodable bytes of a file name become ``\\xNN``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: from \\udcXX escapes or undecodable file names
        return False
    return True


def check_record(rec: Any) -> str | None:
    """Why a manifest record cannot be used (None when it can): field types and encodings."""
    if not isinstance(rec, dict):
        return f"a line must be a JSON object, got {type(rec).__name__}"
    for key in ("sha256", "path"):
        value = rec.get(key)
        if not isinstance(value, str) or not value:
            return f"{key} must be a non-empty string, got {value!r:.80}"
    if "\0" in rec["path"]:
        return "path holds a NUL byte"
    for key in (*PROVENANCE_FIELDS, "sha256", "path"):
        value = rec.get(key)
        if value is not None and not isinstance(value, str):
            return f"{key} must be a string, got {type(value).__name__}"
        if isinstance(value, str) and not _utf8(value):
            return f"{key} is not valid Unicode"
    tags = rec.get("tags")
    if tags is not None and not isinstance(tags, str) and not (
        isinstance(tags, list) and all(isinstance(t, str) and _utf8(t) for t in tags)
    ):
        return "tags must be a list of strings"
    stated = rec.get("licenses")
    if stated is not None and not (isinstance(stated, list) and all(_license_entry(x) for x in stated)):
        return 'licenses must be a list of {"name": non-empty string, "url": string} objects'
    return None


def _license_entry(entry: Any) -> bool:
    """One ``licenses`` item of the raw-store contract: ``{"name": str, "url": str}``, valid Unicode."""
    if not isinstance(entry, dict) or set(entry) - {"name", "url"}:
        return False
    name, url = entry.get("name"), entry.get("url", "")
    return (isinstance(name, str) and bool(name.strip()) and isinstance(url, str)
            and _utf8(name) and _utf8(url))


def lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) of a binary file; a line over MAX_MANIFEST_LINE comes as None, skipped unread."""
    lineno = 0
    while True:
        line = fh.readline(MAX_MANIFEST_LINE + 1)
        if not line:
            return
        lineno += 1
        if len(line) > MAX_MANIFEST_LINE and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of it, a block at a time
                line = fh.readline(MAX_MANIFEST_LINE)
            yield lineno, None
            continue
        yield lineno, line


def parse_line(line: bytes | None) -> tuple[dict[str, Any] | None, str]:
    if line is None:
        return None, f"longer than {MAX_MANIFEST_LINE} bytes"
    try:
        rec = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 ({exc.reason} at byte {exc.start})"
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    problem = check_record(rec)
    return (None, problem) if problem else (rec, "")


def read_raw_store(root: Path) -> Inputs:
    """Group manifest records by sha256 (first record first); bad lines and missing files are rejections."""
    by_sha: dict[str, RawInput] = {}
    rejected: list[dict[str, Any]] = []
    n_records = 0
    root = root.resolve()
    resolve = _Resolver()
    with (root / MANIFEST).open("rb") as fh:
        for lineno, line in lines(fh):
            if line is not None and not line.strip():
                continue
            n_records += 1
            rec, problem = parse_line(line)
            if rec is None:
                rejected.append(_input_rejection(f"{MANIFEST}:{lineno}", None, "bad-manifest-line", problem))
                continue
            sha, rel = rec["sha256"], rec["path"]
            try:
                path = resolve(root / rel)
            except (OSError, ValueError, RuntimeError) as exc:  # symlink loops, names too long
                rejected.append(_input_rejection(rec.get("url") or rel, sha, "bad-path", f"{rel}: {exc}"))
                continue
            if not path.is_relative_to(root):
                rejected.append(_input_rejection(rec.get("url") or rel, sha, "path-escape", f"{rel} is outside the store"))
                continue
            if sha in by_sha:
                by_sha[sha].records.append(rec)
            else:
                by_sha[sha] = RawInput(sha, path, [rec])
    files = []
    for raw in by_sha.values():
        try:
            mode = raw.path.stat().st_mode
        except OSError as exc:
            rejected.append(_input_rejection(raw.label, raw.sha256, "missing-file", f"{raw.path}: {exc.strerror}"))
            continue
        if stat.S_ISREG(mode):
            files.append(raw)
        else:
            rejected.append(_input_rejection(raw.label, raw.sha256, "not-a-file",
                                             f"{raw.path} is a {_kind(mode)}, not a regular file"))
    return Inputs("raw-store", sorted(files, key=lambda r: r.sha256), rejected, n_records)


class _Resolver:
    """``Path.resolve`` for many files in few folders: each folder is resolved once (a store has
    at most 256 of them), the file name only when it is itself a symlink."""

    def __init__(self) -> None:
        self.folders: dict[Path, Path] = {}

    def __call__(self, path: Path) -> Path:
        if ".." in path.parts:
            return path.resolve()
        folder = self.folders.get(path.parent)
        if folder is None:
            folder = self.folders[path.parent] = path.parent.resolve()
        full = folder / path.name
        return full.resolve() if full.is_symlink() else full


def _walk(root: Path, rejected: list[dict[str, Any]]) -> Iterator[tuple[Path, str]]:
    """(path, posix path relative to ``root``) of every candidate file, sorted, hidden names skipped.

    Never leaves ``root``: a symlink is followed only when it resolves inside it (symlinked
    folders are not followed at all: their targets inside ``root`` are walked anyway).
    """
    real_root = root.resolve()
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            label = prefix.rstrip("/") or "."
            rejected.append(_input_rejection(_printable(label), None, "unreadable-folder",
                                             f"{_printable(str(folder))}: {exc.strerror or exc}"))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            if not _utf8(entry.name):
                rejected.append(_input_rejection(_printable(rel), None, "bad-file-name",
                                                 "the name is not valid UTF-8; rename it to include it"))
                continue
            try:
                if entry.is_symlink():
                    target = Path(entry.path).resolve()
                    if not target.is_relative_to(real_root):
                        rejected.append(_input_rejection(rel, None, "symlink-escape",
                                                         f"links to {_printable(str(target))}, outside the input"))
                        continue
                    if not target.exists():
                        rejected.append(_input_rejection(rel, None, "missing-file", "broken symlink"))
                        continue
                    if target.is_dir():
                        continue
                elif entry.is_dir(follow_symlinks=False):
                    subfolders.append((Path(entry.path), rel + "/"))
                    continue
            except (OSError, RuntimeError) as exc:
                rejected.append(_input_rejection(rel, None, "unreadable", str(exc)))
                continue
            yield Path(entry.path), rel
        stack.extend(reversed(subfolders))


def read_folder(root: Path, exclude: Path | None = None) -> Inputs:
    """Every file under ``root`` (hidden files and ``exclude`` skipped); provenance is the path."""
    by_sha: dict[str, RawInput] = {}
    found: list[dict[str, Any]] = []  # refused while walking
    rejected: list[dict[str, Any]] = []  # refused while reading
    n = 0
    excluded = exclude.resolve() if exclude is not None else None
    for path, rel in _walk(root, found):
        if excluded is not None and path.resolve().is_relative_to(excluded):
            continue
        n += 1
        try:
            sha = _sha256_file(path)
        except ReadRefused as exc:
            rejected.append(_input_rejection(rel, None, exc.reason, exc.detail))
            continue
        except OSError as exc:
            rejected.append(_input_rejection(rel, None, "unreadable", f"{exc.strerror or exc}"))
            continue
        rec = {"sha256": sha, "path": rel, "source": "folder", "url": rel, "page_url": "",
               "title": Path(rel).stem, "author": "", "license": UNKNOWN_LICENSE, "license_url": "", "tags": [],
               "fetched_at": None, "licenses": [{"name": UNKNOWN_LICENSE, "url": ""}]}
        by_sha.setdefault(sha, RawInput(sha, path, [])).records.append(rec)
    n += sum(1 for r in found if r["reason"] != "unreadable-folder")  # files found but refused
    return Inputs("folder", sorted(by_sha.values(), key=lambda r: r.sha256), found + rejected, n)


def read_inputs(root: Path, output: Path | None = None) -> Inputs:
    """The raw store or folder at ``root``; one that cannot be read at all is a :class:`CurateError`."""
    if not root.is_dir():
        raise FileNotFoundError(f"input {root} is not a folder")
    try:
        with os.scandir(root) as it:
            next(it, None)
    except OSError as exc:
        raise CurateError(f"input {root} cannot be read: {exc.strerror or exc}") from None
    if (root / MANIFEST).is_file():
        return read_raw_store(root)
    return read_folder(root, exclude=output)


def _input_rejection(label: str, sha: str | None, reason: str, detail: str) -> dict[str, Any]:
    return {"input": label, "sha256": sha, "member": "", "stage": "input", "reason": reason, "detail": detail}


@dataclass(frozen=True)
class Entry:
    """One kept item of one raw file, before dedup: its first provenance names the row."""

    sha256: str
    record: dict[str, Any]
    item: ItemInfo
    raw: RawInput

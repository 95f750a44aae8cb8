"""Input readers: a raw store (on the kernel's contract) or a plain folder of images -> distinct files.

Both give :class:`Inputs`: one :class:`RawInput` per distinct sha256, with every provenance record
of it (first seen first), plus the input-stage rejections (bad manifest lines, missing files,
paths that escape the store).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.process import ItemInfo
from pixelforge.dataset import UNKNOWN_LICENSE
from pixelforge.rawstore import MANIFEST_FILE as MANIFEST


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


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_raw_store(root: Path) -> Inputs:
    """Group manifest records by sha256 (first record first); bad lines and missing files are rejections."""
    by_sha: dict[str, RawInput] = {}
    rejected: list[dict[str, Any]] = []
    n_records = 0
    root = root.resolve()
    resolve = _Resolver()
    with (root / MANIFEST).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            n_records += 1
            try:
                rec = json.loads(line)
                sha, rel = str(rec["sha256"]), str(rec["path"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                rejected.append(_input_rejection(f"{MANIFEST}:{lineno}", None, "bad-manifest-line", str(exc)))
                continue
            path = resolve(root / rel)
            if not path.is_relative_to(root):
                rejected.append(_input_rejection(rec.get("url") or rel, sha, "path-escape", f"{rel} is outside the store"))
                continue
            if sha in by_sha:
                by_sha[sha].records.append(rec)
            else:
                by_sha[sha] = RawInput(sha, path, [rec])
    files = []
    for raw in by_sha.values():
        if raw.path.is_file():
            files.append(raw)
        else:
            rejected.append(_input_rejection(raw.label, raw.sha256, "missing-file", f"{raw.path} not found"))
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


def read_folder(root: Path, exclude: Path | None = None) -> Inputs:
    """Every file under ``root`` (hidden files and ``exclude`` skipped); provenance is the path."""
    by_sha: dict[str, RawInput] = {}
    n = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude.resolve()):
            continue
        n += 1
        sha = _sha256_file(path)
        rec = {"sha256": sha, "path": rel.as_posix(), "source": "folder", "url": rel.as_posix(), "page_url": "",
               "title": path.stem, "author": "", "license": UNKNOWN_LICENSE, "license_url": "", "tags": [],
               "fetched_at": None}
        by_sha.setdefault(sha, RawInput(sha, path, [])).records.append(rec)
    return Inputs("folder", sorted(by_sha.values(), key=lambda r: r.sha256), [], n)


def read_inputs(root: Path, output: Path | None = None) -> Inputs:
    if not root.is_dir():
        raise FileNotFoundError(f"input {root} is not a folder")
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

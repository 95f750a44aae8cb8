"""The per-file result cache: ``<output>/cache.sqlite``, keyed by raw sha256 and the config key.

A file's result is stored as typed JSON (:class:`CachedFile`: item infos, rejections, stage
counts) and its images as PNG blobs keyed by pixel sha256, so a re-run or a resumed run reads
back exactly what the workers produced, without re-decoding anything.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import CurateError, is_disk_full
from curation.process import FileResult, ItemInfo, Rejection

CACHE_FILE = "cache.sqlite"

#: (pixel_sha256, native PNG, canvas PNG) of each kept item
Images = list[tuple[str, bytes, bytes]]


@dataclass(frozen=True)
class CachedFile:
    """One raw file's per-image results, as the cache keeps them."""

    items: list[ItemInfo] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    stages: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, result: FileResult) -> tuple[CachedFile, Images]:
        """A worker's result split into what goes into JSON and the image blobs."""
        cached = cls([it.info() for it in result.items], list(result.rejected), result.stages)
        return cached, [(it.pixel_sha256, it.native_png, it.canvas_png) for it in result.items]

    def to_json(self) -> str:
        return json.dumps({"items": [vars(it) for it in self.items], "rejected": [vars(r) for r in self.rejected],
                           "stages": self.stages})

    @classmethod
    def from_json(cls, text: str) -> CachedFile:
        data: dict[str, Any] = json.loads(text)
        return cls([ItemInfo(**it) for it in data["items"]], [Rejection(**r) for r in data["rejected"]],
                   data["stages"])


def damaged(path: Path, exc: BaseException) -> CurateError:
    """The error for a cache that cannot be used; deleting it loses only time, never a result."""
    if is_disk_full(exc, path.parent):
        return CurateError(f"no space left on the device of {path} ({exc}); free some space and run again: "
                           "the results committed so far are kept")
    return CurateError(f"{path} is damaged or not a pixelforge cache ({type(exc).__name__}: {exc}); "
                       "delete it and run again (every image is then processed anew; nothing else is lost)")


class ResultCache:
    """SQLite cache of per-file results and their PNGs, keyed by raw sha256 + config key."""

    def __init__(self, path: Path, config_key: str) -> None:
        self.key = config_key
        self.path = path
        try:
            self.db = sqlite3.connect(path)
        except sqlite3.Error as exc:
            raise damaged(path, exc) from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS files (key TEXT, sha256 TEXT, result TEXT,"
                            " PRIMARY KEY (key, sha256))")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS images (key TEXT, pixel_sha256 TEXT, native BLOB, canvas BLOB,"
                " PRIMARY KEY (key, pixel_sha256))"
            )
            # a table of ours with other columns (another tool's file, an old layout) fails here, not mid-run
            self.db.execute("SELECT key, sha256, result FROM files LIMIT 0")
            self.db.execute("SELECT key, pixel_sha256, native, canvas FROM images LIMIT 0")
            self.db.commit()
        except sqlite3.Error as exc:
            self.db.close()
            raise damaged(path, exc) from None

    def done(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM files WHERE key = ?", (self.key,))}

    def put(self, sha: str, cached: CachedFile, images: Images) -> None:
        self.db.executemany("INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?)", [(self.key, *im) for im in images])
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (self.key, sha, cached.to_json()))

    def commit(self) -> None:
        self.db.commit()

    def get(self, sha: str) -> CachedFile:
        row = self.db.execute("SELECT result FROM files WHERE key = ? AND sha256 = ?", (self.key, sha)).fetchone()
        try:
            return CachedFile.from_json(row[0])
        except (TypeError, KeyError, ValueError) as exc:  # a row that is not what put() wrote
            raise damaged(self.path, exc) from None

    def image(self, pixel_sha: str) -> tuple[bytes, bytes]:
        row = self.db.execute("SELECT native, canvas FROM images WHERE key = ? AND pixel_sha256 = ?",
                              (self.key, pixel_sha)).fetchone()
        return row[0], row[1]

    def close(self) -> None:
        try:
            self.db.commit()
        except sqlite3.Error:  # a full disk: the last open transaction is lost, the committed ones are kept
            pass
        self.db.close()

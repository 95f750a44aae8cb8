"""Where training images come from: image folders, dataset folders from `curate run`, Hub datasets.

Every source becomes a :class:`Domain` (indexable, ``load`` returns RGB on white). Problems that
make a domain unusable (missing, empty, unreadable or incomplete shards, no image column) are a
:class:`DataError` before training starts; a single bad image is a rejection with its reason.
A source that looks like a local path never becomes a Hub download.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pixelforge.decoding import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageDecodeError, open_image
from pixelforge.imaging import composite_on_white

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_SHARD = re.compile(r"^(?P<split>.+)-(?P<index>\d+)-of-(?P<total>\d+)\.parquet$")
#: Largest image file read (a 64-megapixel PNG is far smaller): bounds reads of odd paths in a dataset.
MAX_FILE_BYTES = 256 * 1024 * 1024


class DataError(ValueError):
    """A domain that cannot be trained on (missing, empty, unreadable)."""


@dataclass(frozen=True)
class Rejected:
    item: str
    reason: str


# --------------------------------------------------------------------------- domains


class Domain:
    """An indexable collection of images; ``load`` returns RGB (alpha composited on white)."""

    kind = "?"

    def __init__(self, source: str, role: str) -> None:
        self.source = source
        self.role = role
        self.rejected: list[Rejected] = []

    def __len__(self) -> int:
        raise NotImplementedError

    def name(self, index: int) -> str:
        raise NotImplementedError

    def load(self, index: int) -> Image.Image:
        raise NotImplementedError

    def describe(self) -> str:
        return f"domain {self.role}: {len(self)} images from {self.kind} {self.source}"

    def balance_weights(self, column: str) -> np.ndarray:
        """Sampling weights that give every value of ``column`` the same share (rows within a value alike).

        Why: a sheet cut into 270 frames would otherwise outweigh 270 separate files; balancing over the
        dataset's ``sha256`` (the original file) or ``source`` column lets the small sources be seen.
        """
        raise DataError(f"domain {self.role}: {self.kind} {self.source} has no columns to balance over "
                        f"(--b-balance {column!r} needs a dataset folder or a Hub dataset)")


class FolderDomain(Domain):
    kind = "image folder"

    def __init__(self, folder: Path, source: str, role: str, *, max_pixels: int) -> None:
        super().__init__(source, role)
        self.max_pixels = max_pixels
        candidates = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        self.files: list[Path] = []
        for path in candidates:
            reason = _quick_check(path, max_pixels)
            if reason:
                self.rejected.append(Rejected(str(path), reason))
            else:
                self.files.append(path)
        self.ignored = sum(1 for p in folder.rglob("*") if p.is_file()) - len(candidates)

    def __len__(self) -> int:
        return len(self.files)

    def name(self, index: int) -> str:
        return str(self.files[index])

    def load(self, index: int) -> Image.Image:
        return composite_on_white(open_image(read_image_file(self.files[index]), max_pixels=self.max_pixels).image)


def _quick_check(path: Path, max_pixels: int) -> str:
    """Header, size limit and container integrity, without decoding pixels (fast for big folders)."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > max_pixels:
                return f"too-large: {width}x{height} exceeds {max_pixels} pixels"
            img.verify()
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a rejection with its reason
        return f"unreadable: {type(exc).__name__}: {exc}"[:300]
    return ""


class TableDomain(Domain):
    """Rows of a ``datasets.Dataset`` (dataset folder or Hub); images decoded here, size-limited."""

    def __init__(self, table, column: str, source: str, role: str, kind: str, *, max_pixels: int) -> None:  # noqa: ANN001
        super().__init__(source, role)
        from datasets import Image as ImageFeature

        self.kind = kind
        self.column = column
        self.max_pixels = max_pixels
        self._full = table  # every column, for balance_weights; self.table holds the image column only
        self.table = table.select_columns([column]).cast_column(column, ImageFeature(decode=False))

    def __len__(self) -> int:
        return len(self.table)

    def name(self, index: int) -> str:
        return f"{self.source}[{index}]"

    def balance_weights(self, column: str) -> np.ndarray:
        if column not in self._full.column_names or column == self.column:
            usable = [c for c in self._full.column_names if c != self.column]
            raise DataError(f"domain {self.role}: {self.source} has no column {column!r} to balance over "
                            f"(columns: {', '.join(usable)})")
        values = [str(v) for v in self._full.select_columns([column])[column]]
        _, group, counts = np.unique(np.array(values, dtype=object), return_inverse=True, return_counts=True)
        weights = 1.0 / counts[group]
        return weights / weights.sum()

    def load(self, index: int) -> Image.Image:
        cell = self.table[index][self.column]
        data = cell.get("bytes") if isinstance(cell, dict) else None
        if not data:
            path = cell.get("path") if isinstance(cell, dict) else None
            if not path:
                raise ImageDecodeError("empty", f"row {index} has no image")
            data = read_image_file(Path(path))
        return composite_on_white(open_image(data, max_pixels=self.max_pixels).image)


def read_image_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, at most ``max_bytes``: ``/dev/zero``, a FIFO or a huge file is a rejection."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ImageDecodeError("unreadable", f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise ImageDecodeError("too-large", f"{path} is {info.st_size} bytes, over the {max_bytes}-byte limit")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ImageDecodeError("unreadable", f"{path}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise ImageDecodeError("too-large", f"{path} grew past the {max_bytes}-byte limit while read")
    return data


def _pick_column(features: dict, role: str) -> str:
    from datasets import Image as ImageFeature

    image_columns = [k for k, v in features.items() if isinstance(v, ImageFeature)]
    # both roles read `native`: B keeps one pixel per art pixel, and A gets the picture itself rather than
    # the canvas, which curation scales by whole numbers (nearest neighbour) and would make blocky
    preferred = ("native", "image")
    for name in preferred:
        if name in image_columns:
            return name
    if image_columns:
        return image_columns[0]
    raise DataError(f"no image column in {sorted(features)}")


def open_domain(source: str, role: str, *, split: str = "train", max_pixels: int = DEFAULT_MAX_PIXELS) -> Domain:
    """Resolve ``source`` (folder, dataset folder, reference root or Hub id) to a non-empty Domain."""
    from pixelforge.dataset import DATA_DIR  # imports `datasets`: only when a domain is opened

    path = Path(source)
    if path.is_dir():
        if (path / f"train{role}").is_dir():  # reference layout: datasets/NAME/trainA, trainB
            path = path / f"train{role}"
        shards = sorted((path / DATA_DIR).glob("*.parquet")) if (path / DATA_DIR).is_dir() else []
        if shards:
            domain: Domain = _dataset_folder(path, shards, source, role, split, max_pixels)
        else:
            domain = FolderDomain(path, source, role, max_pixels=max_pixels)
    elif path.exists():
        raise DataError(f"domain {role}: {source} is a file; expected a folder of images, a dataset folder or a Hub id")
    elif looks_like_path(source):
        raise DataError(f"domain {role}: no such folder: {source} (not found here; a local path is never tried as a Hub id)")
    elif _HUB_ID.match(source):
        domain = _hub_dataset(source, role, split, max_pixels)
    else:
        raise DataError(f"domain {role}: {source} not found (expected a folder of images, a dataset folder or a Hub id)")
    if len(domain) == 0:
        detail = ""
        if domain.rejected:
            reasons = sorted({r.reason.split(":")[0] for r in domain.rejected})
            detail = f"; {len(domain.rejected)} files rejected ({', '.join(reasons)}), e.g. {domain.rejected[0].item}"
        raise DataError(f"domain {role}: no usable images in {domain.kind} {source}{detail}")
    return domain


def looks_like_path(source: str) -> bool:
    """True for what can only be a local path, which must never become a Hub download.

    A Hub id is ``name`` or ``owner/name``; a path starts with ``.``, ``/`` or ``~``, has more than one
    separator, a backslash, or a parent folder that exists here (``data/pixelartt`` when ``data/`` exists).
    """
    if source.startswith((".", "/", "~")) or "\\" in source or source.endswith(("/", os.sep)):
        return True
    if source.count("/") + (source.count(os.sep) if os.sep != "/" else 0) > 1:
        return True
    parent = Path(source).parent
    return str(parent) not in ("", ".") and parent.is_dir()


def _complete_shards(files: list[Path], source: str, role: str, split: str) -> None:
    """Refuse a split whose ``split-NNNNN-of-MMMMM`` shards are not all there (training on part of it silently is worse)."""
    totals = {int(m["total"]) for p in files if (m := _SHARD.match(p.name))}
    if len(totals) > 1:
        raise DataError(f"domain {role}: dataset folder {source}: {split} shards disagree on their count ({sorted(totals)})")
    if totals:
        total = totals.pop()
        have = {int(m["index"]) for p in files if (m := _SHARD.match(p.name))}
        missing = [f"{split}-{i:05d}-of-{total:05d}.parquet" for i in range(total) if i not in have]
        if missing:
            raise DataError(f"domain {role}: dataset folder {source} is incomplete: {len(missing)} of {total} {split} "
                            f"shards missing ({', '.join(missing[:4])}); copy them back or re-run `curate run`")


def _dataset_folder(path: Path, shards: list[Path], source: str, role: str, split: str, max_pixels: int) -> Domain:
    from datasets import load_dataset

    files = [p for p in shards if p.name.startswith(f"{split}-")]
    if not files:
        found = sorted({p.name.split("-")[0] for p in shards})
        raise DataError(f"domain {role}: dataset folder {source} has no {split!r} split (found {found})")
    _complete_shards(files, source, role, split)
    try:
        table = load_dataset("parquet", data_files={split: [str(p) for p in files]}, split=split)
        column = _pick_column(table.features, role)
        return TableDomain(table, column, source, role, f"dataset folder ({split}, column {column!r})", max_pixels=max_pixels)
    except DataError as exc:
        raise DataError(f"domain {role}: dataset folder {source}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - pyarrow and datasets raise many types for a broken shard
        raise DataError(f"domain {role}: dataset folder {source}: cannot read its {split} shards "
                        f"({type(exc).__name__}: {str(exc)[:300]})") from exc


def _hub_dataset(source: str, role: str, split: str, max_pixels: int) -> Domain:
    from datasets import load_dataset

    try:
        table = load_dataset(source, split=split)
    except Exception as exc:  # noqa: BLE001 - the Hub raises many types; the user needs the message
        raise DataError(
            f"domain {role}: {source!r} is not a local folder, and loading it as a Hub dataset failed: "
            f"cannot load Hub dataset {source!r} (split {split!r}): {exc}"
        ) from exc
    column = _pick_column(table.features, role)
    return TableDomain(table, column, source, role, f"Hub dataset ({split}, column {column!r})", max_pixels=max_pixels)

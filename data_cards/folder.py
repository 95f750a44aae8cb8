"""Read a curated dataset folder (the contract in ``curation/schema.py``) without decoding images.

The card, the attribution file, the sample grid and the push all start from here, so they all
describe the same files: the Parquet shards under ``data/`` and ``curation_report.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pixelforge.dataset import (
    COLUMNS,
    DATA_DIR,
    FEATURES,
    IMAGE_COLUMNS,
    LATER_COLUMNS,
    REPORT_FILE,
    SPLITS,
    known_columns,
)

_SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")


class FolderError(ValueError):
    """The folder does not follow the dataset contract (no shards, unreadable report, ...)."""


def _check_shard(shard: Path) -> tuple[str, ...]:
    """A shard must be readable Parquet with the contract's columns, in order (a folder written before
    a later column was added may stop before it); returns its column names."""
    try:
        names = pq.read_schema(shard).names
        pq.ParquetFile(shard).metadata  # noqa: B018 - reads the footer: a truncated file fails here
    except (pa.ArrowException, OSError) as exc:
        raise FolderError(f"{shard} is not a readable Parquet file: {exc}") from exc
    if not known_columns(names):
        missing = [c for c in COLUMNS if c not in names]
        extra = [c for c in names if c not in COLUMNS]
        raise FolderError(
            f"{shard} does not follow curation/schema.py: "
            + (f"missing {missing} " if missing else "")
            + (f"unexpected {extra} " if extra else "")
            + ("" if missing or extra else "columns out of order")
        )
    return tuple(names)


@dataclass(frozen=True)
class DatasetFolder:
    """A dataset folder on disk: its shards per split and its curation report (``None`` if absent)."""

    path: Path
    shards: dict[str, list[Path]]
    report: dict | None
    #: the shards' columns: the contract's, or a prefix of them in a folder written before a later
    #: column existed (metadata() and scan() fill those in with their defaults)
    columns: tuple[str, ...] = COLUMNS

    @classmethod
    def read(cls, folder: str | Path) -> DatasetFolder:
        """Find the shards and load the report; raises :class:`FolderError` when there is no data."""
        path = Path(folder)
        if not path.is_dir():
            raise FolderError(f"{path} is not a folder")
        shards: dict[str, list[Path]] = {}
        for shard in sorted((path / DATA_DIR).glob("*.parquet")):
            match = _SHARD_RE.match(shard.name)
            if not match:
                raise FolderError(f"{shard} is not named <split>-NNNNN-of-NNNNN.parquet")
            shards.setdefault(match["split"], []).append(shard)
        if not shards:
            raise FolderError(f"{path / DATA_DIR} holds no Parquet shards: is this a curated dataset folder?")
        for split, files in shards.items():
            totals = {int(_SHARD_RE.match(f.name)["total"]) for f in files}
            if totals != {len(files)}:
                raise FolderError(f"split {split!r}: expected {sorted(totals)} shards, found {len(files)}")
        found = {_check_shard(shard) for files in shards.values() for shard in files}
        if len(found) > 1:
            raise FolderError(f"{path / DATA_DIR}: shards disagree on their columns ({len(found)} different sets)")
        columns = found.pop()
        ordered = {s: shards[s] for s in SPLITS if s in shards}
        ordered.update({s: f for s, f in sorted(shards.items()) if s not in ordered})
        report = None
        report_path = path / REPORT_FILE
        if report_path.exists():
            try:
                report = json.loads(report_path.read_text())
            except json.JSONDecodeError as exc:
                raise FolderError(f"{report_path} is not valid JSON: {exc}") from exc
        return cls(path=path, shards=ordered, report=report, columns=columns)

    @property
    def splits(self) -> list[str]:
        return list(self.shards)

    def metadata(self, split: str) -> pa.Table:
        """All columns except the image bytes, for one split, in row order (later columns a folder
        lacks filled in with their defaults)."""
        tables = []
        for shard in self.shards[split]:
            names = pq.read_schema(shard).names
            tables.append(_with_later(pq.read_table(shard, columns=[n for n in names if n not in IMAGE_COLUMNS])))
        return pa.concat_tables(tables)

    def scan(self, split: str) -> tuple[pa.Table, int]:
        """One pass over a split: its metadata columns (as :meth:`metadata`) and its size once decoded into Arrow."""
        tables, nbytes = [], 0
        for shard in self.shards[split]:
            table = pq.read_table(shard)
            nbytes += table.nbytes
            tables.append(_with_later(table.drop_columns([c for c in IMAGE_COLUMNS if c in table.column_names])))
        return pa.concat_tables(tables), nbytes

    def num_rows(self, split: str) -> int:
        return sum(pq.ParquetFile(shard).metadata.num_rows for shard in self.shards[split])

    def download_size(self, split: str) -> int:
        """Bytes of the split's Parquet files, what the Hub serves."""
        return sum(shard.stat().st_size for shard in self.shards[split])

    def column(self, split: str, name: str, rows: list[int]) -> list:
        """Values of one column at the given row positions of a split (reads only that column)."""
        wanted = sorted(set(rows))
        out: dict[int, object] = {}
        start = 0
        for shard in self.shards[split]:
            n = pq.ParquetFile(shard).metadata.num_rows
            local = [r - start for r in wanted if start <= r < start + n]
            if local:
                values = pq.read_table(shard, columns=[name]).column(name).take(local).to_pylist()
                out.update({start + i: v for i, v in zip(local, values)})
            start += n
        return [out[r] for r in rows]


def _with_later(table: pa.Table) -> pa.Table:
    """``table`` with every later column it lacks (an older folder), filled with that column's default."""
    schema = FEATURES.arrow_schema
    for name, default in LATER_COLUMNS.items():
        if name not in table.column_names:
            table = table.append_column(schema.field(name), pa.array([default] * table.num_rows, schema.field(name).type))
    return table

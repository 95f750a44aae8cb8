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

from pixelforge.dataset import COLUMNS, DATA_DIR, IMAGE_COLUMNS, REPORT_FILE, SPLITS

_SHARD_RE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")


class FolderError(ValueError):
    """The folder does not follow the dataset contract (no shards, unreadable report, ...)."""


def _check_shard(shard: Path) -> None:
    """A shard must be readable Parquet with the contract's columns, in order."""
    try:
        names = pq.read_schema(shard).names
        pq.ParquetFile(shard).metadata  # noqa: B018 - reads the footer: a truncated file fails here
    except (pa.ArrowException, OSError) as exc:
        raise FolderError(f"{shard} is not a readable Parquet file: {exc}") from exc
    if tuple(names) != COLUMNS:
        missing = [c for c in COLUMNS if c not in names]
        extra = [c for c in names if c not in COLUMNS]
        raise FolderError(
            f"{shard} does not follow curation/schema.py: "
            + (f"missing {missing} " if missing else "")
            + (f"unexpected {extra} " if extra else "")
            + ("" if missing or extra else "columns out of order")
        )


@dataclass(frozen=True)
class DatasetFolder:
    """A dataset folder on disk: its shards per split and its curation report (``None`` if absent)."""

    path: Path
    shards: dict[str, list[Path]]
    report: dict | None

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
        for files in shards.values():
            for shard in files:
                _check_shard(shard)
        ordered = {s: shards[s] for s in SPLITS if s in shards}
        ordered.update({s: f for s, f in sorted(shards.items()) if s not in ordered})
        report = None
        report_path = path / REPORT_FILE
        if report_path.exists():
            try:
                report = json.loads(report_path.read_text())
            except json.JSONDecodeError as exc:
                raise FolderError(f"{report_path} is not valid JSON: {exc}") from exc
        return cls(path=path, shards=ordered, report=report)

    @property
    def splits(self) -> list[str]:
        return list(self.shards)

    def metadata(self, split: str) -> pa.Table:
        """All columns except the image bytes, for one split, in row order."""
        tables = []
        for shard in self.shards[split]:
            names = pq.read_schema(shard).names
            tables.append(pq.read_table(shard, columns=[n for n in names if n not in IMAGE_COLUMNS]))
        return pa.concat_tables(tables)

    def scan(self, split: str) -> tuple[pa.Table, int]:
        """One pass over a split: its metadata columns and its size once decoded into Arrow."""
        tables, nbytes = [], 0
        for shard in self.shards[split]:
            table = pq.read_table(shard)
            nbytes += table.nbytes
            tables.append(table.drop_columns([c for c in IMAGE_COLUMNS if c in table.column_names]))
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

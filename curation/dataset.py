"""Write rows as Hugging Face Parquet shards, following ``curation/schema.py`` exactly.

The shards carry the ``huggingface`` schema metadata (from ``FEATURES.arrow_schema``), so
``datasets.load_dataset(<folder>)`` sees Image columns, and the split comes from the Hub file
naming (``data/train-00000-of-00002.parquet``). Writing is deterministic (same rows, same bytes)
and atomic: shards go to a temporary folder that replaces ``data/`` only when complete.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pixelforge.dataset import COLUMNS, DATA_DIR, FEATURES, IMAGE_COLUMNS, SPLITS, shard_name
from pixelforge.io import replace_dir


def image_cell(png: bytes) -> dict[str, Any]:
    return {"bytes": png, "path": None}


def to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts with every column; image columns as PNG bytes) -> an Arrow table in schema order."""
    missing = [c for c in COLUMNS if rows and c not in rows[0]]
    if missing:
        raise ValueError(f"rows lack columns {missing}")
    columns = {
        c: [image_cell(r[c]) if c in IMAGE_COLUMNS else r[c] for r in rows] for c in COLUMNS
    }
    return pa.Table.from_pydict(columns, schema=FEATURES.arrow_schema)


def write_shards(
    folder: str | Path,
    splits: Mapping[str, Sequence[Mapping[str, Any]]],
    shard_rows: int = 2000,
    fill: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> list[Path]:
    """Replace ``<folder>/data/`` with shards for every non-empty split (train always exists).

    ``fill(row)`` (optional) returns the row with its image columns loaded; it is called one
    shard at a time, so only one shard's PNGs are ever in memory.
    """
    folder = Path(folder)
    tmp = folder / f".{DATA_DIR}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    written: list[Path] = []
    for split in SPLITS:
        rows = list(splits.get(split, ()))
        if not rows and split != "train":
            continue
        total = max(1, -(-len(rows) // shard_rows))
        for index in range(total):
            chunk = rows[index * shard_rows : (index + 1) * shard_rows]
            if fill is not None:
                chunk = [fill(r) for r in chunk]
            rel = shard_name(split, index, total)
            path = tmp / Path(rel).relative_to(DATA_DIR)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(to_table(chunk) if chunk else FEATURES.arrow_schema.empty_table(), path, compression="zstd")
            written.append(folder / rel)
    replace_dir(tmp, folder / DATA_DIR)
    return written

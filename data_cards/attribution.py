"""``attribution.csv``: author and source page for every image, in the same order as the shards.

Licences such as CC-BY require credit per work; a CSV beside the card is the one place a user
(or a script) can look that up for any row of any split.
"""

from __future__ import annotations

import csv
from pathlib import Path

from data_cards.folder import DatasetFolder
from pixelforge.dataset import ATTRIBUTION_FILE
from pixelforge.io import atomic_path

#: Columns of ``attribution.csv``; ``split`` + ``row`` locate the image in the dataset.
ATTRIBUTION_COLUMNS: tuple[str, ...] = (
    "split", "row", "title", "author", "license", "license_url", "source", "page_url", "url", "member",
    "sha256", "pixel_sha256",
)


def write_attribution(folder: DatasetFolder, out_dir: str | Path | None = None) -> Path:
    """Write ``attribution.csv`` (one line per image) into ``out_dir`` (default: the folder itself)."""
    path = Path(out_dir or folder.path) / ATTRIBUTION_FILE
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(ATTRIBUTION_COLUMNS)
        for split in folder.splits:
            cols = folder.metadata(split).to_pydict()
            for i in range(len(cols["sha256"])):
                writer.writerow([split, i] + [cols[name][i] for name in ATTRIBUTION_COLUMNS[2:]])
    return path

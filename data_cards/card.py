"""Data card writer (the data cards issue #6 builds the full card).

Contract: ``write_card(folder) -> Path`` writes ``<folder>/README.md`` from the dataset's own files.
"""

from __future__ import annotations

import json
from pathlib import Path

from curation.schema import CARD_FILE, REPORT_FILE


def write_card(folder: str | Path, *, domain: str | None = None) -> Path:
    """Minimal honest card until issue #6: says what it is and what it does not yet contain."""
    folder = Path(folder)
    report_path = folder / REPORT_FILE
    counts = json.loads(report_path.read_text())["counts"] if report_path.exists() else {}
    lines = [
        "---",
        "task_categories:",
        "- image-to-image",
        "tags:",
        "- pixel-art",
        "---",
        f"# {folder.name}",
        "",
        "Curated by pixelforge. The full data card (licences, attribution, samples) is not generated yet.",
        "",
        "Counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()),
        "",
    ]
    path = folder / CARD_FILE
    path.write_text("\n".join(lines))
    return path

"""Build small dataset folders that follow the curation contract, for tests of every later stage.

A folder built here looks exactly like what ``curate run`` writes (see ``curation/schema.py``):
Parquet shards under ``data/`` with the FEATURES columns in order, plus ``curation_report.json``.
Rows are procedural sprites from :mod:`pixelforge.testing.sprites`, so every number is known:
the builder returns the rows and the report it wrote, and tests compare against those.

Usage::

    built = build_dataset_folder(tmp_path / "ds", n_train=6, n_test=2,
                                 licenses=["CC0 1.0", "CC-BY 4.0", "unknown"])
    built.rows["train"][0]["license"]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
from datasets import Dataset

from pixelforge.dataset import DATA_DIR, FEATURES, REPORT_FILE, SPLITS, colors_bucket, shard_name
from pixelforge.imaging import count_colors, pixel_sha256, place_on_canvas, png_bytes
from pixelforge.testing.sprites import make_sprite

SOURCES = ("opengameart", "itch")
AUTHORS = ("Ada Pixel", "Bob Sprite", "Cleo Tiles")


@dataclass
class BuiltFolder:
    """What the builder wrote: the folder, the rows per split (image bytes included) and the report."""

    path: Path
    rows: dict[str, list[dict]]
    report: dict
    shards: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def all_rows(self) -> list[dict]:
        return [row for split in SPLITS for row in self.rows.get(split, [])]




def make_row(index: int, *, license: str | Sequence[str], source: str, author: str, canvas: int = 64,
             native_size: int = 16) -> dict:
    """One contract row built from sprite ``index`` (all measurements computed from the pixels).

    ``license`` is one licence name, or a tuple of them for a multi-licensed work (the first is ``license``).
    """
    names = [license] if isinstance(license, str) else list(license)
    license = names[0]
    sprite = make_sprite(seed=1000 + index, size=(native_size, native_size), n_colors=3 + index % 5)
    native = sprite.on_white()
    image, scale = place_on_canvas(native, canvas)
    pixel_scale = float(1 + index % 3)
    return {
        "image": {"bytes": png_bytes(image), "path": None},
        "native": {"bytes": png_bytes(native), "path": None},
        "sha256": f"{index:064x}",
        "pixel_sha256": pixel_sha256(native),
        "source": source,
        "url": f"https://{source}.example/files/sprite-{index}.png",
        "page_url": f"https://{source}.example/content/sprite-{index}",
        "title": f"Sprite {index}",
        "author": author,
        "license": license,
        "license_url": "" if license == "unknown" else f"https://licenses.example/{license.replace(' ', '-')}",
        "member": "",
        "native_width": native.width,
        "native_height": native.height,
        "pixel_scale": pixel_scale,
        "grid_confidence": 0.9,
        "scale": scale,
        "n_colors": count_colors(native),
        "phash": str(imagehash.phash(native)),
        "dhash": str(imagehash.dhash(native)),
        "cluster_size": 1 + index % 2,
        "tags": ["sprite", source],
        "licenses": names,
        "background": "alpha",
    }


def build_dataset_folder(
    folder: str | Path,
    *,
    n_train: int = 6,
    n_test: int = 2,
    licenses: Sequence[str | Sequence[str]] = ("CC0 1.0",),
    sources: Sequence[str] = SOURCES,
    authors: Sequence[str] = AUTHORS,
    domain: str = "B",
    shards: dict[str, int] | None = None,
    canvas: int = 64,
    report_overrides: dict | None = None,
) -> BuiltFolder:
    """Write a contract-following dataset folder; licences, sources and authors are cycled over rows."""
    folder = Path(folder)
    (folder / DATA_DIR).mkdir(parents=True, exist_ok=True)
    shards = shards or {"train": 2 if n_train > 3 else 1, "test": 1}
    sizes = {"train": n_train, "test": n_test}
    rows: dict[str, list[dict]] = {}
    written: dict[str, list[Path]] = {}
    index = 0
    for split in SPLITS:
        rows[split] = []
        for _ in range(sizes[split]):
            rows[split].append(
                make_row(
                    index,
                    license=licenses[index % len(licenses)],
                    source=sources[index % len(sources)],
                    author=authors[index % len(authors)],
                    canvas=canvas,
                )
            )
            index += 1
        written[split] = []
        total = shards[split] if rows[split] else 0
        for i in range(total):
            part = _chunk(rows[split], i, total)
            columns = {name: [row[name] for row in part] for name in FEATURES}
            path = folder / shard_name(split, i, total)
            Dataset.from_dict(columns, features=FEATURES).to_parquet(str(path))
            written[split].append(path)
    report = make_report(rows, domain=domain, canvas=canvas)
    if report_overrides:
        report.update(report_overrides)
    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return BuiltFolder(path=folder, rows=rows, report=report, shards=written)


def _chunk(items: list[dict], i: int, total: int) -> list[dict]:
    """Contiguous chunk ``i`` of ``total`` (keeps row order across shards, like a real writer)."""
    size = -(-len(items) // total)
    return items[i * size : (i + 1) * size]


def make_report(rows: dict[str, list[dict]], *, domain: str = "B", canvas: int = 64) -> dict:
    """A ``curation_report.json`` consistent with ``rows`` plus a few rejections and clusters."""
    kept = [row for split in SPLITS for row in rows.get(split, [])]
    rejected = [
        {"input": "https://opengameart.example/files/huge.png", "sha256": "ab" * 32, "member": "",
         "stage": "decode", "reason": "too-large", "detail": "9000x9000 exceeds 64000000 pixels"},
        {"input": "https://opengameart.example/files/photo.jpg", "sha256": "cd" * 32, "member": "",
         "stage": "pixelart", "reason": "not-pixel-art", "detail": "score 0.12 < 0.5"},
        {"input": "https://itch.example/files/pack.zip", "sha256": "ef" * 32, "member": "tiles/bad.png",
         "stage": "decode", "reason": "truncated", "detail": "image file is truncated"},
    ]
    near = sum(row["cluster_size"] - 1 for row in kept)
    clusters = [
        {"kept": row["pixel_sha256"], "size": row["cluster_size"],
         "members": [row["pixel_sha256"]] + [f"{j:064x}" for j in range(row["cluster_size"] - 1)]}
        for row in kept
        if row["cluster_size"] > 1
    ]
    exact = 1
    decoded = len(kept) + near + exact + 1  # + 1 rejected after decoding (not-pixel-art)
    inputs = decoded + 1  # + the too-large one
    sources: dict[str, dict] = {}
    for n, row in enumerate(kept):
        entry = sources.setdefault(row["source"], {"files": 0, "first_fetched": None, "last_fetched": None})
        entry["files"] += 1
        stamp = f"2026-11-{1 + n:02d}T10:00:00+00:00"
        entry["first_fetched"] = entry["first_fetched"] or stamp
        entry["last_fetched"] = stamp
    scale_hist = Counter(str(int(row["pixel_scale"])) for row in kept)
    color_hist = Counter(colors_bucket(row["n_colors"]) for row in kept)
    return {
        "pixelforge_version": "0.1.0",
        "input": "data/raw",
        "input_kind": "raw-store",
        "domain": domain,
        "config": {"canvas": canvas, "min_pixel_art_score": 0.5, "dedup": {"phash_distance": 6}, "seed": 0},
        "counts": {
            "inputs": inputs,
            "expanded": inputs + 1,
            "decoded": decoded,
            "rejected": len(rejected),
            "duplicates_exact": exact,
            "duplicates_near": near,
            "kept": len(kept),
            "train": len(rows.get("train", [])),
            "test": len(rows.get("test", [])),
        },
        "stages": {
            "decode": {"in": inputs + 1, "out": decoded, "rejected": 2},
            "pixelart": {"in": decoded, "out": decoded - 1, "rejected": 1},
            "dedup": {"in": decoded - 1, "out": len(kept), "rejected": 0},
        },
        "rejected": rejected,
        "clusters": clusters,
        "sources": sources,
        "native": {
            "scale_histogram": dict(sorted(scale_hist.items(), key=lambda kv: int(kv[0]))),
            "n_colors_histogram": {b: color_hist.get(b, 0) for b in ("<=4", "5-16", "17-64", ">64")},
        },
    }

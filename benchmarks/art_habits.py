"""How often hand-made pixel art blends its edges and leaves lone cells: the yardstick for the quality
benchmark's two pixel-art-habit columns.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/art_habits.py [data/pixel-art] [--split test] [--limit N]``
(the folder ``make model`` curates from the corpus; skipped with a note when it is not there).

Reads a dataset folder that ``curate run`` wrote (loaded with ``datasets.load_dataset``), takes each row's
``native`` image (one pixel per art pixel, the scale of a ``pixelate`` output's cell grid), composites it
on white and measures :func:`pixelforge.testing.art_metrics.blended_edges` and
:func:`~pixelforge.testing.art_metrics.lone_cells` on it. Prints per-image means per source, as
``benchmarks/quality.py`` averages its images.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pixelforge.imaging import composite_on_white
from pixelforge.testing.art_metrics import blended_edges, lone_cells


def habits(rows: Iterable[dict], limit: int = 0) -> dict[str, tuple[int, float, float]]:
    """``{source: (images, mean blended share of edge cells, mean lone share of cells)}``, plus ``"all"``."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for i, row in enumerate(rows):
        if limit and i >= limit:
            break
        grid = np.asarray(composite_on_white(row["native"]))
        blended, edges = blended_edges(grid)
        lone, cells = lone_cells(grid)
        if edges:  # an image with no colour edge says nothing about how edges are drawn
            found[row["source"]].append((blended / edges, lone / cells))
    found["all"] = [v for vs in list(found.values()) for v in vs]
    return {s: (len(v), float(np.mean([b for b, _ in v])), float(np.mean([c for _, c in v]))) for s, v in found.items() if v}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dataset", nargs="?", default="data/pixel-art", help="a dataset folder written by curate run "
                   "(domain B; default: data/pixel-art)")
    p.add_argument("--split", default="test", help="which split to measure (default: test, the held-out rows)")
    p.add_argument("--limit", type=int, default=0, help="measure at most this many rows (0 = all)")
    args = p.parse_args(argv)
    if not Path(args.dataset).is_dir():
        print(f"skipped: no dataset folder at {args.dataset} (curate one: python -m curation run --input "
              "../shared/corpus/pixel-art --output data/pixel-art)")
        return 0
    import datasets

    rows = datasets.load_dataset(args.dataset, split=args.split)
    print(f"{args.dataset} ({args.split}): native images composited on white")
    print("| source | images | blended edge cells | lone cells |\n|---|---:|---:|---:|")
    for source, (n, blended, lone) in habits(rows, args.limit).items():
        print(f"| {source} | {n} | {blended:.0%} | {lone:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

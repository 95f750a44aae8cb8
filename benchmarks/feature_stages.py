"""Where the model path loses the held-out cartoons' small features: step by step, from input to output.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/feature_stages.py [RUN ...]`` (run or checkpoint folders, at two
generator pixels per cell, as the shipped model runs; none: the shipped model).

The quality benchmark finds the model keeping less of the cartoons' small features' contrast (eyes, brows,
mouths narrower than a cell) than the classical method. This measures the same quantity, and the blended edge
cells, on the cell grid after each step of ``pixelate``'s model path, so the loss can be pinned on one:

1. ``input cells``: the generator's input (the picture halved keeping thin lines) averaged per cell, no model;
2. ``generator``: its output, averaged per cell;
3. ``anchored``: after the picture's broad colours are put back (``--anchor-colors``);
4. ``settled``: after the mottle in the picture's flat areas is averaged out (``--settle-flats``): ``pixelate``'s cells;
5. ``anchored, lines kept``: the same reduced to cells as the classical method reduces a picture (cells on thin
   lines the generator drew take their colour), an inference change measured here and not adopted;
6. ``output``: ``pixelate``'s result (palette and snapping included); and the classical method's.

Both are means per image, as the quality benchmark's cartoon rows (its ``output`` and ``classical`` rows).
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image
from quality_cases import CELL, cartoon_cases, grid_of  # benchmarks/ is on sys.path as a script

from inference.classic import reduce_keeping_lines
from inference.grid import cell_means
from inference.model_colors import anchor_colors, settle_flats
from inference.pixelator import Pixelator
from pixelforge.imaging import rgb_on_white
from pixelforge.testing.art_metrics import blended_edges, features_kept

PPC = 2  # generator pixels per cell side, as the shipped model runs


def step_grids(px: Pixelator, classic: Pixelator, img: Image.Image) -> dict[str, np.ndarray]:
    """The cell grid after each step of the model path for one picture (and the classical method's)."""
    work = px.generator_input(rgb_on_white(img))  # pixelate's own (px runs at cell CELL, PPC pixels per cell)
    drawn = px.translate(work)
    anchored = anchor_colors(drawn, work, px.options.anchor_colors * PPC, px.options.anchor_within, PPC)
    own, anchored_cells = cell_means(work, PPC)[0], cell_means(anchored, PPC)[0]
    return {
        "input cells": own,
        "generator": cell_means(drawn, PPC)[0],
        "anchored": anchored_cells,
        "settled": settle_flats(anchored_cells, own, px.options.settle_flats),
        "anchored, lines kept": reduce_keeping_lines(Image.fromarray(np.clip(anchored, 0, 255).round().astype(np.uint8)), PPC),
        "output": grid_of(px.pixelate(img)),
        "classical": grid_of(classic.pixelate(img)),
    }


def measure(px: Pixelator) -> dict[str, tuple[float, float]]:
    """Per step: (small features' contrast kept, blended edge cells), each a mean per image."""
    classic = Pixelator.classic(cell_size=CELL)
    kept: dict[str, list[float]] = {}
    blended: dict[str, list[float]] = {}
    for case in cartoon_cases():
        for name, grid in step_grids(px, classic, case.image).items():
            grid = np.clip(np.asarray(grid, np.float64), 0, 255).round().astype(np.uint8)
            features = features_kept(case.features, grid)
            kept.setdefault(name, []).append(float(np.mean(features)) if features else np.nan)
            b, edges = blended_edges(grid)
            blended.setdefault(name, []).append(b / edges if edges else np.nan)
    return {name: (float(np.nanmean(kept[name])), float(np.nanmean(blended[name]))) for name in kept}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run or checkpoint folders (default: the shipped model)")
    args = parser.parse_args(argv)
    models = {run: Pixelator.from_checkpoint(run, cell_size=CELL, pixels_per_cell=PPC) for run in args.runs}
    models = models or {"shipped model": Pixelator.shipped(cell_size=CELL, pixels_per_cell=PPC)}
    for label, px in models.items():
        print(f"\n{label} (10 held-out cartoons, cell {CELL}, {PPC} generator pixels per cell)")
        print("| step | small features' contrast | blended edge cells |\n|---|---:|---:|")
        for name, (kept, blend) in measure(px).items():
            print(f"| {name} | {kept:.0%} | {blend:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where a method's colour error on the held-out cartoons sits: in cells next to a colour edge, or elsewhere.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/edge_error.py [RUN ...]`` (run or checkpoint folders, at two
generator pixels per cell, as the shipped model runs).

The quality benchmark's ΔE2000 is taken against the plain cell average, which blends two colours where a
cell straddles an edge. A method that keeps edges crisp (as pixel art does) or draws outlines pays there.
An edge cell is one within one cell of a step of more than ``STEP`` summed sRGB levels in the plain average.
"""

from __future__ import annotations

import argparse

import numpy as np
from quality import CELL, _de, cartoon_cases, crisp_cells, grid_of  # benchmarks/ is on sys.path as a script
from scipy import ndimage

from inference.pixelator import Pixelator

STEP = 30


def edge_cells(ref: np.ndarray) -> np.ndarray:
    """Cells within one cell of a colour step of more than :data:`STEP` (``ref``: the plain average grid)."""
    step = np.zeros(ref.shape[:2])
    for axis in (0, 1):
        diff = np.abs(np.diff(ref, axis=axis, prepend=ref.take([0], axis=axis))).sum(-1)
        step = np.maximum(step, diff)
    return ndimage.maximum_filter(step > STEP, 3)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="*", help="run or checkpoint folders to measure beside the classical rows")
    args = p.parse_args(argv)
    methods = {
        "classical (plain average)": Pixelator.classic(outlines=False, key_colors=False).pixelate,
        "classical (default)": Pixelator.classic().pixelate,
        "crisp cells (reference)": crisp_cells,
    }
    for run in args.runs:
        methods[run] = Pixelator.from_checkpoint(run, pixels_per_cell=2).pixelate
    cases = cartoon_cases()
    edges = {case.name: edge_cells(case.grid.astype(np.float64)) for case in cases}  # the picture's, not the method's
    print(f"{len(cases)} held-out cartoons, cell {CELL}; ΔE2000 against the plain cell average")
    print("| method | ΔE2000 | per edge cell | per other cell | share of the error at edges |\n|---|---:|---:|---:|---:|")
    for name, run in methods.items():
        means, at_edge, elsewhere, n_edge, n_other = [], 0.0, 0.0, 0, 0
        for case in cases:
            de = _de(case.grid, grid_of(run(case.image)))
            edge = edges[case.name]
            means.append(de.mean())
            at_edge, elsewhere = at_edge + de[edge].sum(), elsewhere + de[~edge].sum()
            n_edge, n_other = n_edge + int(edge.sum()), n_other + int((~edge).sum())
        print(f"| {name} | {np.mean(means):.2f} | {at_edge / n_edge:.2f} | {elsewhere / max(1, n_other):.2f} "
              f"| {at_edge / (at_edge + elsewhere):.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

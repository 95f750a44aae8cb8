"""Where a method's colour error on the held-out cartoons sits: in cells next to a colour edge, or elsewhere.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/edge_error.py [RUN ...]`` (run or checkpoint folders, at two
generator pixels per cell, as the shipped model runs).

The quality benchmark's ΔE2000 is taken against the plain cell average, which blends two colours where a
cell straddles an edge. A method that keeps edges crisp (as pixel art does) or draws outlines pays there.
An edge cell is one within one cell of a step of more than ``STEP`` summed sRGB levels in the plain average.

Two columns split the error the other way: in the classical method's outline cells (the cells on thin
lines that take the line's colour) and in every other cell. The last measures against an edge-aware
reference instead of the plain average: each cell's medoid (one of its own pixels' colours, never a blend). With ``--hold-lines`` each run is
also measured with ``pixelate --hold-lines`` (those outline cells put over the model's drawing).
"""

from __future__ import annotations

import argparse

import numpy as np
from quality import crisp_cells, medoid_grid  # benchmarks/ is on sys.path as a script
from quality_cases import CELL, _de, cartoon_cases, grid_of
from scipy import ndimage

from inference.classic import line_cells
from inference.pixelator import Pixelator
from pixelforge.imaging import rgb_on_white

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
    p.add_argument("--hold-lines", action="store_true", help="also measure each run with pixelate --hold-lines")
    args = p.parse_args(argv)
    methods = {
        "classical (plain average)": Pixelator.classic(outlines=False, key_colors=False).pixelate,
        "classical (default)": Pixelator.classic().pixelate,
        "crisp cells (reference)": crisp_cells,
    }
    for run in args.runs:
        model = Pixelator.from_checkpoint(run, pixels_per_cell=2)
        methods[run] = model.pixelate
        if args.hold_lines:
            methods[f"{run}, lines held"] = model.with_options(hold_lines=True).pixelate
    cases = cartoon_cases()
    edges = {case.name: edge_cells(case.grid.astype(np.float64)) for case in cases}  # the picture's, not the method's
    outlines = {case.name: line_cells(rgb_on_white(case.image), CELL)[0] for case in cases}
    medoids = {case.name: medoid_grid(case.image) for case in cases}
    print(f"{len(cases)} held-out cartoons, cell {CELL}; ΔE2000 against the plain cell average; "
          f"{sum(int(o.sum()) for o in outlines.values())} outline cells of {sum(o.size for o in outlines.values())}")
    print("| method | ΔE2000 | per edge cell | per other cell | share of the error at edges | per outline cell "
          "| per non-outline cell | ΔE2000 against the medoids |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, run in methods.items():
        means, crisp, sums, counts = [], [], np.zeros(4), np.zeros(4)
        for case in cases:
            grid = grid_of(run(case.image))
            de = _de(case.grid, grid)
            means.append(de.mean())
            crisp.append(_de(medoids[case.name], grid).mean())
            for i, mask in enumerate((edges[case.name], ~edges[case.name], outlines[case.name], ~outlines[case.name])):
                sums[i] += de[mask].sum()
                counts[i] += mask.sum()
        per = sums / np.maximum(counts, 1)
        print(f"| {name} | {np.mean(means):.2f} | {per[0]:.2f} | {per[1]:.2f} | {sums[0] / (sums[0] + sums[1]):.0%} "
              f"| {per[2]:.2f} | {per[3]:.2f} | {np.mean(crisp):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

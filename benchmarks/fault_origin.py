"""Where the model's faults against the classical method come from: its input, or the generator.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/fault_origin.py [--checkpoint RUN] [--cartoons 12]``

Blind judges mark the model down for a few cells (a dark cell between the panda's eyes, odd corner cells on
a tree). A model cell is a *fault* here when it is more than ``--by`` ΔE2000 further from the plain cell
average than the classical method's cell. Each fault is put down to:

* **input**: the generator was shown that cell already that far off. The model's input has the picture's dark
  feature cells drawn in (``model_input`` ``dark-cells``, :func:`inference.classic.with_feature_cells`), and the
  generator keeps what it is shown;
* **generator**: its input was within ``--by`` of the plain average; the generator drew the difference.

The cells where the model is better by as much are counted too. As ``pixelate --shipped`` runs it: two generator
pixels per cell, ``--anchor-within 10``, ``--views auto``.
"""

from __future__ import annotations

import argparse

import numpy as np
from quality_cases import _de, cartoon_cases, grid_of  # benchmarks/ is on sys.path as a script

from inference.grid import cell_means
from inference.pixelator import Pixelator
from pixelforge.imaging import rgb_on_white
from pixelforge.model.recorded import MODEL_INPUTS


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", help="a run or checkpoint folder (default: the shipped model)")
    p.add_argument("--cartoons", type=int, default=12, help="held-out cartoons per source (12: all 23)")
    p.add_argument("--by", type=float, default=10.0, help="ΔE2000 by which a cell must be worse to count")
    p.add_argument("--model-input", choices=MODEL_INPUTS, help="the generator's input (default: the model's own)")
    p.add_argument("--keep-features", action=argparse.BooleanOptionalAction, help="pixelate --keep-features (default: "
                   "what the model records)")
    args = p.parse_args(argv)
    load = {"pixels_per_cell": 2, "model_input": args.model_input}
    model = (Pixelator.from_checkpoint(args.checkpoint, **load) if args.checkpoint else Pixelator.shipped(**load))
    model = model.with_options(anchor_within=10)
    if args.keep_features is not None:
        model = model.with_options(keep_features=args.keep_features)
    classic = Pixelator.classic()
    ppc = model.effective_pixels_per_cell()
    totals = {"input": 0, "generator": 0, "better": 0}
    print(f"cells where the model is more than {args.by:g} ΔE2000 further from the plain average than the classical "
          f"method (row, col: model / classical / the generator's input)")
    for case in cartoon_cases(args.cartoons):
        plain = case.grid
        shown = cell_means(model.generator_input(rgb_on_white(case.image)), ppc)[0]
        dm = _de(plain, grid_of(model.pixelate(case.image)))
        dk = _de(plain, grid_of(classic.pixelate(case.image)))
        din = _de(plain, shown)
        faults = np.argwhere(dm - dk > args.by)
        totals["better"] += int((dk - dm > args.by).sum())
        said = []
        for r, c in faults:
            origin = "input" if din[r, c] > args.by else "generator"
            totals[origin] += 1
            said.append(f"({r},{c}) {dm[r, c]:.0f}/{dk[r, c]:.0f}/{din[r, c]:.0f} {origin}")
        if said:
            print(f"{case.name[:40]:40s} " + "; ".join(said))
    print(f"faults: {totals['input'] + totals['generator']} ({totals['input']} from the input, {totals['generator']} "
          f"drawn by the generator); cells better by as much: {totals['better']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How far G_A gets toward its colour-keeping target's feature cells, on training crops of domain A.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/feature_target.py [RUN ...] [--data data/cartoons] [--crops 300]``
(run or checkpoint folders; none: only the reference rows).

The quality benchmark finds the model keeping less of the cartoons' small features than the classical method,
and ``benchmarks/feature_stages.py`` finds the loss before the generator runs. Training asks for them: with
``content_lines`` and ``content_target = "picture"`` the colour-keeping target gives each cell on a feature
narrower than a cell (an eye, a brow) the feature's colour, found in the picture before it is halved. This
measures, on crops made exactly as training makes them (``training.data.Preprocess``, the shipped recipe's
settings, a fixed seed per picture), where each G_A's output cells sit between the input's own cells (0) and
that target (1), averaged over the cells the target moves by more than 0.1 on the -1..1 scale (feature
cells, and a few cells that halving darkened with a line the cell-scale rule leaves out), and its L1 error
on all the other cells. Reference rows, no model:

* ``halved input``: the input itself (0 by definition);
* ``outline rule on the halved input``: the classical method's rule run on what the generator is shown, the
  most a rule can find there;
* ``feature cells drawn in``: the ``a_resize = "cells"`` input, the picture's feature cells drawn in as blocks;
  ``dark feature cells drawn in``: ``"dark-cells"``, the dark ones only.

A model trained on one of those inputs (its file records ``input = cells`` or ``dark-cells``) is measured on it.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from pixelforge.model.loading import load_generator
from pixelforge.model.recorded import recorded_input
from training.data import Preprocess, to_tensor
from training.domains import open_domain
from training.outlines import CONTRAST, outline_target

MODES = ("lines", "cells", "dark-cells")


def crops(data: str, n: int) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """``n`` training crops of ``data`` as the shipped recipe makes them: the input for each ``a_resize`` of
    :data:`MODES` (the same crop, seeded per picture) and their one target."""
    dom = open_domain(data, "A", split="train")
    pick = np.random.default_rng(0).permutation(len(dom))[:n]
    images = [dom.load(int(i)) for i in pick]
    inputs, targets = {}, []
    for mode in MODES:
        pre = Preprocess(48, 48, True, mode, 1, 16, 0, 2, CONTRAST, "mean")
        pairs = [pre.a_pair(img, np.random.default_rng(int(i))) for img, i in zip(images, pick)]
        inputs[mode] = torch.stack([to_tensor(x) for x, _ in pairs])
        targets.append(torch.stack([t for _, t in pairs]).float())
    assert all(torch.equal(targets[0], t) for t in targets)  # one target, several inputs
    return inputs, targets[0]


def toward(cells: torch.Tensor, inputs: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """(mean share of the way from the input's cells to the target on feature cells, L1 on the other cells)."""
    base = F.avg_pool2d(inputs, 2)
    step = target - base
    feature = step.abs().amax(1) > 0.1
    share = ((cells - base) * step).sum(1)[feature] / (step * step).sum(1)[feature]
    return float(share.mean()), float((cells - target).abs().mean(1)[~feature].mean())


@torch.inference_mode()
def model_cells(path: str, inputs: torch.Tensor) -> torch.Tensor:
    net, _ = load_generator(path)
    return F.avg_pool2d(torch.cat([net(inputs[k : k + 50]) for k in range(0, len(inputs), 50)]).float(), 2)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", help="run or checkpoint folders")
    p.add_argument("--data", default="data/cartoons", help="domain A dataset folder (its train split)")
    p.add_argument("--crops", type=int, default=300)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    inputs, target = crops(args.data, args.crops)
    lines = inputs["lines"]
    rows = {
        "halved input": toward(F.avg_pool2d(lines, 2), lines, target),
        "outline rule on the halved input": toward(outline_target(lines, 2), lines, target),
        "feature cells drawn in": toward(F.avg_pool2d(inputs["cells"], 2), lines, target),
        "dark feature cells drawn in": toward(F.avg_pool2d(inputs["dark-cells"], 2), lines, target),
    }
    for run in args.runs:
        rows[run] = toward(model_cells(run, inputs[recorded_input(run) or "lines"]), lines, target)
    feature = ((target - F.avg_pool2d(lines, 2)).abs().amax(1) > 0.1).float().mean()
    print(f"{args.crops} crops of {args.data}; the target moves {float(feature):.1%} of the cells\n")
    print("| G_A's cells | toward the target where it moves | L1 on the other cells |\n|---|---:|---:|")
    for name, (share, other) in rows.items():
        print(f"| {name} | {share:.2f} | {other:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

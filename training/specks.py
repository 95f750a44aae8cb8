"""The speck loss: no cell of G_A's drawing stands alone where its target has a neighbour like it.

Three blind panels and the benchmark agree on one habit above the others: lone cells, a cell unlike all eight
around it (``pixelforge.testing.art_metrics.lone_cells``), which a judge sees as a speck or a stray pixel. It is the
only number that called most of the judges' decided pairs (30 of 42), and the model has more of them than the
classical method (5.4% of cells against 4.5% on the held-out cartoons). A pixel artist places a lone cell on
purpose (a glint, a pupil); the colour-keeping target has those too, so the loss asks only that a drawn cell be no
more alone than the target's cell there: its nearest neighbour in OKLab no farther than the target's nearest.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelforge.color import oklab_matrices
from training.outlines import srgb_to_linear

_M1, _M2 = oklab_matrices()
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def oklab(x: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` OKLab (L in 0..1) of ``(N, 3, H, W)`` sRGB on the -1..1 scale, differentiable."""
    linear = srgb_to_linear(((x.float() + 1) / 2).clamp(0, 1))
    m1 = torch.as_tensor(_M1, dtype=torch.float32, device=x.device)
    m2 = torch.as_tensor(_M2, dtype=torch.float32, device=x.device)
    lms = torch.einsum("ij,njhw->nihw", m1, linear).clamp(min=1e-6) ** (1 / 3)
    return torch.einsum("ij,njhw->nihw", m2, lms)


def nearest_neighbour(lab: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)``: each cell's OKLab distance to the most alike of its 8 neighbours. Past the border a cell
    has its own colour (edge padding), so a border cell is never alone: the benchmark counts no border either."""
    padded = F.pad(lab, (1, 1, 1, 1), mode="replicate")
    h, w = lab.shape[2:]
    steps = [padded[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] - lab for dy, dx in _OFFSETS]
    distances = torch.stack([((s * s).sum(1) + 1e-8).sqrt() for s in steps], 1)
    return distances.amin(1, keepdim=True)


def speck_loss(output: torch.Tensor, target: torch.Tensor, pool: int) -> torch.Tensor:
    """Mean over cells of how much farther a drawn cell's nearest neighbour is than the target cell's, in OKLab.

    ``target``: one colour per ``pool`` x ``pool`` block of ``output`` (the colour-keeping target). A cell of a line
    has its line's cells beside it, so lines cost nothing; a speck in a fill, or a blend cell between two fills
    (like neither), costs its distance. The gradient of the nearest neighbour pulls a speck towards the
    neighbour it is most like, not towards the average around it.
    """
    got = nearest_neighbour(oklab(F.avg_pool2d(output.float(), pool)))
    allowed = nearest_neighbour(oklab(target.float()))
    return (got - allowed).clamp(min=0).mean()

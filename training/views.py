"""The eight views of a training crop (pixelate --views, in torch) and the two losses built on them.

``pixelate --views N`` averages the generator's drawings of a picture mirrored, flipped and transposed
(:mod:`inference.views`, numpy). Training teaches one pass the same thing in two ways: the symmetry loss
asks G_A to draw a view as the view of its drawing; the distillation loss asks it to draw what a frozen
teacher draws averaged over all eight views.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def oriented(x: torch.Tensor, k: int) -> torch.Tensor:
    """View ``k`` (0..7) of an NCHW batch, as :func:`inference.views.oriented` turns an HWC picture: bit 4
    transposes, bit 1 mirrors left-right, bit 2 flips upside down, in that order."""
    if k & 4:
        x = x.transpose(2, 3)
    if k & 1:
        x = x.flip(3)
    return x.flip(2) if k & 2 else x


def restored(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`oriented`."""
    if k & 2:
        x = x.flip(2)
    if k & 1:
        x = x.flip(3)
    return x.transpose(2, 3) if k & 4 else x


def symmetry_loss(generator: nn.Module, source: torch.Tensor, output: torch.Tensor, k: int) -> torch.Tensor:
    """L1 between ``output`` (the generator's drawing of ``source``) and its drawing of view ``k`` of ``source``,
    turned back. 0 for a generator that commutes with the view; a CycleGAN generator does not, and where it
    does not, a stray cell or a lopsided eye drawn one way only is what ``pixelate --views`` averages out."""
    return F.l1_loss(restored(generator(oriented(source, k)), k).float(), output.float())


@torch.no_grad()
def views_mean(generator: nn.Module, source: torch.Tensor) -> torch.Tensor:
    """The mean of ``generator``'s drawings of every view of ``source``, each turned back: what ``pixelate
    --views 8`` draws (4 views for a crop that is not square, which cannot be transposed in place).

    All views go through the generator in one batch, as pixelate sends them.
    """
    n = 8 if source.shape[2] == source.shape[3] else 4
    drawn = generator(torch.cat([oriented(source, k) for k in range(n)])).chunk(n)
    return torch.stack([restored(d, k).float() for k, d in enumerate(drawn)]).mean(0)

"""The colour-keeping loss's target with outlines: block averages, except blocks on a thin feature.

A plain block average is the picture a cell grid shows without an artist: an eye narrower than a
block averages into the skin around it, and a generator taught to keep block averages learns to draw
that pale blot (the benchmark's small features' contrast: 57% on cartoons, where the classical path
keeps 91%). The classical path keeps such features by giving the blocks on them the feature's own
colour; this computes the same target in torch, on the generator's input, so ``content_lines``
teaches G_A to draw them that way:

1. lightness (cube root of linear light, OKLab's L for greys) in whole levels of 255 from Pillow's integer luma,
   exactly as :func:`inference.classic.lightness` reads an 8-bit picture;
2. black and white top-hats with a window one pixel wider than the block mark the pixels of
   dark and bright features narrower than a block that stand out by at least ``contrast``;
3. a block with at least half a block-side of such pixels is a candidate; across a line only the
   block holding more of it stays (non-maximum suppression), and where most blocks around are
   candidates it is texture, not a feature, and averages stay;
4. a chosen block's target is the mean colour of its feature pixels.

The same module holds the line loss (:func:`line_loss`), which asks the drawing for the target's lines by their
contrast, not their colour.

It mirrors ``inference.classic.line_cells`` (stages share no code but the kernel's; the test
``tests/test_training_outlines.py`` checks both agree on the same picture).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelforge.color import lightness_levels
from pixelforge.model.recorded import FEATURE_INPUTS

#: Smallest top-hat contrast, in lightness levels of 255: the classical path's LINE_CONTRAST, and the
#: default of ``content_lines_contrast``.
CONTRAST = 40.0
#: Above this share of candidate blocks in the 5x5 blocks around, the detail is texture.
TEXTURE_SHARE = 0.6


_LIGHTNESS = torch.from_numpy(lightness_levels()).float()  # 8-bit luma -> lightness levels, the classical path's table


def lightness(x: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` perceptual lightness in levels 0..255 of ``(N, 3, H, W)`` images on the -1..1 scale.

    The colours are read as 8-bit, luma is Pillow's integer ``convert("L")`` and lightness a rounded table, as the
    classical path reads a picture: a continuous formula differs by a level here and there, and at the contrast
    threshold that moved a pixel in or out of a feature, so training saw other feature cells than ``pixelate``.
    """
    v = ((x.float() + 1) * 127.5).round().clamp(0, 255).long()
    luma = (v[:, 0:1] * 19595 + v[:, 1:2] * 38470 + v[:, 2:3] * 7471 + 0x8000) >> 16
    return _LIGHTNESS.to(x.device)[luma]


def _max(x: torch.Tensor, size: int) -> torch.Tensor:
    """``size``x``size`` max filter, edge-padded (the window's extra pixel goes right/below, as the classical path's)."""
    before, after = (size - 1) // 2, size // 2
    return F.max_pool2d(F.pad(x, (before, after, before, after), mode="replicate"), size, stride=1)


def _min(x: torch.Tensor, size: int) -> torch.Tensor:
    return -_max(-x, size)


def _pad_symmetric(x: torch.Tensor, n: int) -> torch.Tensor:
    """Pad the last two dims by ``n`` mirrored with the edge repeated (scipy's "reflect", which the classical path uses)."""
    if min(x.shape[-2:]) < n:
        return F.pad(x, (n, n, n, n), mode="replicate")
    x = torch.cat([x[..., :n, :].flip(-2), x, x[..., -n:, :].flip(-2)], dim=-2)
    return torch.cat([x[..., :n].flip(-1), x, x[..., -n:].flip(-1)], dim=-1)


def _suppress(count: torch.Tensor) -> torch.Tensor:
    """Keep a block only where its count is the maximum across the line (ties go up/left)."""
    p = F.pad(count, (1, 1, 1, 1))
    up, down, left, right = p[..., :-2, 1:-1], p[..., 2:, 1:-1], p[..., 1:-1, :-2], p[..., 1:-1, 2:]
    runs_across = (left + right) >= (up + down)
    keep_v = (count >= down) & (count > up)
    keep_h = (count >= right) & (count > left)
    return torch.where(runs_across, keep_v, keep_h)


@torch.no_grad()
def block_medoids(source: torch.Tensor, pool: int) -> torch.Tensor:
    """``(N, 3, H/pool, W/pool)``: each ``pool``-block's medoid, the one of its own pixels with the least summed L1
    distance to the others (never a blend of two sides of an edge; ties go to the first in reading order)."""
    src = source.float()
    n, c, h, w = src.shape
    blocks = F.unfold(src, pool, stride=pool).view(n, c, pool * pool, -1)  # (N, 3, pixels, blocks)
    spread = (blocks.unsqueeze(2) - blocks.unsqueeze(3)).abs().sum((1, 3))  # (N, pixels, blocks)
    pick = spread.argmin(1, keepdim=True).unsqueeze(1).expand(n, c, 1, blocks.shape[-1])
    return blocks.gather(2, pick).view(n, c, h // pool, w // pool)


@torch.no_grad()
def block_colours(source: torch.Tensor, pool: int, reduce: str = "mean") -> torch.Tensor:
    """Each ``pool``-block's colour: its mean, or with ``reduce="medoid"`` its medoid (:func:`block_medoids`)."""
    return block_medoids(source, pool) if reduce == "medoid" else F.avg_pool2d(source.float(), pool)


@torch.no_grad()
def outline_cells(source: torch.Tensor, pool: int, contrast: float = CONTRAST, dark_only: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``pool``-blocks of ``source`` (N, 3, H, W) on thin features (standing out by ``contrast`` lightness
    levels of 255 or more; ``dark_only``: dark ones) and the feature's colour there: ``(N, 1, H/pool, W/pool)``
    bool, ``(N, 3, ...)``."""
    src = source.float()
    dark, bright = _feature_masks(src, pool, contrast)
    chosen, use_bright, count = _choose_blocks(dark, bright, pool, dark_only)
    return chosen, _feature_colours(src, dark, bright, pool, use_bright, count)


def _feature_masks(src: torch.Tensor, pool: int, contrast: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(dark, bright): pixels of features narrower than a block that stand out by ``contrast`` (black and white
    top-hats), as float masks."""
    light = lightness(src)
    size = pool + 1
    closed = _min(_max(light, size), size)
    opened = _max(_min(light, size), size)
    return ((closed - light) >= contrast).float(), ((light - opened) >= contrast).float()


def _choose_blocks(dark: torch.Tensor, bright: torch.Tensor, pool: int, dark_only: bool) -> tuple[torch.Tensor, ...]:
    """From the feature masks: the chosen blocks, which blocks take a bright feature (a highlight) rather than a
    dark one, and each block's count of the feature's pixels."""
    area = pool * pool
    dark_count = F.avg_pool2d(dark, pool) * area
    bright_count = torch.zeros_like(dark_count) if dark_only else F.avg_pool2d(bright, pool) * area
    use_bright = bright_count > dark_count
    count = torch.where(use_bright, bright_count, dark_count).round()
    candidate = count >= max(1, pool // 2)
    density = F.avg_pool2d(_pad_symmetric(candidate.float(), 2), 5, stride=1)
    chosen = candidate & _suppress(count) & (density <= TEXTURE_SHARE)
    return chosen, use_bright, count


def _feature_colours(src: torch.Tensor, dark: torch.Tensor, bright: torch.Tensor, pool: int, use_bright: torch.Tensor,
                     count: torch.Tensor) -> torch.Tensor:
    """Each block's mean colour over its feature pixels (bright or dark, as it chose)."""
    pixels = torch.where(F.interpolate(use_bright.float(), scale_factor=pool, mode="nearest") > 0, bright, dark)
    area = pool * pool
    return F.avg_pool2d(src * pixels, pool) * area / count.clamp_min(1)


@torch.no_grad()
def outline_target(source: torch.Tensor, pool: int, contrast: float = CONTRAST, reduce: str = "mean") -> torch.Tensor:
    """``pool``-block colours of ``source`` (N, 3, H, W) (:func:`block_colours`: means, or medoids), with blocks on
    thin features (standing out by ``contrast`` lightness levels of 255 or more) taking the feature's colour."""
    average = block_colours(source, pool, reduce)
    if pool < 2:
        return average
    chosen, colour = outline_cells(source, pool, contrast)
    return torch.where(chosen, colour, average)


def _feature_blocks(dark: torch.Tensor, bright: torch.Tensor, pool: int, kind: str) -> tuple[torch.Tensor, ...]:
    """The blocks a generator input ``kind`` draws in, from the feature masks: ``inference.classic.feature_cells``'s
    rule, step for step (a test pins the two to agree)."""
    if kind not in FEATURE_INPUTS:
        raise ValueError(f"no feature cells for the generator input {kind!r}: one of {', '.join(FEATURE_INPUTS)}")
    if kind == "cells":
        return _choose_blocks(dark, bright, pool, False)
    chosen, use_bright, count = _choose_blocks(dark, bright, pool, True)
    if kind != "dark-cells":  # found on dark features alone, a block can be one the classical method lights or leaves out
        classic, highlight, _ = _choose_blocks(dark, bright, pool, False)
        chosen = chosen & (classic & ~highlight if kind == "classic-dark-cells" else classic)
        if kind == "classic-thin-cells":
            chosen = chosen & ~(highlight & _beside(classic & ~highlight))
    return chosen, use_bright, count


def _beside(mask: torch.Tensor) -> torch.Tensor:
    """Blocks in ``mask`` or above, below, left or right of one in it (scipy's binary_dilation with a cross)."""
    p = F.pad(mask.float(), (1, 1, 1, 1))
    return (mask | (p[..., :-2, 1:-1] > 0) | (p[..., 2:, 1:-1] > 0) | (p[..., 1:-1, :-2] > 0) | (p[..., 1:-1, 2:] > 0))


@torch.no_grad()
def with_feature_cells(
    reduced: torch.Tensor, source: torch.Tensor, cell: int, contrast: float = CONTRAST, kind: str = "cells",
) -> torch.Tensor:
    """``reduced`` (``source`` halved or otherwise reduced to ``r`` pixels per ``cell``) with the cells on thin
    features, found in ``source`` at the cell's scale, drawn as ``r``x``r`` blocks of the feature's colour.

    The generator's input for ``a_resize = kind`` (``"cells"``, ``"dark-cells"``, ``"classic-dark-cells"``,
    ``"classic-line-cells"`` or ``"classic-thin-cells"``; which blocks: ``inference.classic.feature_cells``), as
    ``pixelate`` builds it for a model that records that input (``inference.classic.with_feature_cells``):
    halving keeps a line narrower than two pixels but box-averages a 3-4 px eye into pale blocks, and what
    the generator is not shown it cannot keep: the colour-keeping target's feature cells are found in the
    picture, and the same rule run on the halved input gets only 43% of the way to them (docs/model-log.md, stage 59).
    """
    src = source.float()
    dark, bright = _feature_masks(src, cell, contrast)
    chosen, use_bright, count = _feature_blocks(dark, bright, cell, kind)
    colour = _feature_colours(src, dark, bright, cell, use_bright, count)
    scale = reduced.shape[-1] * cell // source.shape[-1]
    blocks = F.interpolate(chosen.float(), scale_factor=scale, mode="nearest") > 0  # nearest: blocks, never a blend
    return torch.where(blocks, F.interpolate(colour, scale_factor=scale, mode="nearest"), reduced.float())


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    """Linear light of sRGB values in 0..1, differentiable: :func:`pixelforge.color`'s transfer function in torch."""
    return torch.where(c <= 0.04045, c / 12.92, ((c.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def perceptual_lightness(x: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` lightness in levels 0..255 of ``(N, 3, H, W)`` on the -1..1 scale, differentiable.

    The classical path's formula (:func:`lightness`: the picture's sRGB luma, linearised, cube root) without its
    rounding to 8-bit and to whole levels, which has no gradient: a loss needs the slope, and finds the same lines
    to within a level or two.
    """
    luma = (0.299 * x[:, 0:1].float() + 0.587 * x[:, 1:2].float() + 0.114 * x[:, 2:3].float() + 1) / 2
    return 255 * srgb_to_linear(luma.clamp(0, 1)).clamp(min=1e-6) ** (1 / 3)


def top_hats(light: torch.Tensor) -> torch.Tensor:
    """Black and white top-hats over 3x3 cells, ``(N, 2, H, W)``: how far a cell is darker (brighter) than the
    closing (opening) around it, so a line one or two cells wide scores its contrast and a flat area or a
    wide region scores 0."""
    padded = F.pad(light, (1, 1, 1, 1), mode="replicate")
    dilated, eroded = F.max_pool2d(padded, 3, stride=1), -F.max_pool2d(-padded, 3, stride=1)
    closing = -F.max_pool2d(-F.pad(dilated, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    opening = F.max_pool2d(F.pad(eroded, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return torch.cat([closing - light, light - opening], 1)


def line_loss(output: torch.Tensor, target: torch.Tensor, pool: int, contrast: float = 20.0) -> torch.Tensor:
    """Mean contrast, in lightness levels / 127.5, that the target's thin lines have and the drawing's cells lack.

    ``target``: one colour per ``pool`` x ``pool`` block of ``output`` (the colour-keeping target). Its cells whose
    black or white top-hat (:func:`top_hats`) is ``contrast`` lightness levels or more are line cells: a seam, a
    pleat, a strand. For each, the loss is how much less its block of the drawing stands out from its
    neighbours, 0 once it stands out as much. Averaged over the line cells alone, so a few cells of seam weigh
    as much as a picture's fills do in the colour-keeping loss, which a drawing can nearly satisfy while it
    smooths the seam away (three panels judged v74 down for exactly that).
    """
    want = top_hats(perceptual_lightness(target))
    got = top_hats(perceptual_lightness(F.avg_pool2d(output.float(), pool)))
    lines = (want >= contrast).float()
    missing = (want - got).clamp(min=0) * lines
    return missing.sum() / lines.sum().clamp(min=1) / 127.5

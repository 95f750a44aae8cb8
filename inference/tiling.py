"""Batches and tiles for the generator: same-sized pictures share a pass (:func:`translate_pictures`); large
ones are tiled with InstanceNorm statistics pooled over every tile, blend ramps, offsets, padding.

InstanceNorm normalises with statistics of whatever it sees, so tiles normalised on their own
would each get their own tone and show seams. :class:`SharedStatsNorm` replaces each norm layer:
a first pass over all tiles pools every layer's statistics (``gather``), a second normalises every
tile with them (``replay``); in ``live`` mode it is plain InstanceNorm, which is what the ONNX
export sees. The tiles overlap and are blended with linear ramps (:func:`ramp`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class SharedStatsNorm(nn.Module):
    """InstanceNorm (no affine) whose statistics can be pooled over many tiles and then shared.

    ``mode`` is ``"live"`` (ordinary InstanceNorm), ``"gather"`` (ordinary, and pool the
    pixel-weighted first and second moments of everything seen) or ``"replay"`` (normalise with
    the pooled statistics). Statistics are kept in fp32 whatever the compute dtype.
    """

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.mode = "live"
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.sum: torch.Tensor | float = 0.0
        self.sum_sq: torch.Tensor | float = 0.0

    def pooled(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.sum / self.count
        return mean, (self.sum_sq / self.count - mean * mean).clamp_min(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "live":
            return F.instance_norm(x, eps=self.eps)
        xf = x.float()
        if self.mode == "replay" and self.count:
            mean, var = self.pooled()
        else:
            var, mean = torch.var_mean(xf, dim=(2, 3), keepdim=True, correction=0)
            if self.mode == "gather":
                n = x.shape[2] * x.shape[3]
                self.sum = self.sum + n * mean.sum(0, keepdim=True)
                self.sum_sq = self.sum_sq + n * (var + mean * mean).sum(0, keepdim=True)
                self.count += n * x.shape[0]
        return ((xf - mean) * torch.rsqrt(var + self.eps)).to(x.dtype)


def with_shared_stats_norm(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with every InstanceNorm2d swapped for :class:`SharedStatsNorm` (same maths)."""
    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                if child.affine or child.track_running_stats:
                    raise ValueError("only the reference's InstanceNorm (no affine, no running stats) is supported")
                setattr(module, name, SharedStatsNorm(child.eps))
    return net


def ramp(length: int, overlap: int, start_edge: bool, end_edge: bool) -> np.ndarray:
    """Blend weights along one tile axis: linear ramps over ``overlap`` except at the image border."""
    w = np.ones(length, dtype=np.float32)
    if overlap > 0:
        ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if not start_edge:
            w[:overlap] = np.minimum(w[:overlap], ramp)
        if not end_edge:
            w[-overlap:] = np.minimum(w[-overlap:], ramp[::-1])
    return w


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Top-left offsets of tiles covering ``size`` with at least ``overlap`` shared pixels."""
    if size <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def pad_to(arr: np.ndarray, h: int, w: int) -> np.ndarray:
    """Reflect-pad the bottom/right of an ``(H, W, C)`` array (edge-pad when it is too small to reflect)."""
    dh, dw = h - arr.shape[0], w - arr.shape[1]
    if dh == 0 and dw == 0:
        return arr
    mode = "reflect" if dh < arr.shape[0] and dw < arr.shape[1] else "edge"
    return np.pad(arr, ((0, dh), (0, dw), (0, 0)), mode=mode)


def shared_norms(net: nn.Module) -> list[SharedStatsNorm]:
    return [m for m in net.modules() if isinstance(m, SharedStatsNorm)]


@contextmanager
def norm_mode(net: nn.Module, mode: str) -> Iterator[None]:
    """Every :class:`SharedStatsNorm` of ``net`` in ``mode`` (pooled statistics cleared before a gather and
    after a replay), back to ``live`` afterwards even on an error."""
    norms = shared_norms(net)
    for m in norms:
        m.mode = mode
        if mode == "gather":
            m.reset()
    try:
        yield
    finally:
        for m in norms:
            m.mode = "live"
            if mode == "replay":
                m.reset()


def translate_tiled(
    run: Callable[[np.ndarray], np.ndarray], net: nn.Module, rgb: np.ndarray, tile: int, overlap: int, batch_pixels: int
) -> np.ndarray:
    """``run`` (``net``'s forward on a ``(B, h, w, 3)`` batch) over overlapping tiles of an ``(H, W, 3)`` picture.

    Two passes: the first runs each tile with its own statistics and pools them (pixel-weighted) into
    one estimate per layer of what the whole picture would give; the second normalises every tile
    with that shared estimate, so no tile gets its own tone and the seams disappear. ``overlap`` is
    capped at a quarter tile; at most ``batch_pixels`` pixels go through ``run`` at once.
    """
    h, w = rgb.shape[:2]
    overlap = min(overlap, tile // 4)
    th, tw = min(tile, h), min(tile, w)
    boxes = [(y, x) for y in tile_starts(h, th, overlap) for x in tile_starts(w, tw, overlap)]
    per_batch = max(1, batch_pixels // (th * tw))
    batches = [boxes[i : i + per_batch] for i in range(0, len(boxes), per_batch)]
    with norm_mode(net, "gather"):
        for chunk in batches:
            run(np.stack([rgb[y : y + th, x : x + tw] for y, x in chunk]))
    out = np.zeros((h, w, 3), dtype=np.float32)
    weight = np.zeros((h, w, 1), dtype=np.float32)
    with norm_mode(net, "replay"):
        for chunk in batches:
            result = run(np.stack([rgb[y : y + th, x : x + tw] for y, x in chunk]))
            for (y, x), tile_out in zip(chunk, result):
                wy = ramp(th, overlap, y == 0, y + th == h)
                wx = ramp(tw, overlap, x == 0, x + tw == w)
                wt = (wy[:, None] * wx[None, :])[..., None]
                out[y : y + th, x : x + tw] += tile_out * wt
                weight[y : y + th, x : x + tw] += wt
    return out / weight


def translate_pictures(
    run: Callable[[np.ndarray], np.ndarray], net: nn.Module, pictures: Sequence[np.ndarray], tile: int, overlap: int,
    batch_pixels: int,
) -> list[np.ndarray]:
    """``run`` on several ``(H, W, 3)`` pictures; each comes back at its own size.

    Inputs are reflect-padded to a multiple of 4 (and cropped back), so size and aspect ratio
    are kept. Pictures that fit one tile are batched with others of the same size, up to
    ``batch_pixels`` pixels per pass; larger ones go through :func:`translate_tiled`.
    """
    results: list[np.ndarray | None] = [None] * len(pictures)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, rgb in enumerate(pictures):
        groups.setdefault(rgb.shape[:2], []).append(i)
    for (h, w), members in groups.items():
        # multiples of 4 for the two stride-2 convolutions, and at least 16 so the bottleneck
        # keeps more than one pixel for InstanceNorm
        hp, wp = max(16, -(-h // 4) * 4), max(16, -(-w // 4) * 4)
        if hp > tile or wp > tile:
            for i in members:
                results[i] = translate_tiled(run, net, pad_to(pictures[i], hp, wp), tile, overlap, batch_pixels)[:h, :w]
            continue
        per_batch = max(1, batch_pixels // (hp * wp))
        for start in range(0, len(members), per_batch):
            chunk = members[start : start + per_batch]
            out = run(np.stack([pad_to(pictures[i], hp, wp) for i in chunk]))
            for i, item in zip(chunk, out):
                results[i] = item[:h, :w]
    return [r for r in results if r is not None]

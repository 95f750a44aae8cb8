"""Dithering onto a palette, done at the cell grid (one decision per cell, so cells stay pure).

* ``none``: nearest palette colour in DIN99o (:func:`map_to_palette`), whose distances follow CIEDE2000. OKLab
  under-counts hue between dark near-neutrals: it put a dark grey hair cell 4.5 from a dark green entry and 9.2
  from a darker grey (CIEDE2000 15.5 and 8.5), so hair turned green.
* ``ordered``: an 8x8 Bayer threshold on OKLab lightness, anchored to the grid's top-left; the
  pattern is the same in every frame, so animations do not shimmer.
* ``floyd``: Floyd-Steinberg error diffusion in OKLab, serpentine scan.
"""

from __future__ import annotations

import numpy as np

from inference.palette import map_to_palette
from inference.palette import nearest_color as nearest
from pixelforge.color import srgb_to_oklab

METHODS = ("none", "ordered", "floyd")


def bayer_matrix(n: int = 8) -> np.ndarray:
    """Normalised Bayer threshold matrix with values in (-0.5, 0.5), mean 0."""
    m = np.zeros((1, 1), dtype=np.float64)
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return (m + 0.5) / m.size - 0.5


def palette_spread(pal_lab: np.ndarray) -> float:
    """Typical OKLab distance between neighbouring palette colours: how hard ordered dither pushes."""
    if len(pal_lab) < 2:
        return 0.0
    d = np.sqrt(((pal_lab[:, None] - pal_lab[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(1)))


def dither(cells: np.ndarray, palette: np.ndarray, method: str = "none", mask: np.ndarray | None = None) -> np.ndarray:
    """Map ``(rows, cols, 3)`` cell colours (0..255) to palette colours; returns uint8 cells.

    ``mask`` marks opaque cells; transparent cells neither take nor pass on diffusion error.
    """
    if method not in METHODS:
        raise ValueError(f"dither must be one of {', '.join(METHODS)}, got {method!r}")
    cells = np.asarray(cells, dtype=np.float64)
    rows, cols = cells.shape[:2]
    if method == "none" or len(palette) == 1:
        return map_to_palette(np.clip(cells, 0, 255), palette).astype(np.uint8)
    pal_lab = srgb_to_oklab(palette)
    if method == "ordered":
        m = bayer_matrix(8)
        tile = np.tile(m, (-(-rows // 8), -(-cols // 8)))[:rows, :cols]
        # The threshold moves perceptual lightness only, so a grey dithers between darker and
        # lighter neighbours in proportion to how light it looks, not to its sRGB code value.
        lab = srgb_to_oklab(np.clip(cells, 0, 255))
        lab[..., 0] += tile * palette_spread(pal_lab)
        idx = nearest(lab.reshape(-1, 3), pal_lab)
    else:
        idx = _floyd_steinberg(srgb_to_oklab(np.clip(cells, 0, 255)), pal_lab, mask).reshape(-1)
    return palette[idx].reshape(rows, cols, 3)


def _floyd_steinberg(lab: np.ndarray, pal_lab: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Serpentine Floyd-Steinberg over an OKLab grid; returns palette indices ``(rows, cols)``.

    The scan is inherently sequential (each decision carries error to the next cell), so it runs
    on plain Python floats: per-cell numpy calls on 3-vectors cost more than the arithmetic.
    """
    rows, cols = lab.shape[:2]
    work = np.asarray(lab, dtype=np.float64).tolist()
    pal = [tuple(p) for p in np.asarray(pal_lab, dtype=np.float64).tolist()]
    opaque = (np.ones((rows, cols), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)).tolist()
    out = np.zeros((rows, cols), dtype=np.int64)

    def spread(cells: list, x: int, e: tuple[float, float, float], w: float) -> None:
        c = cells[x]
        cells[x] = [c[0] + e[0] * w, c[1] + e[1] * w, c[2] + e[2] * w]

    for y in range(rows):
        forward = y % 2 == 0
        step = 1 if forward else -1
        row, below, keep = work[y], (work[y + 1] if y + 1 < rows else None), opaque[y]
        picks = [0] * cols
        for x in range(cols) if forward else range(cols - 1, -1, -1):
            if not keep[x]:
                continue  # transparent cells neither take nor pass on error
            lum, a, b = row[x]
            best, pick = float("inf"), 0
            for i, (pl, pa, pb) in enumerate(pal):
                d = (lum - pl) ** 2 + (a - pa) ** 2 + (b - pb) ** 2
                if d < best:
                    best, pick = d, i
            picks[x] = pick
            pl, pa, pb = pal[pick]
            err = (lum - pl, a - pa, b - pb)
            ahead, behind = x + step, x - step
            if 0 <= ahead < cols:
                spread(row, ahead, err, 7 / 16)
            if below is not None:
                spread(below, x, err, 5 / 16)
                if 0 <= ahead < cols:
                    spread(below, ahead, err, 1 / 16)
                if 0 <= behind < cols:
                    spread(below, behind, err, 3 / 16)
        out[y] = picks
    return out

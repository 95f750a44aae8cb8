"""The model path's colour steps, between the generator and the palette.

A generator trained against sprites on white drifts at coarse scales and leaves a faint mottle on fills.
:func:`anchor_colors` gives its drawing back the picture's broad colours; :func:`settle_flats` averages the mottle
out where the picture is flat. Both keep what the generator drew finer than that. The classical path never
needs them: its cells are the picture's. :func:`drawn_cells` runs every step on one picture's drawing, in order.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from inference.classic import highlight_cells, hold_lines, keep_highlights, keep_shown_features
from inference.grid import cell_means, expand_cells
from inference.postprocess import SETTLE_DRAWN, SETTLE_RADIUS, PixelArtOptions, gaussian_blur
from pixelforge.color import oklab_to_srgb, srgb_to_oklab


def anchor_colors(drawn: np.ndarray, picture: np.ndarray, sigma: float, within: float = 0.0,
                  grid: int = 1) -> np.ndarray:
    """The generator's output with the picture's broad colours: ``drawn + G(picture - drawn)`` in OKLab.

    A CycleGAN trained on sprites on white drifts at coarse scales: pale backdrops turn white, faces
    take a cast. ``G``, a Gaussian of ``sigma`` pixels, holds only those scales, so the drift is undone
    while what the generator drew finer than that (outlines, shading steps, shapes) stays. Both are
    ``(H, W, 3)`` sRGB 0..255 on the same grid; ``sigma`` 0 returns ``drawn`` as it is.

    With ``within`` > 0 the blur is joint (cross-bilateral) on ``grid``-pixel cells, guided by the *drawing*: a cell
    takes the correction of the cells around it in proportion to how alike the drawing paints them (a Gaussian of
    ``within`` OKLab x100). A plain blur carries the correction of a figure whose colour the generator shifted onto
    the white around it, as a glow; guided by the drawing it stays on the figure. The guide is the drawing, never the
    picture, so the picture's edges come through only where the generator drew an edge (a guide from the picture
    hands any generator, even an untrained one, the picture's lines).
    """
    if sigma <= 0:
        return drawn
    out = srgb_to_oklab(np.clip(drawn, 0, 255), np.float32)
    drift = srgb_to_oklab(np.clip(picture, 0, 255), np.float32) - out  # G is linear: one blur of the difference
    if within <= 0:
        return oklab_to_srgb(out + gaussian_blur(drift, sigma)).astype(np.float32)
    fix = _joint_blur(cell_means(drift, grid)[0], cell_means(out, grid)[0], sigma / grid, within / 100.0)
    return oklab_to_srgb(out + expand_cells(fix, grid, (out.shape[1], out.shape[0]))).astype(np.float32)


def _joint_blur(values: np.ndarray, guide: np.ndarray, sigma: float, within: float) -> np.ndarray:
    """``values`` averaged with spatial Gaussian weights (``sigma`` cells, reaching 2 sigma) times range weights
    (a Gaussian of ``within`` in ``guide``'s units between the cells' guide colours)."""
    reach = max(1, int(np.ceil(2 * sigma)))
    rows, cols = values.shape[:2]
    # one 2-D plane per channel: a sum over a 3-long last axis is numpy's slowest reduction (4x at 1024²)
    values_p = [np.pad(values[..., c], reach, mode="edge") for c in range(values.shape[2])]
    guide_c = [guide[..., c] for c in range(guide.shape[2])]
    guide_p = [np.pad(g, reach, constant_values=np.inf) for g in guide_c]  # outside the picture: no weight
    total, weight = [np.zeros((rows, cols), values.dtype) for _ in values_p], np.zeros((rows, cols), np.float32)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            near = np.exp(-((dy - reach) ** 2 + (dx - reach) ** 2) / (2 * sigma * sigma))
            alike = near * np.exp(-_distance2(guide_p, guide_c, dy, dx) / (2 * within * within))
            for t, v in zip(total, values_p):
                t += alike * v[dy : dy + rows, dx : dx + cols]
            weight += alike
    return np.stack(total, -1) / weight[..., None]  # weight >= 1: every cell is like itself


def _distance2(padded: list[np.ndarray], planes: list[np.ndarray], dy: int, dx: int) -> np.ndarray:
    """Squared distance between each cell of ``planes`` (one 2-D array per channel) and the cell ``(dy, dx)`` from it
    in ``padded`` (the same planes padded by the reach), summed over channels in order as ``.sum(-1)`` would."""
    rows, cols = planes[0].shape
    found = None
    for p, c in zip(padded, planes):
        d = p[dy : dy + rows, dx : dx + cols] - c
        found = d * d if found is None else found + d * d
    return found


def settle_flats(drawn: np.ndarray, picture: np.ndarray, delta: float, radius: int = SETTLE_RADIUS,
                 drawn_delta: float = SETTLE_DRAWN) -> np.ndarray:
    """The drawing's cells averaged (in OKLab) over the cells within ``radius`` that are their look-alikes twice over:
    the picture has them within ``delta`` OKLab x100 of the cell's own colour, the drawing within ``drawn_delta``.

    A generator trained against sprites leaves a faint mottle where the picture is flat (a gem, brick
    mortar, a skin of two alternating shades): too faint to count as specks, and what a blind judge of the
    sheet marks it down for (``benchmarks/judge.py``). A cell average never mottles. Averaging each cell with
    its look-alikes in the picture takes the mottle out and keeps what the generator drew across the
    picture's edges and features (there the neighbours differ in the picture, so few are averaged), a stroke
    it drew where the picture has none (far from its neighbours in the drawing, so averaged only with itself),
    and any shift of a whole area's colour. Both grids are ``(rows, cols, 3)`` sRGB 0..255; ``delta`` 0 returns ``drawn``.
    """
    if delta <= 0:
        return drawn
    out = srgb_to_oklab(np.clip(drawn, 0, 255))
    guide = srgb_to_oklab(np.clip(picture, 0, 255))
    rows, cols = out.shape[:2]
    out_c, guide_c = [out[..., c] for c in range(3)], [guide[..., c] for c in range(3)]
    out_p = [np.pad(o, radius, mode="edge") for o in out_c]
    guide_p = [np.pad(g, radius, constant_values=np.inf) for g in guide_c]  # never like a border
    total, weight = [np.zeros((rows, cols), out.dtype) for _ in out_c], np.zeros((rows, cols))
    limit, drawn_limit = (delta / 100.0) ** 2, (drawn_delta / 100.0) ** 2
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            alike = (_distance2(guide_p, guide_c, dy, dx) <= limit) & (_distance2(out_p, out_c, dy, dx) <= drawn_limit)
            for t, o in zip(total, out_p):
                t += alike * o[dy : dy + rows, dx : dx + cols]
            weight += alike
    settled = oklab_to_srgb(np.stack(total, -1) / weight[..., None]).astype(np.float32)  # weight >= 1: a cell is always like itself
    return np.where(weight[..., None] > 1, settled, drawn).astype(np.float32)  # a cell with no look-alike stays as drawn


def drawn_cells(drawn: np.ndarray, shown: np.ndarray, grid: int, options: PixelArtOptions, picture: Image.Image,
                opaque: np.ndarray | None, features: tuple | None = None,
                keep_features: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One picture's cells from the generator's ``drawn`` output of ``shown`` (its input, ``grid`` pixels per cell):
    the colour steps in order, and the input's own cells, which the palette may snap to.

    The picture's broad colours come back (``anchor_colors`` cells), then its flats settle; with ``keep_features`` the
    ``features`` it was shown (the cells and their colours drawn into ``shown``, None when none were) stay as dark as
    shown; with ``keep_highlights`` the classical method's highlights it drew darker than shown come back, never over a
    shown feature; with ``hold_lines`` the classical outline cells of ``picture`` (RGB on white) go on top.
    """
    cell = options.cell_size
    colors = cell_means(anchor_colors(drawn, shown, options.anchor_colors * grid, options.anchor_within, grid), grid)[0]
    own = cell_means(shown, grid)[0]
    colors = settle_flats(colors, own, options.settle_flats)
    if keep_features and features is not None:
        colors = keep_shown_features(colors, *features)
    if options.keeps_highlights:
        lights, light = highlight_cells(picture, cell, opaque)
        colors = keep_highlights(colors, own, lights if features is None else lights & ~features[0], light)
    if options.holds_lines:
        colors = hold_lines(colors, picture, cell, opaque)
    return colors, own

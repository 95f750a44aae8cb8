"""The cell grid: every output cell is exactly one colour.

Cells are ``N``x``N`` blocks aligned to the top-left corner of the input. When the size is not
a multiple of ``N`` the last column/row of cells is narrower, so the output keeps the input's
exact size and aspect ratio. The grid is computed here once and shared by the classical path,
the model path and every frame of a video, which is what keeps animations from flickering.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixelforge.imaging import composite_on_white


def grid_shape(width: int, height: int, cell: int) -> tuple[int, int]:
    """(columns, rows) of cells covering a ``width``x``height`` image."""
    if cell < 1:
        raise ValueError(f"cell size must be >= 1, got {cell}")
    return -(-width // cell), -(-height // cell)


def block_sum(arr: np.ndarray, cell: int, dtype: type | None = None) -> np.ndarray:
    """Sum over ``cell``x``cell`` blocks of an ``(H, W, C)`` array; the ragged last row/column sums what is there.

    ``np.add.reduceat`` never pads, so memory stays that of the input whatever the cell size.
    """
    h, w = arr.shape[:2]
    rows = np.add.reduceat(arr, np.arange(0, h, cell), axis=0, dtype=dtype)
    return np.add.reduceat(rows, np.arange(0, w, cell), axis=1, dtype=dtype)


def cell_means(
    rgb: np.ndarray, cell: int, alpha: np.ndarray | None = None, threshold: int = 128
) -> tuple[np.ndarray, np.ndarray | None]:
    """Average colour of every cell, and which cells are opaque.

    ``rgb`` is ``(H, W, 3)`` (uint8 or float, 0..255); ``alpha`` an optional ``(H, W)`` uint8.
    Colours are alpha-weighted, so the arbitrary RGB under transparent pixels never leaks into a
    visible cell. A cell is opaque when its mean alpha reaches ``threshold``: the output has a
    binary alpha, as pixel art does.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    ones = np.ones((h, w, 1), dtype=np.float32)
    count = block_sum(ones, cell)
    if alpha is None:
        return block_sum(rgb, cell) / count, None
    weight = np.asarray(alpha, dtype=np.float32)[..., None] / 255.0
    wsum = block_sum(weight, cell)
    colour = block_sum(rgb * weight, cell) / np.maximum(wsum, 1e-6)
    plain = block_sum(rgb, cell) / count
    colour = np.where(wsum > 1e-6, colour, plain)
    opaque = (wsum[..., 0] / count[..., 0]) * 255.0 >= threshold
    return colour, opaque


def expand_cells(cells: np.ndarray, cell: int, size: tuple[int, int]) -> np.ndarray:
    """Blow ``(rows, cols, C)`` cells up to a ``size`` = (width, height) array, cropping the ragged edge."""
    width, height = size
    # index, not repeat-then-crop: a cell far larger than the picture must not allocate cell² pixels;
    # one axis at a time (two 1-D gathers), about 5x faster than one 2-D fancy index at 1080p
    rows = np.minimum(np.arange(height) // cell, cells.shape[0] - 1)
    cols = np.minimum(np.arange(width) // cell, cells.shape[1] - 1)
    return np.ascontiguousarray(cells.take(rows, axis=0).take(cols, axis=1))


def cell_purity(img: Image.Image | np.ndarray, cell: int) -> float:
    """Fraction of cells whose pixels are all one colour (1.0 is the rule we enforce)."""
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[..., None]
    h, w = arr.shape[:2]
    rows, cols = -(-h // cell), -(-w // cell)
    # Compare every pixel with its cell's top-left pixel, which exists even in ragged cells.
    anchor = arr[::cell, ::cell]
    ref = anchor[(np.arange(h) // cell)[:, None], (np.arange(w) // cell)[None, :]]
    differs = np.any(arr != ref, axis=-1)
    bad = block_sum(differs[..., None].astype(np.int32), cell)[..., 0] > 0
    return 1.0 - float(bad.sum()) / float(rows * cols)


def downsample_to_grid(img: Image.Image, cell: int) -> np.ndarray:
    """The picture as seen at the cell grid (cell means of the RGB composite), for quality checks."""
    return cell_means(np.asarray(composite_on_white(img)), cell)[0]

"""Quick previews: pixelate a reduced copy whose grid matches the full-size result.

A live preview must answer while a slider moves, so it works on a copy of at most a few
hundred thousand pixels. Box-reducing by a divisor ``f`` of the cell size and using cells of
``cell / f`` keeps every cell's mean colour, so the preview has the full result's grid and
palette (up to rounding of the reduced copy). Only when even ``f = cell`` is not small enough
does the preview get fewer, larger cells than the full result.
"""

from __future__ import annotations

import math

from PIL import Image

from inference.pixelator import Pixelator


def reduced_copy(img: Image.Image, cell_size: int, max_pixels: int) -> tuple[Image.Image, int]:
    """``img`` box-reduced to at most ``max_pixels``, and the cell size that keeps its grid."""
    width, height = img.size
    if width * height <= max_pixels:
        return img, cell_size
    need = math.ceil(math.sqrt(width * height / max_pixels))
    factor = next((d for d in range(need, cell_size + 1) if cell_size % d == 0), None)
    cell = cell_size // factor if factor else 1
    if factor is None:  # coarser than the real grid: whole cells merge
        factor = cell_size * math.ceil(need / cell_size)
    transparent = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    # Image.reduce works on RGB/RGBA only; palette and 16-bit inputs are converted first
    return img.convert("RGBA" if transparent else "RGB").reduce(factor), cell


def preview(pixelator: Pixelator, img: Image.Image, max_pixels: int) -> Image.Image:
    """One pixel per cell of ``img``, computed on a reduced copy: the same options, a fraction of the work."""
    small, cell = reduced_copy(img, pixelator.options.cell_size, max_pixels)
    return pixelator.with_options(cell_size=cell, native=True).pixelate(small)

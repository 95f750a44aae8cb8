"""The classical (no-ML) method: average each cell, then apply the palette and dither rules.

It needs no checkpoint, so ``pixelate`` works out of the box. Averaging is a box filter over
each cell (area sampling), which is the honest way to shrink a photo; the pixel-art look then
comes from the grid and the small perceptual palette in :mod:`inference.postprocess`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from inference.postprocess import Cells, PixelArtOptions, image_cells, render


def classic_cells(img: Image.Image, options: PixelArtOptions) -> Cells:
    return image_cells(img, options.cell_size, options.alpha_threshold)


def pixelate_classic(
    img: Image.Image, options: PixelArtOptions | None = None, palette: np.ndarray | None = None
) -> Image.Image:
    """Pixel art from ``img`` without a model; ``palette`` fixes the colours (e.g. shared by video frames)."""
    options = options or PixelArtOptions()
    return render(classic_cells(img, options), options, palette)

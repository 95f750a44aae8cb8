"""Stage 6: centre the native image on a white square at the training size.

Scaling is integer nearest-neighbour only (``pixelforge.imaging.place_on_canvas``): bilinear or
bicubic would blur every pixel edge. A native image larger than the canvas is decimated (every
k-th pixel, still nearest-neighbour); with ``too_large = "reject"`` the filters stage has
already rejected it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from curation.config import CanvasConfig
from pixelforge.imaging import place_on_canvas


@dataclass(frozen=True)
class CanvasResult:
    image: Image.Image  # RGB, size x size
    scale: int  # native -> canvas factor; negative = decimation step


def to_canvas(native_rgb: Image.Image, config: CanvasConfig | None = None) -> CanvasResult:
    config = config or CanvasConfig()
    image, scale = place_on_canvas(native_rgb, config.size)
    return CanvasResult(image, scale)

"""Stage 6: centre the native image on a white square at the training size.

Scaling is integer nearest-neighbour only (``pixelforge.imaging.place_on_canvas``): bilinear or
bicubic would blur every pixel edge. Nothing is ever decimated: a native image larger than the
canvas keeps scale 1 on a white square whose side is the next multiple of ``size`` (sheets larger
than the canvas are cut into frames before this stage); with ``too_large = "reject"`` the filters
stage has already rejected it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from curation.config import CanvasConfig
from pixelforge.imaging import WHITE, place_on_canvas


@dataclass(frozen=True)
class CanvasResult:
    image: Image.Image  # RGB, size x size
    scale: int  # native -> canvas factor, always >= 1


def to_canvas(native_rgb: Image.Image, config: CanvasConfig | None = None) -> CanvasResult:
    config = config or CanvasConfig()
    rgb = native_rgb if native_rgb.mode == "RGB" else native_rgb.convert("RGB")
    side = max(rgb.size)
    if side <= config.size:
        image, scale = place_on_canvas(rgb, config.size)
        return CanvasResult(image, scale)
    size = -(-side // config.size) * config.size
    canvas = Image.new("RGB", (size, size), WHITE)
    canvas.paste(rgb, ((size - rgb.width) // 2, (size - rgb.height) // 2))
    return CanvasResult(canvas, 1)

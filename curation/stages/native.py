"""Stage 2: bring upscaled web pixel art back to one pixel per art pixel.

Interface contract (the pipeline calls only this): ``recover_native(img, config) -> NativeResult``.
Until the pixel-art recovery issue (#5) fills it in, this is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class NativeConfig:
    enabled: bool = True
    min_confidence: float = 0.5  # below this the image is treated as not upscaled, and flagged
    max_scale: int = 16
    snap_colors: bool = False  # JPEG colour cleanup
    snap_max_colors: int = 64


@dataclass(frozen=True)
class NativeResult:
    image: Image.Image  # native resolution, same mode as the input
    scale: tuple[float, float]  # detected cell size per axis (x, y); 1.0 = not upscaled
    phase: tuple[int, int]  # offset of the first full cell boundary (x, y)
    confidence: float  # 0..1, how well the grid explains the image
    upscaled: bool
    flagged: bool = False  # a grid was suspected but confidence was below the threshold
    n_colors_before: int | None = None
    n_colors_after: int | None = None


def recover_native(img: Image.Image, config: NativeConfig | None = None) -> NativeResult:
    """Identity until issue #5: the image is taken as already native."""
    return NativeResult(image=img, scale=(1.0, 1.0), phase=(0, 0), confidence=0.0, upscaled=False)

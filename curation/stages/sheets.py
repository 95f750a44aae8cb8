"""Optional stage: slice sprite sheets into single sprites (filled in by issue #5).

Interface contract: ``slice_sheet(img, config) -> list[SpriteBox]``; an empty list means
"not a sheet, keep the image whole". Boxes are in the native image's pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class SheetConfig:
    enabled: bool = False
    min_sprites: int = 2
    merge_gap: int = 1  # components closer than this many pixels belong to one sprite
    min_sprite_size: int = 8


@dataclass(frozen=True)
class SpriteBox:
    x: int
    y: int
    width: int
    height: int

    def as_member(self) -> str:
        return f"box:{self.x},{self.y},{self.width},{self.height}"


def slice_sheet(img: Image.Image, config: SheetConfig | None = None) -> list[SpriteBox]:
    """Not built yet (issue #5): every image is kept whole."""
    return []

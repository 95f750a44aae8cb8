"""Stage 1b: bytes -> frames, under the pixel limit, in a mode the later stages understand.

Every Pillow mode becomes RGBA when it carries transparency (palette + tRNS, LA, RGBA) and RGB
otherwise (CMYK, 16-bit grey, L, 1). An RGBA image whose alpha is fully opaque becomes RGB, so the
background stage can look at its border instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from curation.config import DecodeConfig
from pixelforge.imaging import ImageDecodeError, has_alpha, open_image, to_rgba


@dataclass(frozen=True)
class Frame:
    image: Image.Image  # "RGB" or "RGBA"
    frame: int  # index in an animation (0 for stills)
    n_frames: int
    format: str | None
    source_mode: str  # the mode as decoded, e.g. "P", "LA", "I;16", "CMYK"

    @property
    def member_suffix(self) -> str:
        return f"frame:{self.frame}" if self.n_frames > 1 else ""


def normalize_mode(img: Image.Image) -> Image.Image:
    """RGBA if any pixel is not fully opaque, else RGB; never drops alpha that matters."""
    if img.mode == "RGB":
        return img
    rgba = to_rgba(img)
    if (has_alpha(img) or img.mode == "RGBA") and rgba.getchannel("A").getextrema()[0] < 255:
        return rgba
    return rgba.convert("RGB")


_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")


def decode(data: bytes, config: DecodeConfig | None = None) -> list[Frame]:
    """Decode the first frame, or every frame of an animation; raises ``ImageDecodeError``."""
    config = config or DecodeConfig()
    try:
        decoded = open_image(data, max_pixels=config.max_pixels)
    except ImageDecodeError as exc:
        # Pillow puts object addresses in messages; reports must be the same on every run
        raise ImageDecodeError(exc.reason, _OBJECT_REPR.sub("", exc.detail)) from exc
    img = decoded.image
    n_frames = decoded.n_frames
    frames = [Frame(normalize_mode(img), 0, n_frames, decoded.format, img.mode)]
    if config.frames == "all" and n_frames > 1:
        for index in range(1, min(n_frames, config.max_frames)):
            try:
                img.seek(index)
                img.load()
            except (OSError, EOFError, ValueError) as exc:
                raise ImageDecodeError("truncated", f"frame {index}: {exc}") from exc
            frames.append(Frame(normalize_mode(img.copy()), index, n_frames, decoded.format, img.mode))
    return frames

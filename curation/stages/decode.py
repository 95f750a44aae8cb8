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
from pixelforge.decoding import DEFAULT_MAX_TOTAL_PIXELS, FrameBudget, ImageDecodeError, iter_frames
from pixelforge.imaging import has_alpha, to_rgba


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
    """Decode the first frame, or every frame of an animation (at most ``max_frames``); raises ``ImageDecodeError``.

    Every frame is decoded under the kernel's frame budget: its canvas within ``max_pixels`` and all
    canvases together within ``max_total_pixels``, both checked before the frame's pixels are decoded.
    EXIF orientation is applied in the kernel, so a photo tagged "rotate 90" is upright here.
    """
    config = config or DecodeConfig()
    wanted = config.max_frames if config.frames == "all" else 1
    budget = FrameBudget(
        max_pixels=config.max_pixels,
        max_frames=max(1, wanted),
        max_total_pixels=getattr(config, "max_total_pixels", DEFAULT_MAX_TOTAL_PIXELS),
    )
    frames: list[Frame] = []
    try:
        for decoded in iter_frames(data, budget, stop_at=max(1, wanted)):
            img = decoded.image
            frames.append(Frame(normalize_mode(img.copy()), len(frames), decoded.n_frames, decoded.format, img.mode))
    except ImageDecodeError as exc:
        if frames and exc.reason == "truncated":
            exc = ImageDecodeError("truncated", f"frame {len(frames)}: {exc.detail}")
        # Pillow puts object addresses in messages; reports must be the same on every run
        raise ImageDecodeError(exc.reason, _OBJECT_REPR.sub("", exc.detail)) from exc
    return frames

"""Stage 4: filters on the white-background native image, each verdict with a reason.

The colour and pixel-art tests only make sense for pixel art, so they apply to the domains in
``FilterConfig.pixel_art_domains`` (domain B by default); size, aspect and blankness apply to all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from curation.config import FilterConfig
from curation.stages.pixelart import PixelArtScore
from pixelforge.imaging import not_white


@dataclass(frozen=True)
class Verdict:
    name: str  # the filter, which is also the rejection reason when it fails
    passed: bool
    value: float
    limit: float
    detail: str


def ink_share(rgb: Image.Image | np.ndarray) -> float:
    """Share of pixels that are not pure white (an image, or the ``(H, W, 3)`` array of one on white)."""
    arr = rgb if isinstance(rgb, np.ndarray) else np.asarray(rgb if rgb.mode == "RGB" else rgb.convert("RGB"))
    return float(not_white(arr).mean()) if arr.size else 0.0


def run_filters(
    rgb: Image.Image | np.ndarray,
    n_colors: int,
    score: PixelArtScore | None,
    domain: str,
    config: FilterConfig | None = None,
    *,
    max_side: int | None = None,
    visible_edge: float = 1.0,
    min_visible_edge: float = 0.0,
    complex_background: str = "",
) -> list[Verdict]:
    """Every verdict, in a fixed order; the first failing one is the rejection reason.

    ``max_side`` is the canvas size when images larger than the canvas are to be rejected
    rather than kept at native size (``canvas.too_large = "reject"``). ``visible_edge`` is the share
    of the figure's outline that shows on white (background stage); ``complex_background`` the
    reason a background could not be made white, when that rejects the image.
    """
    config = config or FilterConfig()
    height, width = rgb.shape[:2] if isinstance(rgb, np.ndarray) else (rgb.height, rgb.width)
    short, long = min(width, height), max(width, height)
    aspect = long / max(short, 1)
    ink = ink_share(rgb)
    verdicts = [
        Verdict("too-small", short >= config.min_size, short, config.min_size,
                f"{width}x{height} native, smallest side must be >= {config.min_size}"),
        Verdict("extreme-aspect", aspect <= config.max_aspect, round(aspect, 3), config.max_aspect,
                f"aspect {aspect:.2f} > {config.max_aspect:g}"),
        Verdict("invisible-on-white", visible_edge >= min_visible_edge, round(visible_edge, 4), min_visible_edge,
                f"only {visible_edge:.0%} of the figure's outline shows on white (white art on transparency)"),
        Verdict("near-blank", ink >= config.min_ink and n_colors > 1, round(ink, 4), config.min_ink,
                f"{ink:.2%} non-white pixels, {n_colors} colour(s)"),
    ]
    if domain in config.pixel_art_domains:
        verdicts.append(Verdict("too-many-colors", n_colors <= config.max_colors, n_colors, config.max_colors,
                                f"{n_colors} colours at native resolution > {config.max_colors}"))
        if score is not None:
            verdicts.append(Verdict("not-pixel-art", score.score >= config.pixel_art_threshold, round(score.score, 4),
                                    config.pixel_art_threshold,
                                    f"pixel-art score {score.score:.2f} < {config.pixel_art_threshold:g}: {score.explanation}"))
    verdicts.append(Verdict("complex-background", not complex_background, 0.0 if complex_background else 1.0, 1.0,
                            complex_background or "background made white"))
    if max_side is not None:
        verdicts.append(Verdict("larger-than-canvas", long <= max_side, long, max_side,
                                f"{width}x{height} native > {max_side} canvas"))
    return verdicts


def first_failure(verdicts: list[Verdict]) -> Verdict | None:
    return next((v for v in verdicts if not v.passed), None)

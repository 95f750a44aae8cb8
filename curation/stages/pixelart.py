"""The pixel-art test: a documented, explainable score (filled in by issue #5).

Interface contract: ``pixel_art_score(original, native) -> PixelArtScore``; the curation filter
rejects a domain-B image when ``score < threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from curation.stages.native import NativeResult


@dataclass(frozen=True)
class PixelArtScore:
    score: float  # 0..1, higher = more like pixel art
    components: dict[str, float] = field(default_factory=dict)  # grid_fit, n_colors, aa_edge_share, ...
    explanation: str = ""


def pixel_art_score(original: Image.Image, native: NativeResult) -> PixelArtScore:
    """Not built yet (issue #5): returns a neutral score that every threshold in (0, 1] accepts."""
    return PixelArtScore(score=1.0, components={}, explanation="pixel-art test not built yet (issue #5)")

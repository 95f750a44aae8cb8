"""The pixel-art test: a documented, explainable score.

Interface contract: ``pixel_art_score(original, native) -> PixelArtScore``; the curation filter
rejects a domain-B image when ``score < threshold``.

The score is a weighted mean of three sub-scores, each in 0..1 and each reported in
``components`` so a rejection can be explained:

* ``grid_fit`` (weight 1, only when a grid was found): the native stage's confidence, how much
  of the image's change lies on the cell grid. Photos, vector cartoons and paintings are never
  nearest-neighbour upscaled, so a clean grid is strong evidence. A native-resolution image has
  no grid to show; then this input is left out rather than counted against it.
* ``colors`` (weight 1): distinct colours at native resolution. 32 or fewer scores 1, 256 or
  more scores 0, log-linear between. Upscaled lossy inputs (the native image scaled back on its
  grid differs from the input: ``cell_residual`` > 0) are counted after the OKLab colour snap, so
  JPEG noise does not count as colours; native images are counted exactly (a JPEG at native
  resolution has lost its pixels anyway).
* ``hard_edges`` (weight 1.5): one minus the share of anti-aliased or gradient edges. Across
  every strong edge (colours at distance 2 differ by more than ``EDGE``), the middle pixel is a
  *blend* when it differs from both sides and lies between them. Pixel art switches colour in
  one step (share below 0.10 scores 1); anti-aliased cartoons and paintings blend (0.20 and up
  scores 0). With no strong edges at all (smooth photos) the sub-score is a neutral 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from curation.stages.native import NativeResult, cell_residual, snap_colors
from pixelforge.imaging import count_colors, rgb_on_white

EDGE = 48.0  # RGB distance across two pixels that makes an edge
BLEND_MIN = 24.0  # a blend pixel differs from both sides by at least this (JPEG noise stays below)
LOSSY_RESIDUAL = 0.0  # lossless upscales reproduce exactly; any JPEG noise leaves a residual


@dataclass(frozen=True)
class PixelArtConfig:
    threshold: float = 0.5  # images scoring below are not pixel art
    few_colors: int = 32  # at or below: colour sub-score 1
    many_colors: int = 256  # at or above: colour sub-score 0
    blend_ok: float = 0.10  # blend share at or below: edge sub-score 1
    blend_bad: float = 0.20  # blend share at or above: edge sub-score 0
    weights: tuple[float, float, float] = (1.0, 1.0, 1.5)  # grid_fit, colors, hard_edges


@dataclass(frozen=True)
class PixelArtScore:
    score: float  # 0..1, higher = more like pixel art
    components: dict[str, float] = field(default_factory=dict)  # grid_fit, n_colors, aa_edge_share, ...
    explanation: str = ""

    def passes(self, threshold: float = PixelArtConfig.threshold) -> bool:
        return self.score >= threshold


def blend_share(rgb: np.ndarray) -> tuple[float, int]:
    """Share of strong edges whose middle pixel is a blend of its two neighbours.

    Looks at every run of three pixels, horizontally and vertically. Returns the share and the
    number of strong edges it was measured on.
    """
    a = rgb.astype(np.float32)
    blends = edges = 0
    for x in (a, a.transpose(1, 0, 2)):
        if x.shape[1] < 3:
            continue
        left, mid, right = x[:, :-2], x[:, 1:-1], x[:, 2:]
        d_lr = np.sqrt(((left - right) ** 2).sum(-1))
        edge = d_lr > EDGE
        if not edge.any():
            continue
        d_lm = np.sqrt(((left - mid) ** 2).sum(-1))[edge]
        d_mr = np.sqrt(((mid - right) ** 2).sum(-1))[edge]
        d = d_lr[edge]
        floor = np.maximum(0.2 * d, BLEND_MIN)
        blend = (d_lm > floor) & (d_mr > floor) & (d_lm + d_mr <= 1.15 * d)
        blends += int(blend.sum())
        edges += int(edge.sum())
    return (blends / edges if edges else 0.0), edges


def _ramp(value: float, good: float, bad: float) -> float:
    """1 at ``good``, 0 at ``bad``, linear between (either direction)."""
    t = (value - good) / (bad - good)
    return float(np.clip(1.0 - t, 0.0, 1.0))


def pixel_art_score(original: Image.Image, native: NativeResult, config: PixelArtConfig | None = None) -> PixelArtScore:
    """Score how much ``native`` (the recovered image of ``original``) looks like pixel art."""
    config = config or PixelArtConfig()
    image = native.image
    rgb = np.asarray(rgb_on_white(image))
    n_colors = count_colors(rgb)
    residual = cell_residual(original, native) if native.upscaled else 0.0
    snapped = False
    if residual > LOSSY_RESIDUAL and n_colors > config.few_colors:
        # cells of an upscaled JPEG carry compression noise: count colours after the snap
        rgb = np.asarray(snap_colors(Image.fromarray(rgb, "RGB"), max_colors=config.many_colors).image)
        n_colors = count_colors(rgb)
        snapped = True
    share, n_edges = blend_share(rgb)

    components: dict[str, float] = {
        "n_colors": float(n_colors),
        "aa_edge_share": round(share, 4),
        "n_edges": float(n_edges),
        "cell_residual": round(residual, 3),
        "colors": round(_log_ramp(n_colors, config.few_colors, config.many_colors), 4),
        "hard_edges": round(_ramp(share, config.blend_ok, config.blend_bad) if n_edges else 0.5, 4),
    }
    parts = [(components["colors"], config.weights[1]), (components["hard_edges"], config.weights[2])]
    if native.upscaled:
        components["grid_fit"] = round(float(native.confidence), 4)
        parts.append((components["grid_fit"], config.weights[0]))
    score = sum(v * w for v, w in parts) / sum(w for _, w in parts)

    reasons = []
    if native.upscaled:
        reasons.append(f"grid {native.scale[0]:g}x{native.scale[1]:g} explains {native.confidence:.0%} of edges")
    else:
        reasons.append("no upscale grid (native size or not pixel art)")
    reasons.append(f"{n_colors} colours{' after JPEG snap' if snapped else ''}")
    reasons.append(f"{share:.0%} of {n_edges} edges blended" if n_edges else "no hard edges")
    verdict = "pixel art" if score >= config.threshold else "not pixel art"
    explanation = f"{verdict} (score {score:.2f}): " + "; ".join(reasons)
    return PixelArtScore(score=round(float(score), 4), components=components, explanation=explanation)


def _log_ramp(n: int, few: int, many: int) -> float:
    """1 at ``few`` colours or fewer, 0 at ``many`` or more, linear in log(n) between."""
    if n <= few:
        return 1.0
    if n >= many:
        return 0.0
    return float(1.0 - np.log(n / few) / np.log(many / few))

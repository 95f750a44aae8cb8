"""The pixel-art test: a documented, explainable score, calibrated on real art.

Interface contract: ``pixel_art_score(original, native) -> PixelArtScore``; the curation filter
rejects a domain-B image when ``score < threshold``.

The score is a weighted mean of sub-scores, each in 0..1 and each reported in ``components`` so a
rejection can be explained. Calibrated on ``benchmarks/curation_truth`` (151 native pixel-art files:
LPC sheets, Superpowers packs, pyxel, ansimuz; 105 Kenney/Twemoji cartoons and photos):

* ``grid_fit`` (weight 1, only when a grid was found): the native stage's confidence. A
  native-resolution image has no grid to show; then this input is left out, not counted against.
* ``colors`` (weight 1): distinct colours at native resolution, 32 or fewer scores 1, 256 or
  more 0, log-linear between. Lossy upscales are counted after the OKLab colour snap.
* ``hard_edges`` (weight 4): one minus the share of strong edges whose middle pixel is a *rare*
  blend: a colour between its two neighbours that the image uses almost nowhere else. Vector
  anti-aliasing mixes a new colour for every edge pixel (Kenney, Twemoji: 8-50% of edges); hand
  anti-aliasing, shading ramps and dithering reuse a few palette colours all over the image
  (LPC sheets blend 15-20% of their edges, yet under 1% with rare colours). 2% or less scores 1,
  6% or more 0.
* ``blends`` (weight 2): one minus the share of all blended edges, 20% or less scores 1, 40% or
  more 0 (photos and paintings blend everywhere, pixel art at most in ramps).
* ``flat`` (weight 0.5): share of visible pixels with an 8-neighbour of exactly the same colour,
  60% or more scores 1, 30% or less 0 (sensor noise and gradients leave no two pixels equal;
  dithering is flat along its diagonals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from curation.stages.native import NativeResult, cell_residual, snap_colors
from pixelforge.imaging import color_keys, count_colors, rgb_on_white

EDGE = 48.0  # RGB distance across two pixels that makes an edge
BLEND_MIN = 24.0  # a blend pixel differs from both sides by at least this (JPEG noise stays below)
LOSSY_RESIDUAL = 0.0  # lossless upscales reproduce exactly; any JPEG noise leaves a residual
RARE_SHARE = 0.001  # a colour used by at most this share of the visible pixels (and at most ...
RARE_MIN = 4  # ... this many pixels, whichever is more) is a rare colour


@dataclass(frozen=True)
class PixelArtConfig:
    threshold: float = 0.5  # images scoring below are not pixel art
    few_colors: int = 32  # at or below: colour sub-score 1
    many_colors: int = 256  # at or above: colour sub-score 0
    blend_ok: float = 0.20  # share of blended edges at or below: blends sub-score 1
    blend_bad: float = 0.40  # ... at or above: 0
    rare_ok: float = 0.02  # share of edges blended with a rare colour at or below: hard_edges 1
    rare_bad: float = 0.06  # ... at or above: 0
    flat_ok: float = 0.6  # share of pixels with an equal neighbour at or above: flat 1
    flat_bad: float = 0.3  # ... at or below: 0
    weights: tuple[float, float, float, float, float] = (1.0, 1.0, 4.0, 2.0, 0.5)  # grid, colours, hard, blends, flat


@dataclass(frozen=True)
class PixelArtScore:
    score: float  # 0..1, higher = more like pixel art
    components: dict[str, float] = field(default_factory=dict)  # grid_fit, n_colors, aa_edge_share, ...
    explanation: str = ""

    def passes(self, threshold: float = PixelArtConfig.threshold) -> bool:
        return self.score >= threshold


def _blend_masks(a: np.ndarray, keys: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per direction (rows, then columns): the strong-edge mask and the blend mask of the middle pixels.

    Only runs of three whose ends differ can hold an edge, so the exact integer test against
    ``EDGE ** 2`` and the float blend test (square roots) run on those alone: pixel art and sheets
    are mostly flat or empty. The column masks come back transposed (a view), as if computed on ``a.T``.
    """
    rgb = np.asarray(a)
    keys = color_keys(a) if keys is None else keys
    height, width = keys.shape
    out = []
    for vertical in (False, True):
        if (height if vertical else width) < 3:
            continue
        ends = keys[:-2] != keys[2:] if vertical else keys[:, :-2] != keys[:, 2:]
        rows, cols = np.nonzero(ends)
        dr, dc = (1, 0) if vertical else (0, 1)
        left, right = (rgb[rows + k * dr, cols + k * dc].astype(np.int32) for k in (0, 2))
        sq_lr = _sq_dist(left, right)
        strong = sq_lr > EDGE * EDGE  # sqrt(n) > 48 exactly when the integer n > 2304
        rows, cols, left, right, sq_lr = rows[strong], cols[strong], left[strong], right[strong], sq_lr[strong]
        mid = rgb[rows + dr, cols + dc].astype(np.int32)
        d_lr, d_lm, d_mr = (np.sqrt(sq.astype(np.float32)) for sq in (sq_lr, _sq_dist(left, mid), _sq_dist(mid, right)))
        floor = np.maximum(0.2 * d_lr, BLEND_MIN)
        edge = np.zeros(ends.shape, bool)
        edge[rows, cols] = True
        blend = np.zeros(ends.shape, bool)
        blend[rows, cols] = (d_lm > floor) & (d_mr > floor) & (d_lm + d_mr <= 1.15 * d_lr)
        out.append((edge.T, blend.T) if vertical else (edge, blend))
    return out


def _sq_dist(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Squared RGB distance of ``(n, 3)`` int32 colours (channel by channel: no reduction over a 3-long axis)."""
    d = p - q
    d *= d
    return d[:, 0] + d[:, 1] + d[:, 2]


def blend_share(rgb: np.ndarray) -> tuple[float, int]:
    """Share of strong edges whose middle pixel is a blend of its two neighbours.

    Looks at every run of three pixels, horizontally and vertically. Returns the share and the
    number of strong edges it was measured on.
    """
    masks = _blend_masks(rgb)
    edges = sum(int(e.sum()) for e, _ in masks)
    blends = sum(int(b.sum()) for _, b in masks)
    return (blends / edges if edges else 0.0), edges


def _n_colors(keys: np.ndarray, visible: np.ndarray | None) -> int:
    """:func:`count_colors` of the image on white, from its colour keys: the visible pixels' colours,
    plus white where some pixel is fully transparent (compositing makes exactly white of it)."""
    if visible is None:
        return int(np.unique(keys).size)
    palette = np.unique(keys[visible])
    white = color_keys(np.full((1, 1, 3), 255, np.uint8))[0, 0]
    return int(palette.size) + int(not visible.all() and not np.isin(white, palette))


def edge_stats(rgb: np.ndarray, visible: np.ndarray | None = None, keys: np.ndarray | None = None) -> dict[str, float]:
    """Blends, rare blends and flatness of an RGB image (``visible``: pixels that belong to the art;
    ``keys``: its :func:`~pixelforge.imaging.color_keys`, when the caller has them)."""
    h, w = rgb.shape[:2]
    keys = color_keys(rgb) if keys is None else keys
    n_vis = h * w if visible is None else int(visible.sum())
    seen = keys.reshape(-1) if visible is None else keys[visible]
    palette = np.unique(seen)  # hashed, then sorted: far cheaper than sorting every pixel for the inverse
    inverse = np.searchsorted(palette, seen)
    counts = np.bincount(inverse, minlength=palette.size)
    is_rare = (counts <= max(RARE_MIN, RARE_SHARE * n_vis))[inverse.reshape(-1)]
    if visible is None:
        rare = is_rare.reshape(h, w)
    else:
        rare = np.zeros((h, w), bool)
        rare[visible] = is_rare
    masks = _blend_masks(rgb, keys)
    edges = blends = rare_blends = 0
    for (edge, blend), r in zip(masks, (rare[:, 1:-1], rare.T[:, 1:-1])):
        edges += int(edge.sum())
        blends += int(blend.sum())
        rare_blends += int((blend & r).sum())
    same = np.zeros((h, w), bool)
    # each of the 4 neighbour pairs (right, down, two diagonals) is compared once and marks both pixels
    for a, b in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                   ((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
                   ((slice(1, None), slice(1, None)), (slice(None, -1), slice(None, -1))),
                   ((slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None)))):
        eq = keys[a] == keys[b]
        same[a] |= eq
        same[b] |= eq
    flat = (float(same.mean()) if visible is None else float(same[visible].mean())) if n_vis else 1.0
    return {"edges": edges, "blend": blends / edges if edges else 0.0, "rare_blend": rare_blends / edges if edges else 0.0,
            "flat": flat, "n_colors": len(counts)}


def _ramp(value: float, good: float, bad: float) -> float:
    """1 at ``good``, 0 at ``bad``, linear between (either direction)."""
    t = (value - good) / (bad - good)
    return float(np.clip(1.0 - t, 0.0, 1.0))


def pixel_art_score(original: Image.Image, native: NativeResult, config: PixelArtConfig | None = None) -> PixelArtScore:
    """Score how much ``native`` (the recovered image of ``original``) looks like pixel art."""
    config = config or PixelArtConfig()
    image = native.image
    rgb = np.asarray(rgb_on_white(image))
    visible = _visible(image)
    keys: np.ndarray | None = color_keys(rgb)
    n_colors = _n_colors(keys, visible)
    residual = cell_residual(original, native) if native.upscaled else 0.0
    snapped = False
    if residual > LOSSY_RESIDUAL and n_colors > config.few_colors:
        # cells of an upscaled JPEG carry compression noise: count colours after the snap
        rgb = np.asarray(snap_colors(Image.fromarray(rgb, "RGB"), max_colors=config.many_colors).image)
        n_colors, keys = count_colors(rgb), None
        snapped = True
    stats = edge_stats(rgb, visible, keys)
    n_edges, share, rare = int(stats["edges"]), float(stats["blend"]), float(stats["rare_blend"])
    components: dict[str, float] = {
        "n_colors": float(n_colors),
        "aa_edge_share": round(share, 4),
        "rare_blend_share": round(rare, 4),
        "flat_share": round(float(stats["flat"]), 4),
        "n_edges": float(n_edges),
        "cell_residual": round(residual, 3),
        "colors": round(_log_ramp(n_colors, config.few_colors, config.many_colors), 4),
        "hard_edges": round(_ramp(rare, config.rare_ok, config.rare_bad) if n_edges else 0.5, 4),
        "blends": round(_ramp(share, config.blend_ok, config.blend_bad) if n_edges else 0.5, 4),
        "flat": round(_ramp(float(stats["flat"]), config.flat_ok, config.flat_bad), 4),
    }
    w_grid, w_colors, w_hard, w_blends, w_flat = config.weights
    parts = [(components["colors"], w_colors), (components["hard_edges"], w_hard), (components["blends"], w_blends),
             (components["flat"], w_flat)]
    if native.upscaled:
        components["grid_fit"] = round(float(native.confidence), 4)
        parts.append((components["grid_fit"], w_grid))
    score = sum(v * w for v, w in parts) / sum(w for _, w in parts)

    reasons = []
    if native.upscaled:
        reasons.append(f"grid {native.scale[0]:g}x{native.scale[1]:g} explains {native.confidence:.0%} of edges")
    else:
        reasons.append("no upscale grid (native size or not pixel art)")
    reasons.append(f"{n_colors} colours{' after JPEG snap' if snapped else ''}")
    if n_edges:
        reasons.append(f"{share:.0%} of {n_edges} edges blended, {rare:.1%} with a one-off colour "
                       f"({'vector anti-aliasing' if rare > config.rare_bad else 'palette ramps' if share > config.rare_ok else 'hard'})")
    else:
        reasons.append("no hard edges")
    reasons.append(f"{stats['flat']:.0%} of pixels have an equal neighbour")
    verdict = "pixel art" if score >= config.threshold else "not pixel art"
    explanation = f"{verdict} (score {score:.2f}): " + "; ".join(reasons)
    return PixelArtScore(score=round(float(score), 4), components=components, explanation=explanation)


def _visible(img: Image.Image) -> np.ndarray | None:
    """Pixels that belong to the art (alpha > 0); None when the image has no transparency."""
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        alpha = np.asarray(img.getchannel("A") if img.mode == "RGBA" else img.convert("RGBA").getchannel("A")) > 0
        return alpha if alpha.any() else None
    return None


def _log_ramp(n: int, few: int, many: int) -> float:
    """1 at ``few`` colours or fewer, 0 at ``many`` or more, linear in log(n) between."""
    if n <= few:
        return 1.0
    if n >= many:
        return 0.0
    return float(1.0 - np.log(n / few) / np.log(many / few))

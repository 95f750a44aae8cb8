"""Stage 2: bring upscaled web pixel art back to one pixel per art pixel.

Interface contract (the pipeline calls only this): ``recover_native(img, config) -> NativeResult``.

How the grid is found (see :mod:`curation.stages.grid` for the maths):

1. Composite onto white, then measure, for every column boundary and every row boundary, how
   much the picture changes across it (squared colour steps above a small noise floor, so JPEG
   ringing counts little).
2. An art pixel upscaled ``s`` times puts all of that change on a lattice ``phase + k*s``. For
   every ``s`` we fold the profile modulo ``s``; the share of change on the best lattice, rescaled
   so that chance is 0 and a perfect lattice is 1, is the grid's *confidence* on that axis.
3. Multiples of the true cell also fit partly, divisors fit fully: we take the largest cell whose
   fit is close to the best, and prefer square cells when one axis's choice fits both.
4. Images resized by a non-integer factor have cells of uneven width. When no integer lattice
   explains the edges, a real-valued period is fitted (FFT of the profile) and every cell
   boundary is snapped onto the edge profile, so cells may be 3, 4, 3, 4, ... pixels wide.
5. Each cell's colour is the per-channel lower median of its core (the cell minus a border),
   which ignores JPEG ringing at cell edges and reproduces lossless input exactly. The output
   keeps the input's mode (RGBA stays RGBA, palette images keep their palette).

Below ``min_confidence`` the image is treated as not upscaled and returned unchanged (the same
object), flagged when a grid was at least plausible. Optional colour cleanup snaps near-identical
colours (JPEG noise) to a small palette by weighted k-means in OKLab; it only touches input shown
to be lossy (the cells are not uniform), so lossless art is never altered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from curation.config import NativeConfig
from curation.stages.grid import Grid, GridAxis, detect_grid, lattice_bounds, sample_cells
from pixelforge.color import kmeans, nearest, srgb_to_oklab, unique_colors
from pixelforge.imaging import composite_on_white, count_colors, rgb_on_white


@dataclass(frozen=True)
class NativeResult:
    image: Image.Image  # native resolution, same mode as the input
    scale: tuple[float, float]  # detected cell size per axis (x, y); 1.0 = not upscaled
    phase: tuple[int, int]  # offset of the first full cell boundary (x, y)
    confidence: float  # 0..1, how well the grid explains the image
    upscaled: bool
    flagged: bool = False  # a grid was suspected but confidence was below the threshold
    rejected_grid: str = ""  # why a confident grid was not used ("" when none was rejected)
    n_colors_before: int | None = None
    n_colors_after: int | None = None
    boundaries: tuple[tuple[int, ...], tuple[int, ...]] | None = None  # cell edges (x, y) in input pixels
    residual: float | None = None  # see cell_residual; measured whenever a grid was applied

    @property
    def native_size(self) -> tuple[int, int]:
        return self.image.size


#: formats whose pixels are exactly what the artist saved: a grid on them must reproduce them exactly
LOSSLESS_FORMATS = frozenset({"PNG", "GIF", "BMP", "TGA", "ICO", "PPM", "TIFF", "QOI"})


def recover_native(img: Image.Image, config: NativeConfig | None = None, *, lossless: bool | None = None) -> NativeResult:
    """Find the art-pixel grid of ``img`` and sample one pixel per cell.

    Native art (no grid found) comes back as the very same object, so it is byte-identical.
    ``lossless`` says the file format keeps pixels exactly (PNG, GIF): then a grid whose cells
    are not uniform is not a nearest-neighbour upscale but smooth resampling or native art with
    flat areas (a vector cartoon, a card back at "scale 16"), and is not evidence (a non-integer
    nearest-neighbour resize misplaces a few columns: residual ~0.04, smooth resizes 0.3+). Lossy
    input whose grid is found gets its colours snapped (``snap_lossy``). A grid that is not exact must also give ``min_cells`` cells along the longer side (a 4x6 "native"
    image is a coincidence of flat areas). The reason is kept in ``rejected_grid``.
    """
    config = config or NativeConfig()
    if not config.enabled or img.width < 2 or img.height < 2:
        return _unchanged(img, confidence=0.0, flagged=False)
    rgb = np.asarray(rgb_on_white(img))
    grid = detect_grid(rgb, max_scale=config.max_scale, fractional=config.fractional)
    if grid is None or grid.confidence < config.min_confidence:
        confidence = 0.0 if grid is None else grid.confidence
        result = _unchanged(img, confidence=confidence, flagged=confidence >= config.suspect_confidence)
    else:
        native, uniform = _sample_image(img, rgb, grid.x, grid.y)
        if uniform:  # every pixel equals its cell's colour: a lossless upscale
            residual = 0.0
        else:
            small = np.asarray(rgb_on_white(native))
            residual = _residual(rgb, small, grid.x.bounds, grid.y.bounds)
            if not lossless:
                grid, native, residual = _finer_cells(img, rgb, grid, native, residual)
        why = _grid_not_evidence(uniform, residual, native.size, lossless, config)
        if why:
            result = replace(_unchanged(img, confidence=grid.confidence, flagged=True), rejected_grid=why)
            if config.snap_colors:
                result = snap_result(result, config, lossy=False)
            return result
        result = NativeResult(
            image=native,
            scale=(grid.x.period, grid.y.period),
            phase=(grid.x.phase, grid.y.phase),
            confidence=grid.confidence,
            upscaled=True,
            boundaries=(tuple(int(v) for v in grid.x.bounds), tuple(int(v) for v in grid.y.bounds)),
            residual=residual,
        )
    residual = cell_residual(img, result) if result.upscaled else 0.0
    lossy = result.upscaled and (residual > config.lossless_max_residual if lossless is None else not lossless)
    if config.snap_colors:
        result = snap_result(result, config, lossy=result.upscaled and residual > 0)
    elif config.snap_lossy and lossy:
        result = snap_result(result, config, lossy=lossy)
    return result


#: a divisor of the cell is the grid when it leaves under this share of the cell's residual
HARMONIC_RESIDUAL = 0.4


def _finer_cells(img: Image.Image, rgb: np.ndarray, grid: Grid, native: Image.Image,
                 residual: float) -> tuple[Grid, Image.Image, float]:
    """In a lossy image a multiple of the true cell can fit the edges nearly as well (art whose
    edges fall mostly on every other cell: x12 found for x6). A divisor whose cells reproduce
    the image far better (residual under ``HARMONIC_RESIDUAL`` of the larger cell's, where JPEG
    noise alone changes it little) is the grid instead."""
    s = grid.x.period
    if s != grid.y.period or s != int(s) or s < 4:
        return grid, native, residual
    cur = int(s)
    for d in range(cur // 2, 1, -1):
        if cur % d:
            continue
        gx = GridAxis(period=float(d), phase=grid.x.phase % d, bounds=lattice_bounds(rgb.shape[1], d, grid.x.phase % d),
                      confidence=grid.x.confidence)
        gy = GridAxis(period=float(d), phase=grid.y.phase % d, bounds=lattice_bounds(rgb.shape[0], d, grid.y.phase % d),
                      confidence=grid.y.confidence)
        small, _ = _sample_image(img, rgb, gx, gy)
        r = _residual(rgb, np.asarray(rgb_on_white(small)), gx.bounds, gy.bounds)
        if r < HARMONIC_RESIDUAL * residual:
            grid, native, residual, cur = Grid(x=gx, y=gy), small, r, d
    return grid, native, residual


def _grid_not_evidence(uniform: bool, residual: float, size: tuple[int, int], lossless: bool | None,
                       config: NativeConfig) -> str:
    """Why a confident grid does not show a nearest-neighbour upscale ("" when it does)."""
    if uniform or residual == 0.0:
        return ""
    if lossless and residual > config.lossless_max_residual:
        return f"cells not uniform in a lossless file (residual {residual:.2f}): smooth resampling, not an upscale"
    if max(size) < config.min_cells:
        return f"only {size[0]}x{size[1]} cells: too few to be evidence of an upscale"
    return ""


def cell_residual(original: Image.Image, native: NativeResult) -> float:
    """Mean absolute difference between the input and its native image scaled back on the grid.

    Exactly 0 for a lossless nearest-neighbour upscale; JPEG noise leaves a few levels. 0 when
    no grid was applied (nothing to compare). ``recover_native`` measures it as it goes; this
    recomputes it only for results built elsewhere.
    """
    if native.boundaries is None:
        return 0.0
    if native.residual is not None:
        return native.residual
    bx, by = (np.asarray(b) for b in native.boundaries)
    big = np.asarray(composite_on_white(original))
    return _residual(big, np.asarray(composite_on_white(native.image)), bx, by)


def _residual(big: np.ndarray, small: np.ndarray, bx: np.ndarray, by: np.ndarray) -> float:
    """``cell_residual`` on RGB arrays: columns are widened on the small image first, so the
    full-size work is one row copy and one uint8 difference (no int16 copies of the input)."""
    back = _expand(small, bx, by)
    if back.shape != big.shape:
        return float("inf")
    if np.array_equal(back, big):
        return 0.0
    diff = np.maximum(back, big)
    diff -= np.minimum(back, big)
    return float(diff.sum(dtype=np.uint64)) / diff.size


def _expand(small: np.ndarray, bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """One value per cell back to full size on the grid (columns first: the small side is cheap)."""
    return np.repeat(np.repeat(small, np.diff(bx), axis=1), np.diff(by), axis=0)


def _unchanged(img: Image.Image, *, confidence: float, flagged: bool) -> NativeResult:
    return NativeResult(image=img, scale=(1.0, 1.0), phase=(0, 0), confidence=float(confidence), upscaled=False, flagged=flagged)


_MEDIAN_MODES = {"RGB", "RGBA", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "RGBX"}


def _sample_image(img: Image.Image, rgb: np.ndarray, gx: GridAxis, gy: GridAxis) -> tuple[Image.Image, bool]:
    """One pixel per cell, in the input's mode, and whether every cell is uniform.

    Cell centres come first: when they reproduce the whole input on the grid (any lossless
    upscale) they are the answer, and the residual is 0 without measuring it. Otherwise each
    cell takes the robust core median. Palette images keep their palette and tRNS.
    """
    arr = rgb if img.mode == "RGB" else np.asarray(img)
    cx = (gx.bounds[:-1] + gx.bounds[1:]) // 2
    cy = (gy.bounds[:-1] + gy.bounds[1:]) // 2
    out = np.ascontiguousarray(arr[np.ix_(cy, cx)])
    uniform = np.array_equal(_expand(out, gx.bounds, gy.bounds), arr)
    if img.mode in _MEDIAN_MODES:
        if not uniform:
            out = sample_cells(arr, gx.bounds, gy.bounds)
        native = Image.fromarray(out)  # Pillow infers the mode from shape and dtype
        return (native if native.mode == img.mode else Image.fromarray(out, img.mode)), uniform
    # indexed or packed modes: a median of palette indices means nothing, keep each cell's centre
    native = Image.fromarray(out, img.mode) if img.mode != "1" else Image.fromarray(out)
    if img.mode in ("P", "PA") and img.palette is not None:
        native.putpalette(img.getpalette())
    native.info = {k: v for k, v in img.info.items() if k in ("transparency", "background")}
    return native, uniform


# --------------------------------------------------------------------------- colour cleanup


@dataclass(frozen=True)
class SnapResult:
    image: Image.Image
    palette: np.ndarray  # (k, 3) uint8
    n_colors_before: int
    n_colors_after: int


#: a rare cluster joins a common colour up to this many times ``distance`` away
RARE_REACH = 2.0


def snap_colors(
    img: Image.Image, *, max_colors: int = 64, distance: float = 0.05, min_share: float = 0.01, seed: int = 0
) -> SnapResult:
    """Merge near-identical colours (JPEG noise) into a small palette, clustering in OKLab.

    Weighted k-means over the unique colours finds up to ``max_colors`` centres; centres closer
    than ``distance`` are merged (heaviest first); clusters holding less than ``min_share`` of the
    pixels join the nearest common cluster within ``RARE_REACH * distance``. Every pixel then
    takes its cluster's pixel-weighted median colour (the dominant colour itself when one colour
    holds most of the cluster). Alpha is kept; transparent pixels are left alone.
    """
    if img.mode not in ("RGB", "RGBA"):
        # palette and grey images are lossless: nothing to clean, and the mode must not change
        n = count_colors(img)
        return SnapResult(image=img, palette=np.zeros((0, 3), np.uint8), n_colors_before=n, n_colors_after=n)
    work = img
    arr = np.asarray(work)
    # transparent pixels hold arbitrary RGB: they neither vote nor change
    opaque = arr[..., 3] >= 128 if arr.shape[-1] == 4 else np.ones(arr.shape[:2], bool)
    rgb = arr[..., :3][opaque]
    if len(rgb) == 0:
        return SnapResult(image=img, palette=np.zeros((0, 3), np.uint8), n_colors_before=0, n_colors_after=0)
    colors, counts, inverse = unique_colors(rgb[None])
    before = len(colors)
    if before <= 1:
        return SnapResult(image=img, palette=colors, n_colors_before=before, n_colors_after=before)
    lab = srgb_to_oklab(colors)
    # pool colours into small OKLab bins first: JPEG noise makes thousands of colours that
    # fall into a few hundred bins, so k-means stays cheap
    key = np.floor(lab / (distance / 3.0)).astype(np.int64)
    _, bin_of = np.unique(key, axis=0, return_inverse=True)
    bin_of = bin_of.reshape(-1)
    bin_mass = np.bincount(bin_of, weights=counts)
    bin_lab = np.stack([np.bincount(bin_of, weights=lab[:, i] * counts) for i in range(3)], axis=1) / bin_mass[:, None]
    centres = kmeans(bin_lab, min(max_colors, len(bin_lab)), weights=bin_mass, seed=seed)
    label = nearest(bin_lab, centres)[bin_of]
    mass = np.bincount(label, weights=counts, minlength=len(centres))
    # merge centres closer than `distance`, heaviest first
    order = np.argsort(-mass, kind="stable")
    keep: list[int] = []
    remap = np.arange(len(centres))
    for i in order:
        if mass[i] <= 0:
            continue
        if keep:
            d = np.sqrt(((centres[keep] - centres[i]) ** 2).sum(1))
            j = int(np.argmin(d))
            if d[j] < distance:
                remap[i] = keep[j]
                continue
        keep.append(int(i))
    # rare clusters (JPEG bleed at cell edges, a few pixels each) join the nearest common colour
    # when it is not far; a rare colour far from everything (an eye highlight) survives
    total = float(mass.sum())
    kept_mass = np.array([mass[remap == c].sum() for c in keep])
    common = [c for c, m in zip(keep, kept_mass) if m >= min_share * total]
    if common:
        for c, m in zip(list(keep), kept_mass):
            if m >= min_share * total:
                continue
            d = np.sqrt(((centres[common] - centres[c]) ** 2).sum(1))
            j = int(np.argmin(d))
            if d[j] < RARE_REACH * distance:
                remap[remap == c] = common[j]
                keep.remove(c)
    cluster = remap[label]
    # representative: the pixel-weighted per-channel median of the cluster's colours, which is
    # the dominant colour itself whenever one colour holds most of the cluster
    rep = np.zeros((len(centres), 3), np.uint8)
    for c in keep:
        members = np.flatnonzero(cluster == c)
        for ch in range(3):
            order = members[np.argsort(colors[members, ch], kind="stable")]
            cum = np.cumsum(counts[order])
            rep[c, ch] = colors[order[np.searchsorted(cum, cum[-1] / 2.0)], ch]
    out = arr.copy()
    out[..., :3][opaque] = rep[cluster][inverse]
    snapped = Image.fromarray(out, work.mode)
    palette = rep[keep]
    return SnapResult(image=snapped, palette=palette, n_colors_before=before, n_colors_after=len(keep))


def snap_result(result: NativeResult, config: NativeConfig, lossy: bool = True) -> NativeResult:
    """Apply colour cleanup to a recovered image and record the colour counts.

    Only lossy input is changed: a lossless image (native art, a clean PNG upscale) keeps its
    exact pixels and only gets its colour count recorded, before = after.
    """
    if not lossy:
        n = count_colors(result.image)
        return replace(result, n_colors_before=n, n_colors_after=n)
    snapped = snap_colors(
        result.image, max_colors=config.snap_max_colors, distance=config.snap_distance, min_share=config.snap_min_share
    )
    return replace(
        result,
        image=snapped.image,
        n_colors_before=snapped.n_colors_before,
        n_colors_after=snapped.n_colors_after,
    )


__all__ = ["NativeConfig", "NativeResult", "SnapResult", "recover_native", "snap_colors", "snap_result"]

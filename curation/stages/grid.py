"""Grid maths for native-resolution recovery: edge profiles, lattice fits, cell sampling.

Everything here is vectorised numpy on small 1-D profiles or one pass over the image, so a
1024 px image costs a few milliseconds. The entry points are :func:`detect_grid` (where are the
cell boundaries?) and :func:`sample_cells` (one robust colour per cell).

Vocabulary: a *boundary* at position ``x`` sits between pixel columns ``x-1`` and ``x``. An axis
of ``n`` pixels has boundaries ``1..n-1``. A *lattice* is the set ``phase + k*period``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a multiple of the cell is accepted when its fit is at least this share of the best fit
HARMONIC_TOLERANCE = 0.9
#: integer fits below this are challenged by a fractional (non-integer scale) fit; JPEG'd
#: integer upscales score 0.7-0.9, non-integer resizes 0.2-0.5
FRACTIONAL_BELOW = 0.6


@dataclass(frozen=True)
class GridAxis:
    """The cells along one axis."""

    period: float  # mean cell size in input pixels (an integer for integer upscales)
    phase: int  # position of the first boundary of the lattice, in [0, period)
    bounds: np.ndarray  # cell edges including 0 and n, strictly increasing (n_cells + 1,)
    confidence: float  # 0 = no better than chance, 1 = every change lies on the lattice

    @property
    def n_cells(self) -> int:
        return len(self.bounds) - 1


@dataclass(frozen=True)
class Grid:
    x: GridAxis
    y: GridAxis

    @property
    def confidence(self) -> float:
        return min(self.x.confidence, self.y.confidence)


#: per-channel steps up to this size are ignored: JPEG (q85) noise and ringing stay below it,
#: while colours in a pixel-art palette differ by more
NOISE_FLOOR = 8
#: rows (columns) read for the column (row) profile of large images: enough to see every cell;
#: benchmarks/recovery.py stays at 100% scale and size down to 64, and 128 halves the cost of 512 px input
PROFILE_LINES = 128


def _squared_steps(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Sum over ``axis`` of squared uint8 steps above the noise floor, without widening copies."""
    d = np.maximum(a, b)
    d -= np.minimum(a, b)
    np.maximum(d, np.uint8(NOISE_FLOOR), out=d)
    d -= np.uint8(NOISE_FLOOR)
    f = d.reshape(d.shape[0], -1).astype(np.float32)  # d is a fresh contiguous array: free reshape
    return np.einsum("ij,ij->j", f, f) if axis == 0 else np.einsum("ij,ij->i", f, f)


def edge_profiles(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Change across every column boundary and every row boundary.

    ``ex[x]`` (length ``W+1``, zero at both ends) sums, over rows and channels, the squared
    step (less a small noise floor) between columns ``x-1`` and ``x``. The floor and the
    squaring let a few true edges outweigh many small JPEG ringing steps. Rows are read as flat ``W*3`` byte runs so every operation is contiguous.
    """
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    # a hundred-odd rows measure a column boundary as well as all of them (cells are >= 2 rows tall)
    rows = rgb[:: max(1, h // PROFILE_LINES)].reshape(-1, w * 3)
    ex = np.zeros(w + 1)
    ey = np.zeros(h + 1)
    ex[1:-1] = _squared_steps(rows[:, 3:], rows[:, :-3], axis=0).reshape(w - 1, 3).sum(1)
    flat = rgb.reshape(h, w * 3)
    step = w // PROFILE_LINES
    if step > 1:  # likewise a hundred-odd columns, in interleaved 16 px blocks (contiguous runs)
        n_blocks = w // 16
        flat = flat[:, : n_blocks * 48].reshape(h, n_blocks, 48)[:, ::step]
    ey[1:-1] = _squared_steps(flat[1:], flat[:-1], axis=1)
    return ex, ey


@dataclass(frozen=True)
class LatticeFits:
    """Integer lattice fits for one axis, indexed by cell size ``s`` (entries 0 and 1 unused)."""

    fit: np.ndarray  # chance-corrected share of change on the best lattice of size s
    phase: np.ndarray  # that lattice's phase
    n: int  # axis length
    total: float  # total change on the axis


def integer_fits(profile: np.ndarray, max_scale: int) -> LatticeFits:
    """Fold the profile modulo every cell size ``2..max_scale`` and score the best phase.

    ``fit = (share - 1/s) / (1 - 1/s)``: 0 when change is spread evenly (a photo, native art),
    1 when all of it lies on one lattice (nearest-neighbour upscale).
    """
    n = len(profile) - 1
    pos = np.arange(1, n)
    e = profile[1:n]
    total = float(e.sum())
    top = min(max_scale, n // 2)
    fit = np.zeros(max(top + 1, 2))
    phase = np.zeros(max(top + 1, 2), dtype=np.int64)
    if total <= 0:
        return LatticeFits(fit=fit, phase=phase, n=n, total=total)
    for s in range(2, top + 1):
        h = np.bincount(pos % s, weights=e, minlength=s)
        p = int(np.argmax(h))
        share = h[p] / total
        fit[s] = max(0.0, (share - 1.0 / s) / (1.0 - 1.0 / s))
        phase[s] = p
    return LatticeFits(fit=fit, phase=phase, n=n, total=total)


def _largest_good(fit: np.ndarray, sizes: np.ndarray) -> int:
    """Largest size whose fit is close to the best fit (multiples of the cell fit worse)."""
    best = fit[sizes].max()
    good = sizes[fit[sizes] >= HARMONIC_TOLERANCE * best]
    return int(good.max())


def lattice_bounds(n: int, period: int, phase: int) -> np.ndarray:
    """Cell edges of an integer lattice over ``n`` pixels, partial first/last cells included."""
    inner = np.arange(phase if phase > 0 else period, n, period)
    return np.concatenate([[0], inner, [n]]).astype(np.int64)


def _integer_axis(fits: LatticeFits, s: int) -> GridAxis:
    phase = int(fits.phase[s])
    return GridAxis(period=float(s), phase=phase, bounds=lattice_bounds(fits.n, s, phase), confidence=float(fits.fit[s]))


def fractional_axis(profile: np.ndarray, max_scale: int) -> GridAxis | None:
    """Fit a real-valued period to the edge profile, then snap every boundary onto it.

    Nearest-neighbour resizing by a non-integer factor ``P`` puts boundaries at ``round(c + k*P)``:
    cells of uneven width (2, 3, 2, 3, ... for ``P = 2.5``). The power spectrum of the profile
    (zero-padded FFT) peaks at ``1/P`` and its harmonics; as for integer cells we take the longest
    period whose peak is close to the best, refine it, and move each predicted boundary by at
    most one pixel onto the strongest nearby change.
    """
    n = len(profile) - 1
    e = profile[1:n]
    total = float(e.sum())
    top = min(float(max_scale), n / 3.0)
    if total <= 0 or top <= 2.0:
        return None
    x = np.arange(1, n, dtype=np.float64)
    size = 1 << min(18, int(np.ceil(np.log2(max(64 * n, 4096)))))  # period resolution ~P*P/size
    power = np.abs(np.fft.rfft(e, size)) / total
    freq = np.arange(len(power)) / size
    band = (freq >= 1.0 / top) & (freq <= 0.5)
    if not band.any():
        return None
    idx = np.flatnonzero(band)
    p = power[idx]
    local = np.r_[False, (p[1:-1] >= p[:-2]) & (p[1:-1] >= p[2:]), False]
    if not local.any():
        return None
    best = p[local].max()
    peaks = idx[local & (p >= HARMONIC_TOLERANCE * best)]
    period = 1.0 / freq[peaks.min()]
    # refine: the exact concentration on a fine grid around the spectral peak
    width = 2.0 * period * period / size + 1e-4
    fine = np.linspace(period - width, period + width, 41)
    strong = e >= 0.01 * e.max()
    xs, ws = x[strong], e[strong]
    angle = 2.0 * np.pi * xs[None, :] / fine[:, None]
    c_sum = (np.cos(angle) * ws).sum(1)
    s_sum = (np.sin(angle) * ws).sum(1)
    k = int(np.argmax(np.hypot(c_sum, s_sum)))
    period = float(fine[k])
    offset = (np.arctan2(s_sum[k], c_sum[k]) / (2.0 * np.pi) * period) % period
    pred = np.round(offset + period * np.arange(0, int(n / period) + 2)).astype(np.int64)
    pred = pred[(pred >= 1) & (pred <= n - 1)]
    if len(pred) == 0:
        return None
    # snap each predicted boundary to the strongest change within one pixel
    cand = np.clip(pred[:, None] + np.array([0, -1, 1])[None, :], 1, n - 1)
    inner = np.unique(cand[np.arange(len(cand)), np.argmax(profile[cand], axis=1)])
    bounds = np.concatenate([[0], inner, [n]]).astype(np.int64)
    share = float(profile[inner].sum()) / total
    chance = min(len(inner) / max(n - 1, 1), 0.999)
    confidence = max(0.0, (share - chance) / (1.0 - chance))
    phase = int(inner[0]) if inner[0] < period else 0
    return GridAxis(period=period, phase=phase, bounds=bounds, confidence=confidence)


def detect_grid(rgb: np.ndarray, max_scale: int = 16, fractional: bool = True) -> Grid | None:
    """Best cell grid of an RGB image (composited on white), or ``None`` if it has no edges.

    Square cells are preferred: when one axis's best cell also fits the other axis nearly as well
    as that axis's own best, it is used for both, so a coincidence on one axis cannot double its
    cell. Otherwise each axis keeps its own cell (non-square pixels, e.g. 4x6).
    """
    ex, ey = edge_profiles(rgb)
    fx, fy = integer_fits(ex, max_scale), integer_fits(ey, max_scale)
    if fx.total <= 0 and fy.total <= 0:
        return None
    if fx.total <= 0 or fy.total <= 0:
        # change along one axis only (stripes): that axis decides, the other follows it
        known, flat_n, known_is_x = (fx, fy.n, True) if fx.total > 0 else (fy, fx.n, False)
        sizes = np.arange(2, len(known.fit))
        if len(sizes) == 0:
            return None
        s = _largest_good(known.fit, sizes)
        axis = _integer_axis(known, s)
        flat = GridAxis(period=float(s), phase=0, bounds=lattice_bounds(flat_n, s, 0), confidence=axis.confidence)
        return Grid(x=axis, y=flat) if known_is_x else Grid(x=flat, y=axis)
    top = min(len(fx.fit), len(fy.fit))
    if top <= 2:
        return None
    sizes = np.arange(2, top)
    joint = np.minimum(fx.fit[:top], fy.fit[:top])
    s_sq = _largest_good(joint, sizes)
    s_x = _largest_good(fx.fit, np.arange(2, len(fx.fit)))
    s_y = _largest_good(fy.fit, np.arange(2, len(fy.fit)))
    per_axis = min(fx.fit[s_x], fy.fit[s_y])
    # square cells win when one axis's own choice agrees with them (the other axis then only
    # fitted a multiple by coincidence); a common divisor of two different cells does not
    if s_sq in (s_x, s_y) and joint[s_sq] >= HARMONIC_TOLERANCE * per_axis:
        grid = Grid(x=_integer_axis(fx, s_sq), y=_integer_axis(fy, s_sq))
    else:
        grid = Grid(x=_integer_axis(fx, s_x), y=_integer_axis(fy, s_y))
    if fractional and grid.confidence < FRACTIONAL_BELOW:
        grid = _try_fractional(grid, ex, ey, max_scale)
    return grid


def _try_fractional(grid: Grid, ex: np.ndarray, ey: np.ndarray, max_scale: int) -> Grid:
    """Replace a weak integer fit per axis by a fractional one when that explains clearly more."""
    axes = []
    for axis, profile in ((grid.x, ex), (grid.y, ey)):
        frac = fractional_axis(profile, max_scale) if axis.confidence < FRACTIONAL_BELOW else None
        if frac is not None and frac.confidence > axis.confidence + 0.1 and abs(frac.period - round(frac.period)) > 0.02:
            axes.append(frac)
        else:
            axes.append(axis)
    return Grid(x=axes[0], y=axes[1])


def _core_samples(bounds: np.ndarray, max_samples: int) -> np.ndarray:
    """``(n_cells, k)`` pixel positions inside each cell's core (a quarter of the cell trimmed
    from each side), so JPEG ringing at cell edges does not vote."""
    start = bounds[:-1]
    width = np.diff(bounds)
    margin = width // 4
    length = np.maximum(width - 2 * margin, 1)
    k = int(max(1, min(max_samples, int(np.median(length)))))
    j = np.arange(k)
    return start[:, None] + margin[:, None] + ((j[None, :] + 0.5) * length[:, None] / k).astype(np.int64)


def _median3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def _lower_median(samples: list[np.ndarray]) -> np.ndarray:
    """Element-wise lower median of equally shaped arrays (the ninther for 3x3 samples)."""
    n = len(samples)
    if n == 1:
        return samples[0]
    if n == 4:
        a, b, c, d = samples
        return np.minimum(np.maximum(np.minimum(a, b), np.minimum(c, d)), np.minimum(np.maximum(a, b), np.maximum(c, d)))
    if n == 9:  # Tukey's ninther: the median of three row medians, always one of the samples
        return _median3(*(_median3(*samples[i : i + 3]) for i in (0, 3, 6)))
    mid = (n - 1) // 2
    return np.partition(np.stack(samples), mid, axis=0)[mid]


def sample_cells(arr: np.ndarray, bx: np.ndarray, by: np.ndarray, max_samples: int = 3) -> np.ndarray:
    """One value per cell: the per-channel lower median of up to ``max_samples`` squared core pixels.

    The lower median is always a value that occurs in the cell, so lossless input comes back
    exactly and alpha stays 0 or 255.
    """
    xs = _core_samples(bx, max_samples)
    ys = _core_samples(by, max_samples)
    h, w = arr.shape[:2]
    flat = np.ascontiguousarray(arr).reshape(h * w, *arr.shape[2:])
    shape = (ys.shape[0], xs.shape[0], *arr.shape[2:])
    samples = [
        np.take(flat, (ys[:, j, None] * w + xs[None, :, i]).reshape(-1), axis=0).reshape(shape)  # take: 5x faster than 2-D fancy indexing
        for j in range(ys.shape[1])
        for i in range(xs.shape[1])
    ]
    return np.ascontiguousarray(_lower_median(samples))

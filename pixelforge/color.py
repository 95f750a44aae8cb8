"""Colour math shared by the stages: curation (JPEG colour cleanup), inference (palettes, thin lines) and training.

OKLab is a perceptual space: Euclidean distance there tracks how different two colours look,
which is what palette clustering and palette mapping need.
"""

from __future__ import annotations

import numpy as np


def oklab_matrices() -> tuple[np.ndarray, np.ndarray]:
    """OKLab's two matrices (linear sRGB -> LMS, cube-rooted LMS -> Lab), for code that converts in another array
    library (training's losses, in torch) and must agree with :func:`srgb_to_oklab`."""
    return _M1.copy(), _M2.copy()


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)


def lightness_levels() -> np.ndarray:
    """8-bit sRGB luma -> perceptual lightness in whole levels 0..255, ``(256,)`` int: the cube root of linear light
    (OKLab's L for greys), rounded. One table for the classical path's thin lines and training's line targets, so
    both find the same feature pixels."""
    c = np.arange(256) / 255.0
    return np.round(np.cbrt(_srgb_to_linear(c)) * 255).astype(int)


_M1 = np.array(
    [[0.4122214708, 0.5363325363, 0.0514459929], [0.2119034982, 0.6806995451, 0.1073969566], [0.0883024619, 0.2817188376, 0.6299787005]]
)
_M2 = np.array(
    [[0.2104542553, 0.7936177850, -0.0040720468], [1.9779984951, -2.4285922050, 0.4505937099], [0.0259040371, 0.7827717662, -0.8086757660]]
)


_M1_INV, _M2_INV = np.linalg.inv(_M1), np.linalg.inv(_M2)


def srgb_to_oklab(rgb: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """uint8 (or 0..255 float) sRGB array ``(..., 3)`` to OKLab ``(..., 3)`` (float32 for whole frames: ~2x faster)."""
    lin = _srgb_to_linear(np.asarray(rgb, dtype=dtype) / dtype(255.0))
    lms = np.cbrt(lin @ _M1.T.astype(dtype))
    return lms @ _M2.T.astype(dtype)


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab ``(..., 3)`` back to uint8 sRGB, clipped to the gamut (computed in ``lab``'s float precision)."""
    lab = np.asarray(lab)
    if lab.dtype != np.float32:
        lab = lab.astype(np.float64)
    lms = lab @ _M2_INV.T.astype(lab.dtype)
    lin = (lms**3) @ _M1_INV.T.astype(lab.dtype)
    return np.clip(np.round(_linear_to_srgb(lin) * 255.0), 0, 255).astype(np.uint8)


def mean_delta_e_ok(a: np.ndarray, b: np.ndarray) -> float:
    """Mean OKLab distance x100 of two same-shaped 0..255 sRGB arrays (about 2 is just noticeable)."""
    a = np.clip(np.asarray(a, dtype=np.float64), 0, 255)
    b = np.clip(np.asarray(b, dtype=np.float64), 0, 255)
    return float(np.sqrt(((srgb_to_oklab(a) - srgb_to_oklab(b)) ** 2).sum(-1)).mean() * 100)


def nearest(points: np.ndarray, centers: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest centre for each point (squared Euclidean), in bounded memory."""
    out = np.empty(len(points), dtype=np.int64)
    c2 = (centers**2).sum(1)
    for start in range(0, len(points), chunk):
        p = points[start : start + chunk]
        d = c2[None, :] - 2.0 * p @ centers.T
        out[start : start + chunk] = d.argmin(1)
    return out


def kmeans(
    points: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    iters: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """Deterministic weighted k-means (k-means++ init); returns at most ``k`` centres.

    Pass unique colours with their pixel counts as ``weights``: clustering a 1080p photo then
    costs a few thousand points, not two million.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if n == 0:
        raise ValueError("kmeans needs at least one point")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if n <= k:
        return points.copy()
    rng = np.random.default_rng(seed)
    centers = [points[int(np.argmax(w))]]
    d2 = ((points - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        prob = d2 * w
        total = prob.sum()
        if total <= 0:
            break
        idx = int(rng.choice(n, p=prob / total))
        centers.append(points[idx])
        d2 = np.minimum(d2, ((points - points[idx]) ** 2).sum(1))
    c = np.array(centers)
    for _ in range(iters):
        label = nearest(points, c)
        sums = np.zeros_like(c)
        np.add.at(sums, label, points * w[:, None])
        mass = np.bincount(label, weights=w, minlength=len(c))
        keep = mass > 0
        new = c.copy()
        new[keep] = sums[keep] / mass[keep, None]
        if np.allclose(new, c, atol=1e-7):
            c = new
            break
        c = new
    return c


def unique_colors(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique colours of an ``(H, W, 3)`` uint8 image: (colours, counts, inverse index)."""
    flat = np.ascontiguousarray(rgb.reshape(-1, 3)).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    keys, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    colors = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1).astype(np.uint8)
    return colors, counts, inverse.reshape(-1)


_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])  # D65


def srgb_to_cielab(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``(..., 3)`` (0..255) to CIELAB (D65) float64: the space CIEDE2000 is defined on."""
    xyz = (_srgb_to_linear(np.asarray(rgb, dtype=np.float64) / 255.0) @ _XYZ.T) / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_C26, _S26 = np.cos(np.radians(26)), np.sin(np.radians(26))


def srgb_to_din99o(rgb: np.ndarray) -> np.ndarray:
    """sRGB ``(..., 3)`` (0..255) to DIN99o (DIN 6176): CIELAB with lightness and chroma log-compressed.

    Euclidean distance here tracks CIEDE2000 closely (correlation ~0.98 for small differences,
    against ~0.8 for OKLab), which matters for palettes: OKLab under-counts chroma between
    near-neutral colours (a skin tone against a grey is 0.05 OKLab but 11 CIEDE2000), so a
    palette fitted there happily paints a face grey.
    """
    lab = srgb_to_cielab(rgb)
    e = lab[..., 1] * _C26 + lab[..., 2] * _S26
    f = 0.83 * (lab[..., 2] * _C26 - lab[..., 1] * _S26)
    chroma = np.log1p(0.075 * np.hypot(e, f)) / 0.0435
    hue = np.arctan2(f, e) + np.radians(26)
    return np.stack([303.67 * np.log1p(0.0039 * lab[..., 0]), chroma * np.cos(hue), chroma * np.sin(hue)], -1)

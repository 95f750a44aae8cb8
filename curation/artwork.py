"""Is a hash-neighbour pair the same artwork? Confirmed at native size, after the background step.

Hashes only find candidates: two animation frames or two recolours can hash alike. A pair merges
when its native images are the same drawing re-encoded (lossy noise), rescaled by an integer,
re-cropped, or composited on another background (a key-colour copy of a sprite on transparency:
its anti-aliased or semi-transparent edge pixels were blended with the key colour, not with white).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

from pixelforge.imaging import not_white

#: a re-crop keeps at least this share of each side (a smaller exact piece is a part, not a re-crop)
MIN_CROP = 0.75


def _trim_white(arr: np.ndarray) -> np.ndarray:
    """The image without its white margin (a sprite and its re-crop, or its key-colour copy, align)."""
    ink = not_white(arr)
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    if len(rows) == 0:
        return arr
    return arr[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _close(a: np.ndarray, b: np.ndarray, tolerance: int, max_share: float, shape_only: bool) -> bool:
    """Equal up to ``tolerance`` per channel on all but ``max_share`` of the art's pixels (tolerance 0:
    exactly equal; a lossless pair has no noise to forgive, so one changed pixel is another frame)."""
    ink_a, ink_b = not_white(a), not_white(b)
    ink = ink_a | ink_b
    n_ink = max(int(ink.sum()), 1)
    if shape_only:  # a recolour: the same silhouette, any palette
        return int((ink_a != ink_b).sum()) <= max_share * n_ink
    if tolerance == 0:
        return bool(np.array_equal(a, b))
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(-1)
    return int((diff > tolerance).sum()) <= max_share * n_ink


#: a blended pixel is rounded per channel: this far off the line from white to the key colour still lies on it
BLEND_SLACK = 3
#: at most this share of the art may differ by the background it was blended with
MAX_BLEND_SHARE = 0.3


def on_other_background(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two equal-sized images are one drawing composited on two backgrounds: one on white
    (transparency composited), one on a key colour K whose border-connected fill became white.

    Every pixel that differs is then a blend ``alpha * art + (1 - alpha) * background``, so the
    difference is ``(1 - alpha) * (white - K)``: one direction for every differing pixel, one sign,
    at most the full step where the white copy shows background (a hole between arm and body, a
    notch at a corner: there the other copy shows K itself). And each differing region is background
    or touches it: the semi-transparent rim of the figure. A recolour moves palette colours in
    several directions, or inside the figure; another frame moves pixels anywhere.
    """
    d = a.astype(np.int16) - b.astype(np.int16)
    diff = (d != 0).any(-1)
    if not diff.any():
        return True
    dd = d[diff]
    if (dd <= 0).all():  # a is the copy on the key colour: flip so that white - key is positive
        white, d, dd = b, -d, -dd
    elif (dd >= 0).all():
        white = a
    else:
        return False
    ink = not_white(a) | not_white(b)
    if diff.sum() > MAX_BLEND_SHARE * max(int(ink.sum()), 1):
        return False
    bg = ~not_white(white)
    full = diff & bg  # background on the white copy, the key colour itself on the other
    steps = d[full]
    if len(steps):
        if not (steps == steps[0]).all():
            return False  # holes of several colours: not one key colour
        key = (white[full][0].astype(np.int16) - steps[0]).astype(np.uint8)
        if ((white - d) == key).all(-1)[~diff].any():
            return False  # that colour is also art where both agree: pixels added to the figure, not its background
    v = (steps[0] if len(steps) else dd[np.argmax(dd.sum(1))]).astype(np.float64)
    norm = float(np.linalg.norm(v))
    if norm == 0:
        return False
    u = v / norm
    along = dd @ u
    off = np.abs(dd - along[:, None] * u).max(1)
    if (off > BLEND_SLACK).any() or (along <= 0).any() or (along > norm + BLEND_SLACK).any():
        return False
    # each differing region is background on the white copy or touches it (8-neighbourhood)
    labels, n = ndimage.label(diff, structure=np.ones((3, 3), bool))
    touching = np.unique(labels[ndimage.binary_dilation(bg, structure=np.ones((3, 3), bool)) & diff])
    return len(set(touching.tolist()) - {0}) == n


def same_artwork(a: np.ndarray, b: np.ndarray, *, tolerance: int = 40, max_share: float = 0.03,
                 merge_recolors: bool = False, backgrounds_differ: bool = False, trimmed: bool = False) -> str:
    """How two native images (RGB on white) are the same artwork: "same", "rescale", "crop",
    "background" (see :func:`on_other_background`), "recolour", or "" when they are not (another
    animation frame, another palette, another picture).

    White margins are trimmed first, so a sprite, its tight crop and its copy on a key colour
    (now white) align. Sizes must then agree exactly, or by an integer factor (one native image
    was not recovered: compared on every k-th pixel), or one must lie inside the other (a crop).
    Pixels must agree up to ``tolerance`` on all but ``max_share`` of the art (pass tolerance 0
    when both are lossless: then they must be equal). ``backgrounds_differ``: the two were made white
    from different background kinds (transparency and a key colour), so their rims may differ by the
    background they were blended with (:func:`on_other_background`). ``trimmed``: both already come
    without their white margins (:class:`NativeConfirm` trims each image once, not once per pair).
    """
    if not trimmed:
        a, b = _trim_white(a), _trim_white(b)
    if a.shape[0] * a.shape[1] < b.shape[0] * b.shape[1]:
        a, b = b, a  # a is the larger
    checks = [(False, "same")] + ([(True, "recolour")] if merge_recolors else [])
    if a.shape == b.shape:
        how = next((name for shape_only, name in checks if _close(a, b, tolerance, max_share, shape_only)), "")
        return how or ("background" if backgrounds_differ and on_other_background(a, b) else "")
    (ha, wa), (hb, wb) = a.shape[:2], b.shape[:2]
    if hb and wb and ha % hb == 0 and wa % wb == 0 and ha // hb == wa // wb:
        k = ha // hb
        small = a[k // 2 :: k, k // 2 :: k]
        if _close(small, b, tolerance, max_share, False):
            return "rescale"
    if hb <= ha and wb <= wa and min(hb / ha, wb / wa) >= MIN_CROP and (ha - hb + 1) * (wa - wb + 1) <= 4096:
        for y, x in _crop_candidates(a, b, tolerance):
            if _close(a[y:y + hb, x:x + wb], b, tolerance, max_share, False):
                return "crop"
    return ""


def _crop_candidates(a: np.ndarray, b: np.ndarray, tolerance: int, probes: int = 24) -> list[tuple[int, int]]:
    """Offsets where ``b`` may sit inside ``a``: every offset is tested at once on a few of b's ink pixels,
    and only offsets where most of them agree get the full comparison (a crop search was the slowest step
    of curating the LPC sheets: thousands of offsets per candidate pair, each a full-image compare)."""
    (ha, wa), (hb, wb) = a.shape[:2], b.shape[:2]
    ys, xs = np.nonzero(not_white(b))
    if len(ys) == 0:
        ys, xs = np.array([0]), np.array([0])
    pick = np.linspace(0, len(ys) - 1, min(probes, len(ys))).astype(int)
    py, px = ys[pick], xs[pick]
    oy, ox = np.mgrid[0:ha - hb + 1, 0:wa - wb + 1]
    oy, ox = oy.ravel(), ox.ravel()
    got = a[oy[:, None] + py[None, :], ox[:, None] + px[None, :]].astype(np.int16)  # (offsets, probes, 3)
    diff = np.abs(got - b[py, px].astype(np.int16)[None]).max(-1)
    # the full check allows max_share of the art to differ; let a quarter of the probes miss
    good = (diff > tolerance).sum(1) <= len(py) // 4
    return [(int(y), int(x)) for y, x in zip(oy[good], ox[good])]


class NativeConfirm:
    """``confirm(i, j)`` for :func:`deduplicate`: loads each item's native PNG once (``load(i)``)."""

    def __init__(self, load: Callable[[int], bytes], *, lossy: Callable[[int], bool] | None = None,
                 source: Callable[[int], str] | None = None, background: Callable[[int], str] | None = None,
                 tolerance: int = 40, max_share: float = 0.03, merge_recolors: bool = False) -> None:
        self.load = load
        self.lossy = lossy or (lambda i: True)
        self.source = source  # items cut from one file (frames of a sheet) are never near duplicates
        self.background = background  # each item's background kind ("alpha", "border", ...)
        self.kw = {"tolerance": tolerance, "max_share": max_share, "merge_recolors": merge_recolors}
        self.arrays: dict[int, np.ndarray] = {}
        self.decisions: dict[tuple[int, int], str] = {}

    def array(self, i: int) -> np.ndarray:
        """Item ``i``'s native image without its white margin (decoded and trimmed once)."""
        if i not in self.arrays:
            with Image.open(io.BytesIO(self.load(i))) as img:
                self.arrays[i] = _trim_white(np.asarray(img.convert("RGB")))
        return self.arrays[i]

    def __call__(self, i: int, j: int) -> bool:
        if self.source is not None and self.source(i) == self.source(j):
            self.decisions[(i, j)] = ""
            return False
        kw = dict(self.kw)
        if not (self.lossy(i) or self.lossy(j)):
            kw["tolerance"] = 0
        if self.background is not None and self.background(i) != self.background(j):
            kw["backgrounds_differ"] = True
        how = same_artwork(self.array(i), self.array(j), trimmed=True, **kw)
        self.decisions[(i, j)] = how
        return bool(how)

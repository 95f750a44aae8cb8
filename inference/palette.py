"""Palettes: k colours fitted by k-means in OKLab, a named retro palette, or a Lospec file.

A palette is always a small ``(n, 3)`` uint8 array. Fitting and mapping happen in OKLab
(:mod:`pixelforge.color`) because distance there tracks what people see: a 16-colour palette
fitted in sRGB wastes entries on dark blues nobody can tell apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelforge.color import kmeans, nearest, oklab_to_srgb, srgb_to_din99o, srgb_to_oklab

#: The article's rule: 16 colours unless told otherwise.
DEFAULT_COLORS = 16
#: Most colours in any palette, fitted or from a file (pixel art uses far fewer; search cost grows with it).
MAX_COLORS = 256
#: Largest palette file read: 256 named colours fit in a few kilobytes.
MAX_PALETTE_FILE_BYTES = 1 << 20
#: Distances computed at once by :func:`nearest_color` (points x colours): 4 M float64 = 32 MB.
_NEAREST_BUDGET = 1 << 22


class PaletteError(ValueError):
    """A palette argument or file that cannot be used; the message says why."""


def _hex_list(text: str) -> np.ndarray:
    return np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in text.split()], dtype=np.uint8)


# The 16 RGBI colours of CGA, which EGA uses as its default 16-colour palette.
_EGA = "000000 0000AA 00AA00 00AAAA AA0000 AA00AA AA5500 AAAAAA 555555 5555FF 55FF55 55FFFF FF5555 FF55FF FFFF55 FFFFFF"
_PICO8 = "000000 1D2B53 7E2553 008751 AB5236 5F574F C2C3C7 FFF1E8 FF004D FFA300 FFEC27 00E436 29ADFF 83769C FF77A8 FFCCAA"
# The original DMG screen's four greens, darkest first.
_GAMEBOY = "0F380F 306230 8BAC0F 9BBC0F"
# The widely used NES (2C02) palette; the repeated blacks of the 64-entry table are dropped.
_NES = """
7C7C7C 0000FC 0000BC 4428BC 940084 A80020 A81000 881400 503000 007800 006800 005800 004058 000000
BCBCBC 0078F8 0058F8 6844FC D800CC E40058 F83800 E45C10 AC7C00 00B800 00A800 00A844 008888
F8F8F8 3CBCFC 6888FC 9878F8 F878F8 F85898 F87858 FCA044 F8B800 B8F818 58D854 58F898 00E8D8 787878
FCFCFC A4E4FC B8B8F8 D8B8F8 F8B8F8 F8A4C0 F0D0B0 FCE0A8 F8D878 D8F878 B8F8B8 B8F8D8 00FCFC F8D8F8
"""

NAMED_PALETTES: dict[str, np.ndarray] = {
    "ega": _hex_list(_EGA),
    "cga": _hex_list(_EGA),
    "pico8": _hex_list(_PICO8),
    "gameboy": _hex_list(_GAMEBOY),
    "nes": _hex_list(_NES),
}
_ALIASES = {"cga16": "cga", "ega16": "ega", "pico-8": "pico8", "gb": "gameboy", "game-boy": "gameboy", "dmg": "gameboy"}


@dataclass(frozen=True)
class PaletteSpec:
    """What ``--palette`` asked for: ``k`` colours to fit per image/video, or fixed ``colors``."""

    name: str
    k: int | None = None
    colors: np.ndarray | None = None

    @property
    def fixed(self) -> bool:
        return self.colors is not None

    def describe(self) -> str:
        if self.colors is not None:
            return f"{self.name} ({len(self.colors)} colours)"
        return f"{self.k} colours fitted by k-means in OKLab"


def parse_hex(text: str, *, source: str = "palette") -> np.ndarray:
    """Lospec ``.hex``: one ``RRGGBB`` (optionally ``#RRGGBB``) per line; blank lines and ``;``/``//`` comments ignored."""
    colors = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";")[0].split("//")[0].strip().lstrip("#")
        if not line:
            continue
        if not re.fullmatch(r"[0-9a-fA-F]{6}([0-9a-fA-F]{2})?", line):
            raise PaletteError(f"{source}: line {lineno}: expected RRGGBB, got {raw.strip()!r}")
        colors.append([int(line[i : i + 2], 16) for i in (0, 2, 4)])
    return _validated(colors, source)


def parse_gpl(text: str, *, source: str = "palette") -> np.ndarray:
    """GIMP ``.gpl``: a ``GIMP Palette`` header, optional ``Name:``/``Columns:``, then ``R G B [name]`` rows."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise PaletteError(f"{source}: not a GIMP palette (first line must be 'GIMP Palette')")
    colors = []
    for lineno, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        if not line or line.startswith("#") or re.match(r"^(Name|Columns)\s*:", line):
            continue
        parts = line.split()
        try:
            rgb = [int(p) for p in parts[:3]]
        except ValueError:
            raise PaletteError(f"{source}: line {lineno}: expected 'R G B name', got {line!r}") from None
        if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
            raise PaletteError(f"{source}: line {lineno}: expected three values 0-255, got {line!r}")
        colors.append(rgb)
    return _validated(colors, source)


def _validated(colors: list[list[int]], source: str) -> np.ndarray:
    if not colors:
        raise PaletteError(f"{source}: no colours found")
    arr = np.array(colors, dtype=np.uint8)
    # Keep the file's order but drop repeats: duplicates only slow nearest-colour search.
    _, first = np.unique(arr, axis=0, return_index=True)
    arr = arr[np.sort(first)]
    if len(arr) > MAX_COLORS:
        raise PaletteError(f"{source}: {len(arr)} distinct colours; a palette has at most {MAX_COLORS} (MAX_COLORS)")
    return arr


def nearest_color(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """:func:`pixelforge.color.nearest` in chunks sized by the palette, so memory stays ~32 MB for any palette."""
    return nearest(points, centers, chunk=max(1, _NEAREST_BUDGET // max(1, len(centers))))


def load_palette_file(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PALETTE_FILE_BYTES:
            raise PaletteError(f"{path}: {size} bytes; palette files are at most {MAX_PALETTE_FILE_BYTES} bytes "
                               f"({MAX_COLORS} colours fit in a few kilobytes)")
        with path.open("rb") as fh:
            text = fh.read(MAX_PALETTE_FILE_BYTES + 1).decode("utf-8", errors="replace")
    except OSError as exc:
        raise PaletteError(f"cannot read palette file {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".gpl":
        return parse_gpl(text, source=str(path))
    return parse_hex(text, source=str(path))


def resolve_palette(spec: str | int) -> PaletteSpec:
    """Turn ``--palette`` (``16``, ``pico8``, ``my.hex``, ``my.gpl``) into a :class:`PaletteSpec`."""
    text = str(spec).strip()
    if text.isdigit():
        k = int(text)
        if not 2 <= k <= MAX_COLORS:
            raise PaletteError(f"--palette {k}: the number of colours must be between 2 and {MAX_COLORS}")
        return PaletteSpec(name=f"{k} colours", k=k)
    key = _ALIASES.get(text.lower(), text.lower())
    if key in NAMED_PALETTES:
        return PaletteSpec(name=key, colors=NAMED_PALETTES[key])
    if text.lower().endswith((".hex", ".gpl", ".txt")) or Path(text).exists():
        return PaletteSpec(name=Path(text).name, colors=load_palette_file(text))
    names = ", ".join(sorted(NAMED_PALETTES))
    raise PaletteError(f"--palette {text!r}: expected a number of colours, one of {names}, or a .hex/.gpl file")


def fit_palette(
    rgb: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    seed: int = 0,
    key_colors: bool = True,
    region: np.ndarray | None = None,
) -> np.ndarray:
    """``k`` representative colours of ``(..., 3)`` pixels, by weighted k-means in OKLab.

    Colours are binned first and the bins clustered with their pixel counts as weights, so the
    cost depends on how many distinct colours there are, not on the image size. ``weights`` (same leading shape as ``rgb``)
    lets transparent cells count for nothing. k-means alone spends entries by pixel count, so a
    face or a white stripe loses to shades of a large background; ``key_colors`` then trades
    entries for the colours of distinct regions nothing represents (:func:`keep_key_colors`);
    ``region`` (per pixel, e.g. :func:`inference.postprocess.importance`) weighs how much each
    pixel belongs to a region rather than a blend, and how much it stands out, so blends across
    edges never become key colours and small contrasting spots (an eye) count for more than their area.
    """
    flat = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).reshape(-1, 3))
    w = np.ones(len(flat)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    r = np.ones(len(flat)) if region is None else np.asarray(region, dtype=np.float64).reshape(-1)
    flat, r, w = flat[w > 0], r[w > 0], w[w > 0]
    if len(flat) == 0:
        return np.array([[255, 255, 255]], dtype=np.uint8)
    points, mass, inverse = _binned_colors(flat, w)
    lab = srgb_to_oklab(points)
    centers = kmeans(lab, k, weights=mass, seed=seed)
    if key_colors and len(lab) > k:
        regional = np.bincount(inverse, weights=w * r, minlength=len(mass))
        centers = keep_key_colors(lab, srgb_to_din99o(points), mass, centers, regional)
    palette = oklab_to_srgb(centers)
    # Two centres can round to the same sRGB triple; keep each colour once, in fitted order.
    _, first = np.unique(palette, axis=0, return_index=True)
    return palette[np.sort(first)]


#: DIN99o distance (about 1.2 CIEDE2000 units here) beyond which a colour counts as unrepresented:
#: about where a skin tone starts to read as grey, or a gold as beige.
KEY_DE = 9.0
#: ... or this many times the palette's mean error, when fewer entries leave everything farther off.
KEY_TYPICAL = 2.0
#: Unrepresented colours within this DIN99o distance of a seed form one group (one region's shades).
KEY_GROUP_DE = 10.0
#: A group must weigh at least this share of the cells (and at least KEY_MIN_CELLS of them).
KEY_MIN_SHARE = 0.0008
KEY_MIN_CELLS = 3.0
#: At most this many entries change hands, so gradients keep most of their shades.
KEY_MAX_SWAPS = 6
#: A swap must help the group by this much more (DIN99o) than it costs the entry's own colours.
KEY_MARGIN = 1.0


def keep_key_colors(
    lab: np.ndarray,
    din: np.ndarray,
    mass: np.ndarray,
    centers: np.ndarray,
    regional: np.ndarray | None = None,
) -> np.ndarray:
    """Trade palette entries for distinct colours nothing represents: allocation by error, not pixel count.

    k-means (``lab`` and ``centers`` in OKLab) places entries by pixel count, so a grey backdrop
    gets five shades while a face, hair, an eye or a flag's blue gets none. Whether a colour is
    represented is judged in DIN99o (``din``), whose distances follow CIEDE2000 and so see that a
    skin tone is not a grey (OKLab calls them close). Each round, the unrepresented group of
    colours with the largest error times square root of weight (heavy enough to be a region, not
    noise) takes the entry whose own colours would suffer least, on average, moving to their next
    entry, provided that is clearly less than the group suffers now; among such entries the one
    costing least in squared error goes (a shade of a gradient, whose neighbours stand in for it).
    The number of entries never changes. ``regional`` is each colour's weight: the cells that lie
    in regions rather than blends across edges, raised by salience (local contrast).
    """
    centers = np.array(centers, dtype=np.float64)
    if len(centers) < 2:
        return centers
    regional = mass if regional is None else regional
    min_mass = max(KEY_MIN_CELLS, KEY_MIN_SHARE * float(mass.sum()))
    protected = np.zeros(len(centers), dtype=bool)
    rows = np.arange(len(lab))
    limit = None
    for _ in range(min(len(centers) - 1, KEY_MAX_SWAPS)):
        pal = srgb_to_din99o(oklab_to_srgb(centers))
        d = np.sqrt(((din[:, None, :] - pal[None, :, :]) ** 2).sum(-1))
        order = np.argsort(d, axis=1)[:, :2]
        first, near, runner = order[:, 0], d[rows, order[:, 0]], d[rows, order[:, 1]]
        if limit is None:  # few entries leave every shade of a gradient far off: only outliers are key colours
            limit = max(KEY_DE, KEY_TYPICAL * float((near * mass).sum() / mass.sum()))
        cand = np.flatnonzero(near > limit)
        if regional[cand].sum() < min_mass:
            break
        seeds = cand[np.argsort(regional[cand])[::-1][:256]]
        within = ((din[seeds][:, None, :] - din[cand][None, :, :]) ** 2).sum(-1) <= KEY_GROUP_DE**2
        group_mass = within @ regional[cand]
        heavy = group_mass >= min_mass
        if not heavy.any():
            break
        group_err = (within @ (regional[cand] * near[cand])) / np.maximum(group_mass, 1e-12)
        # importance grows with the square root of the weight: a face counts, but not 100x an eye
        best = int(np.argmax(np.where(heavy, group_err * np.sqrt(group_mass), -1.0)))
        members = cand[within[best]]
        new = (lab[members] * mass[members, None]).sum(0) / mass[members].sum()
        own = np.bincount(first, weights=regional, minlength=len(centers))
        suffer = np.bincount(first, weights=regional * runner, minlength=len(centers)) / np.maximum(own, 1e-12)
        allowed = (suffer < group_err[best] - KEY_MARGIN) & ~protected
        if not allowed.any():
            break
        d2 = ((lab[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
        o2 = np.sort(d2, axis=1)
        cost = np.bincount(np.argmin(d2, axis=1), weights=mass * (o2[:, 1] - o2[:, 0]), minlength=len(centers))
        victim = int(np.argmin(np.where(allowed, cost, np.inf)))
        centers[victim] = new
        protected[victim] = True
        centers = _lloyd(lab, mass, centers, protected)
    return centers


def _lloyd(points: np.ndarray, mass: np.ndarray, centers: np.ndarray, fixed: np.ndarray, iters: int = 3) -> np.ndarray:
    """A few weighted k-means steps so entries that shared a colour with a new key colour move off it."""
    for _ in range(iters):
        label = nearest(points, centers)
        total = np.bincount(label, weights=mass, minlength=len(centers))
        sums = np.stack([np.bincount(label, weights=mass * points[:, c], minlength=len(centers)) for c in range(3)], 1)
        move = (total > 0) & ~fixed
        centers[move] = sums[move] / total[move, None]
    return centers


def _binned_colors(
    rgb: np.ndarray, weights: np.ndarray | None, bits: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean colour, total weight and each pixel's bin, for the occupied ``bits``-per-channel bins of ``(n, 3)`` uint8.

    A photo has ~10^5 distinct colours; a few thousand 4-bit bins carry the same information for a fit
    (each bin keeps its exact mean, not its corner), which makes k-means several times faster.
    """
    shift = 8 - bits
    q = rgb.astype(np.int64) >> shift
    key = (q[:, 0] << (2 * bits)) | (q[:, 1] << bits) | q[:, 2]
    keys, inverse = np.unique(key, return_inverse=True)
    w = np.ones(len(rgb)) if weights is None else weights
    mass = np.bincount(inverse, weights=w, minlength=len(keys))
    sums = np.stack([np.bincount(inverse, weights=w * rgb[:, c], minlength=len(keys)) for c in range(3)], axis=1)
    return sums / mass[:, None], mass, inverse


def map_to_palette(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Replace every colour of ``(..., 3)`` ``rgb`` (0..255) with its perceptually nearest palette entry.

    Nearest in DIN99o, as key colours are judged (:func:`keep_key_colors`): OKLab would map a dark grey to a dark
    green a CIEDE2000 15 away rather than to a grey 8.5 away, because it under-counts chroma between near-neutrals.
    """
    arr = np.asarray(rgb)
    palette = np.asarray(palette)
    idx = nearest_color(srgb_to_din99o(arr.reshape(-1, 3).astype(np.float64)), srgb_to_din99o(palette.astype(np.float64)))
    return palette[idx].reshape(arr.shape[:-1] + (3,))

"""What the quality benchmark measures in an output besides colour error: lines, small features, and
two pixel-art habits.

Both compare the input, at full resolution, with the output reduced to its cell grid (one colour
per cell, ``(rows, cols, 3)`` sRGB), so every method is judged on the same grid.

* :func:`line_survival`: is each 1-2 px dark line still visible (a yes or no per line cell)?
* :func:`feature_contrast`: how dark does each small dark feature stay (an eye, a brow, a mouth;
  anything narrower than a cell and a cell)? A cell-size reduction averages a 2 px eye with the
  skin around it, so the eye survives as a pale blot, "visible" to the line test but washed out
  on the sheet. This measures that paleness: the share of the feature's contrast with its
  surroundings that the output keeps (1 = as dark against its surroundings as in the input).
* :func:`blended_edges` and :func:`lone_cells` judge the output grid alone, as a pixel artist would:
  does a colour edge pass through in-between colours (what averaging makes of an edge; in hand-made
  art mostly a deliberate ramp), and how many cells share no colour with any neighbour (speckle)?
  They say nothing about fidelity, so a method is read on both together: noise blends nothing.
* :func:`flat_noise`: where the input is flat, does the output stay one colour? A generator's low
  contrast mottle (a gem, brick mortar, a sky of two alternating shades) is too faint for
  :func:`lone_cells` but is what a blind judge of the sheet marks it down for (``benchmarks/judge.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.measure import label
from skimage.morphology import black_tophat, footprint_rectangle

from pixelforge.imaging import composite_on_white

#: Smallest black top-hat of L* (0..100) for a pixel to be part of a line or a small feature.
MIN_CONTRAST = 20.0
#: Smallest feature, in pixels: fewer are noise or a corner of an anti-aliased edge.
MIN_FEATURE_PIXELS = 4
#: CIELab ΔE76 between a cell's opposite neighbours for the pair to be a colour edge.
EDGE_STEP = 25.0
#: CIELab ΔE76 a cell must be from each of its 8 neighbours to be lone.
LONE_STEP = 10.0
#: CIELab ΔE76 below which two neighbouring input cells are the same flat colour.
FLAT_STEP = 2.0
#: CIELab ΔE76 within which an input pixel counts as having a cell's colour (a 16-colour palette is usually within it).
FOREIGN_STEP = 10.0
#: Input pixels near a cell that must have its colour for it to be the picture's: a curved or slanted anti-aliased
#: edge has each in-between shade on only a pixel or two, so a blend of the colours either side of it counts as foreign
#: (a straight one has a row of them, and a blend there counts as the picture's).
FOREIGN_SUPPORT = 3


def de2000(a: np.ndarray | tuple, b: np.ndarray | tuple) -> np.ndarray:
    """CIEDE2000 between sRGB colours (0..255, broadcasting ``(..., 3)``): the benchmark's and the tests' yardstick."""
    return deltaE_ciede2000(rgb2lab(np.asarray(a, np.float64) / 255.0), rgb2lab(np.asarray(b, np.float64) / 255.0))


def lightness(rgb: np.ndarray | Image.Image) -> np.ndarray:
    """CIE L* (0..100) of an sRGB array, or of an image composited on white."""
    if isinstance(rgb, Image.Image):
        rgb = composite_on_white(rgb)
    return rgb2lab(np.asarray(rgb, np.float64) / 255.0)[..., 0]


def detect_lines(img: Image.Image) -> np.ndarray:
    """Pixels of 1-2 px dark lines: a 3x3 black top-hat of L* >= 20, in components of >= 8 pixels."""
    mask = black_tophat(lightness(img), footprint_rectangle((3, 3))) >= MIN_CONTRAST
    labels = label(mask, connectivity=2)
    sizes = np.bincount(labels.ravel())
    return mask & (sizes[labels] >= 8) & (labels > 0)


def _blocks(a: np.ndarray, rows: int, cols: int, cell: int, fill: float | bool) -> np.ndarray:
    """``(rows, cols, cell * cell)``: each cell's pixels of ``a`` (padded with ``fill`` past its edge)."""
    pad = np.full((rows * cell, cols * cell), fill, dtype=a.dtype)
    pad[: a.shape[0], : a.shape[1]] = a[: rows * cell, : cols * cell]
    return pad.reshape(rows, cell, cols, cell).transpose(0, 2, 1, 3).reshape(rows, cols, -1)


def line_survival(img: Image.Image, lines: np.ndarray, out_grid: np.ndarray, cell: int) -> tuple[int, int]:
    """(visible, total) input line cells: the output cell or a neighbour shows half the line's contrast."""
    rows, cols = out_grid.shape[:2]
    blocks = _blocks(lightness(img), rows, cols, cell, np.nan)
    lblocks = _blocks(lines.astype(bool), rows, cols, cell, False)
    on_line = lblocks.sum(-1) >= 2
    line_l = np.where(lblocks, blocks, np.inf).min(-1)
    bg = np.where(~lblocks, blocks, -np.inf).max(-1)
    out_l = lightness(out_grid)
    p = np.pad(out_l, 1, mode="edge")
    darkest = np.min([p[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)], axis=0)
    lightest = np.max([p[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)], axis=0)
    dark_line = line_l < bg
    half = (line_l + bg) / 2
    visible = np.where(dark_line, darkest <= half, lightest >= half)
    valid = on_line & np.isfinite(bg) & np.isfinite(line_l)
    return int((visible & valid).sum()), int(valid.sum())


@dataclass(frozen=True)
class SmallFeatures:
    """The small dark features of a picture at a cell size: each one's pixels and its mean input contrast."""

    cell: int
    rows: int
    cols: int
    features: list[tuple[np.ndarray, np.ndarray, float]]  # (ys, xs, mean top-hat of L*)


def small_features(img: Image.Image, cell: int) -> SmallFeatures:
    """Find the features :func:`feature_contrast` scores, once per picture (a benchmark scores many outputs of one)."""
    rows, cols = -(-img.height // cell), -(-img.width // cell)  # a partial cell at the edge counts, as in a pixelated output
    light = lightness(img)
    hat = black_tophat(light, footprint_rectangle((cell + 1, cell + 1)))
    labels = label(hat >= MIN_CONTRAST, connectivity=2)
    found = []
    for i, box in enumerate(ndimage.find_objects(labels), 1):
        ys, xs = np.nonzero(labels[box] == i)
        if len(ys) < MIN_FEATURE_PIXELS:
            continue
        ys, xs = ys + box[0].start, xs + box[1].start
        found.append((ys, xs, float(hat[ys, xs].mean())))
    return SmallFeatures(cell, rows, cols, found)


def features_kept(found: SmallFeatures, out_grid: np.ndarray) -> list[float]:
    """Per feature of ``found``, the share of its contrast ``out_grid`` keeps (see :func:`feature_contrast`)."""
    rows, cols = out_grid.shape[:2]
    out_l = lightness(out_grid)
    closed = ndimage.minimum_filter(ndimage.maximum_filter(out_l, 3, mode="nearest"), 3, mode="nearest")
    out_hat = closed - out_l
    kept = []
    for ys, xs, contrast in found.features:
        inside = (ys // found.cell < rows) & (xs // found.cell < cols)
        ys, xs = ys[inside], xs[inside]
        if not len(ys):
            continue
        count = np.zeros((rows, cols), np.int32)
        np.add.at(count, (ys // found.cell, xs // found.cell), 1)
        cells = count >= 2 if (count >= 2).any() else count > 0
        kept.append(float(min(out_hat[cells].max() / contrast, 1.0)))
    return kept


def feature_contrast(img: Image.Image, out_grid: np.ndarray, cell: int) -> list[float]:
    """Per small dark feature of ``img``, the share of its contrast the output keeps (0..1).

    Features are connected pixels darker than their surroundings by at least :data:`MIN_CONTRAST`
    L* under a black top-hat one pixel wider than a cell (so narrower than a cell; a larger dark area
    is a region, not a feature). The input contrast is the top-hat's mean over the feature; the
    output's is the largest top-hat, at the grid over 3x3 cells, among the cells that hold at least two
    of its pixels (or any, for a smaller feature). A feature drawn one cell dark keeps ~1; averaged
    into the cells around it, about its share of them; painted over, 0.
    """
    return features_kept(small_features(img, cell), out_grid)


def _neighbours(out_grid: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The grid in CIELab and its 8 shifted copies, in the order of a 3x3 window read row by row (NaN past the
    border: a border cell has fewer neighbours, never itself)."""
    lab = rgb2lab(np.asarray(out_grid, np.float64) / 255.0)
    h, w = lab.shape[:2]
    p = np.pad(lab, ((1, 1), (1, 1), (0, 0)), constant_values=np.nan)
    return lab, [p[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3) if (dy, dx) != (1, 1)]


def blended_edges(out_grid: np.ndarray) -> tuple[int, int]:
    """(blended, edge) cells of an output grid.

    A cell is an edge cell when two of its opposite neighbours (left and right, up and down, either
    diagonal) differ by more than :data:`EDGE_STEP`; it is blended when, for such a pair, its colour
    lies in between: within the middle 60% of the way from one to the other and within 20% of their
    distance of the line joining them. A plain cell average turns about a third of a cartoon's edge
    cells into blends; a cell that takes one of its own pixels' colours almost none.
    """
    lab, n = _neighbours(out_grid)
    edge = np.zeros(lab.shape[:2], bool)
    blend = np.zeros(lab.shape[:2], bool)
    for a, b in ((n[1], n[6]), (n[3], n[4]), (n[0], n[7]), (n[2], n[5])):
        ab = b - a
        length = np.linalg.norm(ab, axis=-1)
        strong = length > EDGE_STEP  # False past the border (NaN)
        t = ((lab - a) * ab).sum(-1) / np.maximum(length**2, 1e-9)
        off = np.linalg.norm(lab - (a + np.clip(t, 0, 1)[..., None] * ab), axis=-1)
        edge |= strong
        blend |= strong & (t > 0.2) & (t < 0.8) & (off < 0.2 * length)
    return int(blend.sum()), int(edge.sum())


def lone_cells(out_grid: np.ndarray) -> tuple[int, int]:
    """(lone, all) cells of an output grid: a lone cell is more than :data:`LONE_STEP` from every one of its
    8 neighbours (a speck; hand-made art keeps them for glints, a noisy generator scatters them)."""
    lab, n = _neighbours(out_grid)
    nearest = np.fmin.reduce([np.linalg.norm(lab - m, axis=-1) for m in n])  # NaN (past the border) ignored
    return int((nearest > LONE_STEP).sum()), int(nearest.size)


def cell_pixels_lab(img: Image.Image, rows: int, cols: int, cell: int) -> np.ndarray:
    """``(rows + 2, cols + 2, cell * cell, 3)``: the CIELab of each cell's input pixels (composited on white), with a
    NaN ring past the border, as :func:`foreign_cells` reads them. One per picture: a benchmark scores many outputs
    of one picture, and the conversion is most of the metric's work."""
    pic = np.full((rows * cell, cols * cell, 3), 255, np.uint8)
    rgb = np.asarray(composite_on_white(img))[: rows * cell, : cols * cell]
    pic[: rgb.shape[0], : rgb.shape[1]] = rgb
    lab = rgb2lab(pic.astype(np.float64) / 255.0).reshape(rows, cell, cols, cell, 3).transpose(0, 2, 1, 3, 4)
    return np.pad(lab.reshape(rows, cols, cell * cell, 3), ((1, 1), (1, 1), (0, 0), (0, 0)), constant_values=np.nan)


def foreign_cells(img: Image.Image | np.ndarray, out_grid: np.ndarray, cell: int, step: float = FOREIGN_STEP,
                  support: int = FOREIGN_SUPPORT) -> tuple[int, int]:
    """(foreign, all) cells of an output grid: a cell is foreign when fewer than ``support`` pixels of the input
    (composited on white) within its own cell and the 8 around it are within ``step`` of its colour.

    What a blind judge calls "a colour the picture does not have there": a mauve between a blue window and a red car,
    a grey tip on a black feather. A cell average blends at edges too, but into a colour the edge's anti-aliased pixels
    have; a generator's blends and drifts land where no pixel of the picture is. ``img`` may be the picture or its
    :func:`cell_pixels_lab` at this grid.
    """
    rows, cols = out_grid.shape[:2]
    lab = cell_pixels_lab(img, rows, cols, cell) if isinstance(img, Image.Image) else img
    if lab.shape[:2] != (rows + 2, cols + 2) or lab.shape[2] != cell * cell:
        raise ValueError(f"cell Lab of shape {lab.shape} does not fit a {rows}x{cols} grid of {cell} px cells")
    out = rgb2lab(np.asarray(out_grid, np.float64) / 255.0)[:, :, None]
    near = np.zeros((rows, cols), np.int64)
    for dy in range(3):
        for dx in range(3):
            d = np.linalg.norm(lab[dy : dy + rows, dx : dx + cols] - out, axis=-1)
            near += (d <= step).sum(-1)  # NaN (past the border) is never near
    return int((near < support).sum()), rows * cols


def flat_noise(in_grid: np.ndarray, out_grid: np.ndarray) -> tuple[int, int]:
    """(broken, flat) pairs of side-by-side cells: flat where the input's two cells are within :data:`FLAT_STEP`
    of each other, broken where the output's two are not (more than 1 ΔE76 apart: two colours of the palette).

    A cell average keeps a flat area flat, so it breaks only the few pairs of a gradient that cross
    from one palette colour to the next; speckle and mottle in a flat area break many.
    """
    a = rgb2lab(np.asarray(in_grid, np.float64) / 255.0)
    b = rgb2lab(np.asarray(out_grid, np.float64) / 255.0)
    broken = flat = 0
    for sa, sb in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                   ((slice(1, None), slice(None)), (slice(None, -1), slice(None)))):
        same = np.linalg.norm(a[sa] - a[sb], axis=-1) < FLAT_STEP
        differ = np.linalg.norm(b[sa] - b[sb], axis=-1) > 1.0
        flat += int(same.sum())
        broken += int((same & differ).sum())
    return broken, flat

"""The classical (no-ML) method: one colour per cell, with thin lines kept, then the pixel-art rules.

It needs no checkpoint, so ``pixelate`` works out of the box. A plain box average over each cell
is the honest way to shrink a photo, but it is also why a shrunk photo looks like a posterised
downsample and not like pixel art: a 1-2 px dark line covers a quarter of a 4x4 cell and averages
away to a pale grey. Artists keep such lines as one-cell outlines. So, with ``outlines`` on:

1. find the pixels of features narrower than a cell, darker (or lighter) than their surroundings:
   a morphological top-hat on lightness with a window one pixel wider than the cell. Large dark
   regions are not features (the closing keeps them dark), so region edges never grow;
2. a cell that holds enough such pixels takes their colour instead of the average; where a line
   straddles two cells, only the cell holding more of it does (non-maximum suppression across
   the line), so lines come out one cell wide instead of two;
3. where most cells around qualify, it is texture (grass, gravel), not a line: averages stay.

Every other cell keeps its box average, so smooth areas are exactly as faithful as before.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from inference.grid import block_sum
from inference.postprocess import Cells, PixelArtOptions, box_average, image_cells, render
from pixelforge.color import lightness_levels, srgb_to_oklab
from pixelforge.imaging import rgb_on_white
from pixelforge.model.recorded import FEATURE_INPUTS

#: Smallest top-hat contrast (OKLab lightness x 255) for a pixel to count as part of a line.
LINE_CONTRAST = 40
#: Above this share of candidate line cells in the 5x5 cells around, the detail is texture, not an outline.
TEXTURE_SHARE = 0.6


_LIGHTNESS = lightness_levels().tolist()  # Pillow's point() takes a list


def lightness(rgb: Image.Image) -> np.ndarray:
    """Approximate OKLab lightness of an RGB image as ``(H, W)`` uint8 (Pillow's luma, then a table)."""
    return np.asarray(rgb.convert("L").point(_LIGHTNESS))


def _extreme(a: np.ndarray, size: int, op: np.ufunc) -> np.ndarray:
    """Separable ``size``x``size`` max or min filter (edge-padded) by shifted ``op`` calls.

    Far faster than scipy.ndimage for the small windows used here: a few whole-array ufunc calls.
    """
    before, after = (size - 1) // 2, size // 2
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (before, after)
        p = np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        out = (p[:n] if axis == 0 else p[:, :n]).copy()
        for i in range(1, size):
            op(out, p[i : i + n] if axis == 0 else p[:, i : i + n], out=out)
        a = out
    return a


def line_masks(light: np.ndarray, cell: int, contrast: int = LINE_CONTRAST) -> tuple[np.ndarray, np.ndarray]:
    """(dark, bright): pixels of features narrower than a cell that stand out from what surrounds them.

    Black and white top-hats: a closing (max then min filter) fills dark features narrower than
    the window, an opening removes bright ones; what changed is the feature and how much it stands out.
    """
    size = cell + 1
    dilated, eroded = _extreme(light, size, np.maximum), _extreme(light, size, np.minimum)
    closed = _extreme(dilated, size, np.minimum)
    opened = _extreme(eroded, size, np.maximum)
    dark = (closed - light) >= contrast  # closing >= light everywhere, so uint8 never wraps
    bright = (light - opened) >= contrast
    return dark, bright


def _counts(mask: np.ndarray, cell: int) -> np.ndarray:
    """How many pixels of each cell are set, ``(rows, cols)``."""
    return block_sum(mask.view(np.uint8)[..., None], cell, dtype=np.int32)[..., 0]


def _suppress(count: np.ndarray) -> np.ndarray:
    """Keep a cell only where its line count is the maximum across the line (ties go up/left)."""
    p = np.pad(count, 1)
    up, down, left, right = p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]
    runs_across = (left + right) >= (up + down)  # the line runs left-right: compare with the cells above/below
    keep_v = (count >= down) & (count > up)
    keep_h = (count >= right) & (count > left)
    return np.where(runs_across, keep_v, keep_h)


def line_cells(rgb: Image.Image, cell: int, dark_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Which cells show a thin line, and the line's colour there: ``(rows, cols)`` bool, ``(rows, cols, 3)``
    (``dark_only``: dark lines only, no highlights)."""
    dark, bright = line_masks(lightness(rgb), cell)
    chosen, use_bright, count = _choose_cells(dark, bright, cell, dark_only)
    return chosen, _line_colours(rgb, dark, bright, cell, chosen, use_bright, count)


def _choose_cells(dark: np.ndarray, bright: np.ndarray, cell: int, dark_only: bool) -> tuple[np.ndarray, ...]:
    """From the line masks: the chosen cells, which of them take a bright feature (a highlight) rather than a dark
    one, and each cell's count of the feature's pixels."""
    dark_count, bright_count = _counts(dark, cell), _counts(bright, cell)
    if dark_only:
        bright_count = np.zeros_like(bright_count)
    use_bright = bright_count > dark_count  # a cell takes a bright feature only where no dark one is as strong
    count = np.where(use_bright, bright_count, dark_count)
    candidate = count >= max(1, cell // 2)
    # a line fills at most two cells across of any 5x5 window; texture fills most of it
    density = ndimage.uniform_filter(candidate.astype(np.float32), size=5, mode="reflect")
    chosen = candidate & _suppress(count) & (density <= TEXTURE_SHARE)
    return chosen, use_bright, count


def _line_colours(rgb: Image.Image, dark: np.ndarray, bright: np.ndarray, cell: int, chosen: np.ndarray,
                  use_bright: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The mean colour of each chosen cell's feature pixels, ``(rows, cols, 3)`` (0 elsewhere)."""
    colour = np.zeros(chosen.shape + (3,), np.float32)
    rows, cols = np.nonzero(chosen)
    if len(rows):
        # only the chosen cells' blocks are read: a cost proportional to the lines, not the picture
        arr = np.asarray(rgb)
        h, w = arr.shape[:2]
        for dy in range(cell):
            for dx in range(cell):
                y, x = rows * cell + dy, cols * cell + dx
                ok = (y < h) & (x < w)
                yy, xx = np.minimum(y, h - 1), np.minimum(x, w - 1)
                hit = ok & np.where(use_bright[rows, cols], bright[yy, xx], dark[yy, xx])
                colour[rows, cols] += arr[yy, xx].astype(np.float32) * hit[:, None]
        colour[rows, cols] /= count[rows, cols, None]
    return colour


def with_lines(averages: np.ndarray, rgb: Image.Image, cell: int, opaque: np.ndarray | None = None) -> np.ndarray:
    """``averages`` (one colour per ``cell``x``cell`` block of ``rgb``) with the blocks on thin lines, among
    the ``opaque`` ones, taking the line's colour; cells of 1 px have no lines to keep."""
    if cell < 2:
        return averages
    chosen, colour = line_cells(rgb, cell)
    if opaque is not None:
        chosen &= opaque
    return np.where(chosen[..., None], colour, averages).astype(np.float32)


def hold_lines(drawn: np.ndarray, rgb: Image.Image, cell: int, opaque: np.ndarray | None = None) -> np.ndarray:
    """``drawn`` (a model's cells, ``(rows, cols, 3)``) with the picture's thin lines held as this method holds them.

    Cells on a thin line take the line's colour (:func:`line_cells`); the cells right beside them take
    the picture's own cell average. A generator often draws its outline a cell off the picture's line,
    and holding the line alone would leave that outline beside it as a grey shadow. Everywhere else
    the drawing stays.
    """
    if cell < 2:
        return drawn
    chosen, colour = line_cells(rgb, cell)
    if opaque is not None:
        chosen &= opaque
    beside = ndimage.binary_dilation(chosen, np.ones((3, 3), bool)) & ~chosen
    plain = box_average(rgb, cell)
    return np.where(chosen[..., None], colour, np.where(beside[..., None], plain, drawn)).astype(np.float32)


def with_feature_cells(
    reduced: np.ndarray, rgb: Image.Image, cell: int, opaque: np.ndarray | None = None, kind: str = "cells",
) -> np.ndarray:
    """``reduced`` (``rgb`` at ``r`` pixels per ``cell``-pixel cell) with the cells on thin lines, among the
    ``opaque`` ones, drawn as ``r``x``r`` blocks of the line's colour; which cells is the model input ``kind``
    (:func:`feature_cells`).

    The input of a model trained with ``a_resize = "cells"`` or ``"dark-cells"``: halving keeps a line
    narrower than two pixels but box-averages a 3-4 px eye into pale blocks, and a generator keeps what
    it is shown; here it is shown the eye as this method's output will have it, a whole cell.
    """
    if cell < 2:
        return reduced
    return draw_feature_cells(reduced, *shown_feature_cells(rgb, cell, kind, opaque))


def draw_feature_cells(reduced: np.ndarray, chosen: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``reduced`` (``r`` pixels per cell) with the ``chosen`` cells drawn as ``r``x``r`` blocks of their ``colour``
    (:func:`shown_feature_cells`)."""
    r = -(-reduced.shape[0] // chosen.shape[0])
    h, w = reduced.shape[:2]
    blocks = np.repeat(np.repeat(chosen, r, 0), r, 1)[:h, :w]
    colours = np.repeat(np.repeat(colour, r, 0), r, 1)[:h, :w]
    return np.where(blocks[..., None], colours, reduced).astype(np.float32)


def shown_feature_cells(rgb: Image.Image, cell: int, kind: str, opaque: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cells :func:`with_feature_cells` draws into a generator's input ``kind``, among the ``opaque`` ones, and
    the colour each is drawn with: ``(rows, cols)`` bool, ``(rows, cols, 3)``."""
    dark, bright = line_masks(lightness(rgb), cell)
    chosen, use_bright, count = feature_cells(dark, bright, cell, kind)
    if opaque is not None:
        chosen &= opaque
    return chosen, _line_colours(rgb, dark, bright, cell, chosen, use_bright, count)


def keep_shown_features(drawn: np.ndarray, chosen: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``drawn`` (a model's cells) with each ``chosen`` cell at least as dark as the ``colour`` it was shown.

    A generator shown a feature cell (:func:`with_feature_cells`) mostly keeps it, but pales some: the eyes of a
    face drawn at 0.76 of their contrast. Where the drawing is lighter (OKLab L) than what it was shown, the cell
    takes the shown colour; where it drew the cell as dark or darker, its drawing stays, and so does every other cell.
    """
    paler = chosen & (srgb_to_oklab(drawn)[..., 0] > srgb_to_oklab(colour)[..., 0])
    return np.where(paler[..., None], colour, drawn).astype(np.float32)


def highlight_cells(rgb: Image.Image, cell: int, opaque: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The cells this method draws as a highlight (a thin bright line: teeth, a glint, a rim of light on a helmet's
    ridge), among the ``opaque`` ones, and the highlight's colour there: ``(rows, cols)`` bool, ``(rows, cols, 3)``."""
    dark, bright = line_masks(lightness(rgb), cell)
    chosen, use_bright, count = _choose_cells(dark, bright, cell, False)
    chosen &= use_bright
    if opaque is not None:
        chosen &= opaque
    return chosen, _line_colours(rgb, dark, bright, cell, chosen, use_bright, count)


def keep_highlights(drawn: np.ndarray, shown: np.ndarray, chosen: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """``drawn`` (a model's cells) with each ``chosen`` highlight cell it drew darker than it was ``shown`` (the cells of
    its input) taking the highlight's ``colour``.

    A generator trained on sprites draws a picture's fine light detail over with the colour around it: a headband's
    highlight, teeth, corn kernels, the light between a helmet's ridges. Blind judges preferred the classical method
    for exactly those. Where the drawing is darker than what the generator was shown there, the highlight is gone and
    the cell takes it; where it kept the cell as light or lighter, its drawing stays, and so does every other cell. The
    mirror of :func:`keep_shown_features`, and it leaves the cells that keeps alone: a feature shown dark stays dark.
    """
    lost = chosen & (srgb_to_oklab(drawn)[..., 0] < srgb_to_oklab(shown)[..., 0])
    return np.where(lost[..., None], colour, drawn).astype(np.float32)


def feature_cells(dark: np.ndarray, bright: np.ndarray, cell: int, kind: str) -> tuple[np.ndarray, ...]:
    """The cells a generator input ``kind`` draws in, from the line masks (as :func:`_choose_cells` returns them).

    * ``cells``: this method's line cells, dark lines and highlights;
    * ``dark-cells``: the dark-line cells found on dark lines alone, so also where a highlight beside them wins
      here, where the line's side cell counts more once highlights are ignored, or in texture;
    * ``classic-dark-cells``: of those, the ones this method also draws as dark lines;
    * ``classic-line-cells``: of those, the ones this method draws as a line of either kind. The dark feature
      wins where this method draws a highlight (a lip's or a rung's edge); what it leaves as texture or as the
      side of a line stays out, and those were most of the cells a blind judge marked against ``dark-cells``;
    * ``classic-thin-cells``: ``classic-line-cells``, but a highlight cell beside (above, below, left or right of) a
      cell this method draws as a dark line stays out: the line is drawn already, and a second dark cell only thickens
      it (a ladder's rail, a face's eye rims). A dark feature whose cells this method all lights is still drawn.
    """
    if kind not in FEATURE_INPUTS:
        raise ValueError(f"no feature cells for the generator input {kind!r}: one of {', '.join(FEATURE_INPUTS)}")
    if kind == "cells":
        return _choose_cells(dark, bright, cell, False)
    chosen, use_bright, count = _choose_cells(dark, bright, cell, True)
    if kind != "dark-cells":  # found on dark lines alone, a cell can be one this method gives a highlight or leaves as texture
        classic, highlight, _ = _choose_cells(dark, bright, cell, False)
        chosen &= classic & ~highlight if kind == "classic-dark-cells" else classic
        if kind == "classic-thin-cells":
            drawn_dark = classic & ~highlight
            chosen &= ~(highlight & ndimage.binary_dilation(drawn_dark, ndimage.generate_binary_structure(2, 1)))
    return chosen, use_bright, count


def reduce_keeping_lines(rgb: Image.Image, factor: int) -> np.ndarray:
    """``factor``x``factor`` box averages of an RGB picture, with blocks on thin lines taking the line's colour.

    The model path's input: a generator run at one pixel per cell only sees what the reduction left
    of a 1-2 px line, a pale grey it reads as shading and drops; given the line's colour it keeps
    the line and outlines the figure (``benchmarks/quality.py``: thin lines kept 33% -> 46%).
    """
    return with_lines(box_average(rgb, factor), rgb, factor)


def classic_cells(img: Image.Image, options: PixelArtOptions) -> Cells:
    """Box-averaged cells, with cells on thin lines taking the line's colour when ``options.outlines``."""
    cells = image_cells(img, options.cell_size, options.alpha_threshold)
    if not options.outlines or options.cell_size < 2:
        return cells
    colors = with_lines(cells.colors, rgb_on_white(img), options.cell_size, cells.opaque)
    return Cells(colors, cells.opaque, cells.size, cells.cell)


def pixelate_classic(
    img: Image.Image, options: PixelArtOptions | None = None, palette: np.ndarray | None = None
) -> Image.Image:
    """Pixel art from ``img`` without a model; ``palette`` fixes the colours (e.g. shared by video frames)."""
    options = options or PixelArtOptions()
    return render(classic_cells(img, options), options, palette)

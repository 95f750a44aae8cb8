"""The article's pixel-art rules, enforced on whatever produced the colours (model or classical).

Both paths hand over :class:`Cells` (one colour per grid cell plus a binary alpha); this module
picks the palette, dithers, and paints each cell as one solid block (or one pixel with
``native``). Because palette and dither decisions are made per cell, purity is 1.0 by
construction and never depends on the model behaving.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image
from scipy import ndimage

from inference.dither import METHODS, dither
from inference.grid import cell_means, expand_cells
from inference.palette import DEFAULT_COLORS, PaletteSpec, fit_palette, resolve_palette
from pixelforge.color import srgb_to_oklab, unique_colors
from pixelforge.imaging import has_alpha, rgb_on_white

#: Largest ``--cell-size``: a cell this wide already turns a 4K frame into 4x2 blocks.
MAX_CELL_SIZE = 1024
#: Key colours: a cell's weight rises by this much per unit of OKLab contrast with its surroundings
#: (0.1, a clearly different colour, makes 1.5x), by at most SALIENCE_CAP, over SALIENCE_SIGMA cells.
SALIENCE_GAIN = 5.0
SALIENCE_CAP = 3.0
SALIENCE_SIGMA = 2.0
#: Model path: the scale, in cells, above which the output's colours are the picture's (:func:`anchor_colors`).
ANCHOR_SIGMA = 2.0
MAX_ANCHOR_SIGMA = 64.0
#: ... blurred only across cells the drawing paints alike (a Gaussian of ``--anchor-within`` OKLab x100 between them):
#: 0 (off) by default. 10 takes a figure's colour correction off the white beside it (the glow) and gives a model that
#: draws the features where the picture has them (stage 64) cartoons 1.78 -> 1.61 ΔE2000; the shipped model, whose
#: thin lines do not sit exactly on the picture's, has them corrected away (lines kept 94% -> 81%): docs/model-log.md.
ANCHOR_WITHIN = 0.0
MAX_ANCHOR_WITHIN = 100.0  # the bound pixelforge.model.recorded.MAX_ANCHOR_WITHIN puts on a recorded value (torch-free here)
#: Model path: a fitted palette colour this close (OKLab distance x100) to one of the picture's fills takes it
#: exactly (:func:`snap_palette`). 2 is the just-noticeable difference CSS Color 4 uses for OKLab.
SNAP_DE = 2.0
MAX_SNAP_DE = 100.0
#: Model path: cells the picture has in one colour (within this OKLab distance x100) take the mean of the drawing
#: over them, within SETTLE_RADIUS cells (:func:`settle_flats`); 0 = off. 2, the just-noticeable difference: the
#: shipped model's mottle in flats 18% -> 9% of side-by-side pairs, cartoons ΔE2000 1.44 -> 1.26 (docs/quality.md).
SETTLE_DE = 2.0
MAX_SETTLE_DE = 100.0
SETTLE_RADIUS = 2
#: ... and only over cells the drawing has within this OKLab distance x100 of the cell's own: a mottle is faint, a stroke
#: the generator drew (an outline, a highlight) stands out by far more and is kept whole.
SETTLE_DRAWN = 20.0
#: ... snapped only to the picture's fills: exact colours at least this share of its cells have (and this many cells).
#: Flat art paints areas in one colour; a photo's exact colours are noise, and snapping to them would move entries at random.
FILL_SHARE = 0.01
FILL_MIN_CELLS = 2


PALETTE_SOURCES = ("picture", "output")


@dataclass(frozen=True)
class PixelArtOptions:
    """What the output must look like; the CLI flags map one to one onto these fields."""

    cell_size: int = 4
    palette: str = str(DEFAULT_COLORS)
    dither: str = "none"
    native: bool = False
    alpha_threshold: int = 128
    #: cells on thin dark/bright lines take the line's colour (False: plain box average); the model path
    #: reduces its input this way too, so the generator sees the lines it should outline
    outlines: bool = True
    #: fitted palettes keep the colours of distinct, salient regions, allocated by error (False: k-means by pixel count alone)
    key_colors: bool = True
    #: model path, fitted palettes: "output" fits the colours on the model's cells (its own outline and shading
    #: colours); "picture" on the picture's own cells (closer colours, but colours the picture lacks are lost)
    palette_from: str = "output"
    #: model path: broad colours (a Gaussian of this many cells) come from the picture, what the generator drew finer
    #: than that stays (:func:`anchor_colors`); 0 = the generator's own colours, casts and whitened backdrops included
    anchor_colors: float = ANCHOR_SIGMA
    #: model path: that correction is averaged only over cells the drawing has alike (within about this OKLab distance
    #: x100), so it stays on the figure whose colour the generator shifted (:func:`anchor_colors`); 0 = over all cells,
    #: the default (see ANCHOR_WITHIN)
    anchor_within: float = ANCHOR_WITHIN
    #: model path, fitted palettes from the output: a colour within this OKLab distance (x100) of one of the picture's
    #: fills (exact colours of at least FILL_SHARE of its cells) becomes that colour exactly (:func:`snap_palette`); 0 = off
    snap_colors: float = SNAP_DE
    #: model path: after the generator, cells on thin lines of the picture take the line's colour and the cells beside
    #: them the picture's own, as in the classical path (with ``outlines``; :func:`inference.classic.hold_lines`)
    hold_lines: bool = False
    #: model path, for a model shown feature cells (``model_input`` other than "lines"): a feature cell the generator
    #: drew paler than it was shown takes the colour it was shown (:func:`inference.classic.keep_shown_features`)
    keep_features: bool = False
    #: model path: a cell the classical path draws as a highlight (a thin bright line) that the generator drew darker than
    #: it was shown takes the highlight's colour (:func:`inference.classic.keep_highlights`)
    keep_highlights: bool = False
    #: model path: where the picture is flat, the generator's mottle is averaged out; each cell takes the mean of the
    #: drawing over the cells around it that the picture has within this OKLab distance (x100) of its own colour
    #: (:func:`settle_flats`); 0 = off
    settle_flats: float = SETTLE_DE

    def __post_init__(self) -> None:
        if not 1 <= self.cell_size <= MAX_CELL_SIZE:
            raise ValueError(f"--cell-size {self.cell_size}: must be between 1 and {MAX_CELL_SIZE} pixels "
                             "(a cell larger than the picture makes it one colour)")
        if self.dither not in METHODS:
            raise ValueError(f"dither must be one of {', '.join(METHODS)}, got {self.dither!r}")
        if self.palette_from not in PALETTE_SOURCES:
            raise ValueError(f"palette_from must be one of {', '.join(PALETTE_SOURCES)}, got {self.palette_from!r}")
        if not 0 <= self.anchor_colors <= MAX_ANCHOR_SIGMA:
            raise ValueError(f"--anchor-colors {self.anchor_colors:g}: must be between 0 (off) and {MAX_ANCHOR_SIGMA:g} cells")
        if not 0 <= self.anchor_within <= MAX_ANCHOR_WITHIN:
            raise ValueError(f"--anchor-within {self.anchor_within:g}: must be between 0 (off) and {MAX_ANCHOR_WITHIN:g}")
        if not 0 <= self.snap_colors <= MAX_SNAP_DE:
            raise ValueError(f"--snap-colors {self.snap_colors:g}: must be between 0 (off) and {MAX_SNAP_DE:g}")
        if not 0 <= self.settle_flats <= MAX_SETTLE_DE:
            raise ValueError(f"--settle-flats {self.settle_flats:g}: must be between 0 (off) and {MAX_SETTLE_DE:g}")
        self.palette_spec  # noqa: B018 - resolve now, so a bad --palette fails before any work

    @cached_property
    def palette_spec(self) -> PaletteSpec:
        return resolve_palette(self.palette)

    @property
    def holds_lines(self) -> bool:
        """Whether a model's output gets the picture's thin lines held: asked for, outlines on, and cells to hold them in."""
        return self.hold_lines and self.outlines and self.cell_size >= 2

    @property
    def keeps_highlights(self) -> bool:
        """Whether a model's output gets the picture's highlights back: asked for, outlines on (the classical path draws
        highlights only with them), and cells to hold them in."""
        return self.keep_highlights and self.outlines and self.cell_size >= 2

    @property
    def snaps(self) -> bool:
        """Whether a model's palette is snapped to the picture's fills: on, fitted (not named) and fitted on the output."""
        return self.snap_colors > 0 and self.palette_from == "output" and self.palette_spec.colors is None


@dataclass(frozen=True)
class Cells:
    """One colour per cell (``(rows, cols, 3)`` float 0..255) and, for RGBA input, which cells are opaque."""

    colors: np.ndarray
    opaque: np.ndarray | None
    size: tuple[int, int]  # the source image's (width, height)
    cell: int
    #: model path: the picture's own colour per cell, the same shape as ``colors`` (what :func:`snap_palette` snaps to)
    picture: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray | None:
        return None if self.opaque is None else self.opaque.astype(np.float64)


def image_cells(img: Image.Image, cell: int, alpha_threshold: int = 128) -> Cells:
    """Cell colours straight from an image (the classical path, and the alpha of the model path)."""
    if has_alpha(img):
        rgba = np.asarray(img.convert("RGBA"))
        colors, opaque = cell_means(rgba[..., :3], cell, rgba[..., 3], alpha_threshold)
    else:
        # rgb_on_white composites through to_rgba, which scales 16-bit and CMYK input correctly
        rgb = rgb_on_white(img)
        colors, opaque = box_average(rgb, cell), None
    return Cells(colors, opaque, img.size, cell)


def box_average(rgb: Image.Image, factor: int) -> np.ndarray:
    """Area average over ``factor``x``factor`` blocks of an RGB image, ragged edge included, as float.

    The same numbers as :func:`inference.grid.cell_means` rounded to 8 bits, computed by Pillow's
    C box reduction about ten times faster (a 1080p frame in ~10 ms).
    """
    return np.asarray(rgb.reduce(factor) if factor > 1 else rgb, dtype=np.float32)


def choose_palette(
    cells: Cells | list[Cells], spec: PaletteSpec, seed: int = 0, *, key_colors: bool = True
) -> np.ndarray:
    """The fixed palette, or ``k`` colours fitted to the (opaque) cells of one image or many frames."""
    if spec.colors is not None:
        return spec.colors
    many = cells if isinstance(cells, list) else [cells]
    rgb = np.concatenate([np.clip(np.round(c.colors), 0, 255).astype(np.uint8).reshape(-1, 3) for c in many])
    weights = None
    if any(c.opaque is not None for c in many):
        weights = np.concatenate(
            [np.ones(c.colors.shape[0] * c.colors.shape[1]) if c.weights is None else c.weights.reshape(-1) for c in many]
        )
    region = np.concatenate([importance(c.colors).reshape(-1) for c in many]) if key_colors else None
    return fit_palette(rgb, spec.k or DEFAULT_COLORS, weights=weights, seed=seed, key_colors=key_colors, region=region)


def palette_for(cells: Cells | list[Cells], options: PixelArtOptions) -> np.ndarray:
    """:func:`choose_palette` as ``options`` ask for it (fixed palette or ``k`` colours, key colours on or off).

    Cells that carry the picture's own colours (the model path) have fitted colours within
    ``options.snap_colors`` of one of the picture's fills snapped to it (:func:`snap_palette`).
    """
    palette = choose_palette(cells, options.palette_spec, key_colors=options.key_colors)
    many = cells if isinstance(cells, list) else [cells]
    if not options.snaps or any(c.picture is None for c in many):
        return palette
    colours, counts = picture_colors(many)
    fills = counts >= max(FILL_MIN_CELLS, FILL_SHARE * counts.sum())
    return snap_palette(palette, colours[fills], options.snap_colors, counts[fills])


def picture_colors(many: list[Cells]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colours of the picture's opaque cells (``Cells.picture``, rounded to 8 bits) and how many cells have each."""
    parts = []
    for c in many:
        rgb = np.clip(np.round(c.picture), 0, 255).astype(np.uint8).reshape(-1, 3)  # type: ignore[arg-type]
        parts.append(rgb if c.opaque is None else rgb[c.opaque.reshape(-1)])
    colours, counts, _ = unique_colors(np.concatenate(parts))
    return colours, counts


def snap_palette(
    palette: np.ndarray, reference: np.ndarray, threshold: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """``palette`` with colours within ``threshold`` (OKLab distance x100) of a ``reference`` colour replaced by it.

    A generator repaints a flat area with a colour a shade off the picture's (its texture
    averages to a slight offset); below a just-noticeable difference that offset is no choice
    the model made, and pixel art wants the exact colour back. Only palette entries move:
    which cells share a colour, and colours the model drew that the picture lacks (outlines),
    stay as the model made them. Pairs are matched one to one, so two shades the model kept
    apart never merge: the heaviest reference colours (``weights``, e.g. how many cells have
    them; equal by default) choose first, each its closest free entry within the threshold.
    """
    palette = np.asarray(palette, np.uint8).copy()
    reference = np.asarray(reference, np.uint8)
    if threshold <= 0 or len(palette) == 0 or len(reference) == 0:
        return palette
    w = np.ones(len(reference)) if weights is None else np.asarray(weights, np.float64)
    a, b = srgb_to_oklab(palette), srgb_to_oklab(reference)
    dist = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)) * 100.0
    rows, cols = np.nonzero(dist < threshold)
    taken_p, taken_r = np.zeros(len(palette), bool), np.zeros(len(reference), bool)
    for k in np.lexsort((dist[rows, cols], -w[cols])):  # heaviest reference first, then the closest pair
        i, j = rows[k], cols[k]
        if not taken_p[i] and not taken_r[j]:
            palette[i], taken_p[i], taken_r[j] = reference[j], True, True
    _, first = np.unique(palette, axis=0, return_index=True)  # an entry may already equal a reference colour
    return palette[np.sort(first)]


def gaussian_blur(lab: np.ndarray, sigma: float) -> np.ndarray:
    """Each channel of an ``(H, W, 3)`` array blurred by a Gaussian of ``sigma`` pixels (edges repeated)."""
    return np.stack([ndimage.gaussian_filter(lab[..., i], sigma, mode="nearest") for i in range(3)], -1)


def coherence(lab: np.ndarray, scale: float = 0.04) -> np.ndarray:
    """Per cell of an OKLab grid, how much it belongs to a region (1) rather than being a blend across an edge (~0).

    A cell straddling two areas averages them into a colour that is in neither; a palette entry
    spent on it is wasted. A cell whose nearest 4-neighbour looks alike is part of a region or a line.
    """
    p = np.pad(lab, ((1, 1), (1, 1), (0, 0)), mode="edge")
    rows, cols = lab.shape[:2]
    shifts = (p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:])
    closest = np.min([((s - lab) ** 2).sum(-1) for s in shifts], axis=0)
    return 1.0 / (1.0 + closest / (scale * scale)) if rows * cols > 1 else np.ones((rows, cols))


def salience(lab: np.ndarray, sigma: float = SALIENCE_SIGMA) -> np.ndarray:
    """Per cell of an OKLab grid, how much it stands out: distance to a Gaussian-weighted mean of the cells around it.

    An eye, a lamp or a badge differs from its surroundings; a backdrop shade does not, however
    many cells it covers.
    """
    return np.sqrt(((lab - gaussian_blur(lab, sigma)) ** 2).sum(-1))


def importance(colors: np.ndarray) -> np.ndarray:
    """Per cell of ``(rows, cols, 3)`` sRGB, its weight when choosing key colours: :func:`coherence` raised by :func:`salience`."""
    lab = srgb_to_oklab(np.clip(colors, 0, 255))
    return coherence(lab) * (1.0 + np.minimum(SALIENCE_GAIN * salience(lab), SALIENCE_CAP))


def render(cells: Cells, options: PixelArtOptions, palette: np.ndarray | None = None) -> Image.Image:
    """Quantise and dither the cells, then paint them: ``N``x``N`` blocks at the input size, or ``native``."""
    if palette is None:
        palette = palette_for(cells, options)
    painted = dither(cells.colors, palette, options.dither, cells.opaque)
    if cells.opaque is not None:
        alpha = np.where(cells.opaque, 255, 0).astype(np.uint8)[..., None]
        # Transparent cells are white underneath, so dropping alpha later still composites on white.
        painted = np.where(cells.opaque[..., None], painted, 255).astype(np.uint8)
        painted = np.concatenate([painted, alpha], axis=-1)
    mode = "RGBA" if cells.opaque is not None else "RGB"
    if options.native:
        return Image.fromarray(np.ascontiguousarray(painted), mode)
    return Image.fromarray(expand_cells(painted, cells.cell, cells.size), mode)


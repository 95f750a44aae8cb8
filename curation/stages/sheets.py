"""Optional stage: slice sprite sheets into single sprites.

Interface contract: ``slice_sheet(img, config) -> list[SpriteBox]``; an empty list means
"not a sheet, keep the image whole". Boxes are in the native image's pixel coordinates; the
pipeline keeps the sheet's provenance and records each sprite's box (``SpriteBox.as_member``).

How a sheet is cut:

1. **Background.** Transparent pixels, or else the colour that fills most of the border
   (a few levels of tolerance, for JPEG). No background: go to step 4.
2. **Parts.** Connected components (8-neighbourhood) of the non-background pixels; parts about
   ``merge_gap`` pixels apart or closer are one sprite (a sword beside its knight, a detached
   shadow). Parts smaller than ``min_sprite_size`` on both sides are specks and dropped; then
   boxes that overlap or lie within ``merge_gap`` are united until nothing more merges. On a coloured background each box
   is then trimmed to pixels that differ clearly from it, so JPEG ringing does not widen it.
3. **Uniform grid.** If every sprite lies inside one cell of a grid whose cells divide the sheet
   (the finest such grid), no cell holds two sprites, and the sprites sit alike in their cells
   (same start, centre or end, within 15% of a cell), the sheet is a frame or tile grid and is
   cut on the grid: every frame keeps the same size and alignment.
4. **Opaque tilesets.** A sheet with no background (or one part covering it) is tested for tile
   sizes that divide it: the tile size whose boundary lines show clearly more colour change than
   the lines inside tiles wins, and every tile that is not a single flat colour is a sprite.

Fewer than ``min_sprites`` sprites, or one part holding 60 % of all foreground pixels (a scene on a
plain sky with some details around it): not a sheet, the image stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from curation.config import SheetConfig
from pixelforge.imaging import to_rgba

#: colour distance (max channel) within which a pixel counts as the border background colour
BACKGROUND_TOLERANCE = 12
#: tile boundary lines must change this many times more than lines inside tiles
TILE_CONTRAST = 2.0
#: more separate parts than this is noise, not a sheet (and would make merging quadratic)
MAX_PARTS = 20_000
#: a frame grid may be crossed on this share of its line length (LPC feet touching the next row)
GRID_CROSSING = 0.01
#: one part holding this share of all foreground pixels makes the image a picture, not a sheet
DOMINANT_SHARE = 0.6


@dataclass(frozen=True)
class SpriteBox:
    x: int
    y: int
    width: int
    height: int
    kind: str = "component"  # "component" (tight box of one sprite), "grid" (frame cell), "tile"

    def as_member(self) -> str:
        return f"box:{self.x},{self.y},{self.width},{self.height}"

    def crop(self, img: Image.Image) -> Image.Image:
        """This sprite cut out of its sheet (same mode, no resampling)."""
        return img.crop((self.x, self.y, self.x + self.width, self.y + self.height))


def background_mask(img: Image.Image) -> np.ndarray | None:
    """True where the sheet shows background; ``None`` if it has no clear background."""
    rgba = np.asarray(to_rgba(img))
    alpha = rgba[..., 3]
    if (alpha < 128).any():
        return alpha < 128
    dist = _distance_from_background(img)
    if dist is None:
        return None
    return dist <= BACKGROUND_TOLERANCE


def _distance_from_background(img: Image.Image) -> np.ndarray | None:
    """Per pixel, the largest channel difference from the border colour (None: no such colour)."""
    rgb = np.asarray(to_rgba(img))[..., :3].astype(np.int16)
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    # the commonest border colour, found in coarse bins so JPEG noise does not split it
    bins = border // (2 * BACKGROUND_TOLERANCE)
    keys, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
    colour = np.median(border[inverse.reshape(-1) == int(np.argmax(counts))], axis=0)
    near = np.abs(border - colour).max(axis=-1) <= BACKGROUND_TOLERANCE
    if near.mean() < 0.5:
        return None
    return np.abs(rgb - colour).max(axis=-1)


def _trim(boxes: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Shrink each box to the pixels that differ clearly from the background (JPEG ringing
    around a sprite on a solid colour spreads up to a DCT block and would widen its box)."""
    out = boxes.copy()
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        ys, xs = np.nonzero(strong[y0:y1, x0:x1])
        if len(xs):
            out[i] = (x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1)
    return out


def _near_pairs(boxes: np.ndarray, gap: int, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs of boxes that overlap or lie at most ``gap`` pixels apart (bounded memory)."""
    x0, y0, x1, y1 = (boxes[:, i].astype(np.int32) for i in range(4))
    rows, cols = [], []
    for start in range(0, len(boxes), chunk):
        sl = slice(start, start + chunk)
        dx = np.maximum(x0[sl, None] - x1[None, :], x0[None, :] - x1[sl, None])  # pixels between; <= 0 overlap
        dy = np.maximum(y0[sl, None] - y1[None, :], y0[None, :] - y1[sl, None])
        r, c = np.nonzero((dx <= gap) & (dy <= gap))
        rows.append(r + start)
        cols.append(c)
    return np.concatenate(rows), np.concatenate(cols)


def _merge_boxes(boxes: np.ndarray, gap: int) -> np.ndarray:
    """Union boxes (x0, y0, x1, y1; end exclusive) that overlap or are at most ``gap`` apart,
    repeatedly, since a merged box can reach boxes its parts did not."""
    while len(boxes) > 1:
        r, c = _near_pairs(boxes, gap)
        graph = coo_matrix((np.ones(len(r), bool), (r, c)), shape=(len(boxes), len(boxes)))
        n, label = connected_components(graph, directed=False)
        if n == len(boxes):
            break
        merged = np.empty((n, 4), dtype=boxes.dtype)
        merged[:, :2] = np.iinfo(boxes.dtype).max
        merged[:, 2:] = np.iinfo(boxes.dtype).min
        np.minimum.at(merged[:, 0], label, boxes[:, 0])
        np.minimum.at(merged[:, 1], label, boxes[:, 1])
        np.maximum.at(merged[:, 2], label, boxes[:, 2])
        np.maximum.at(merged[:, 3], label, boxes[:, 3])
        boxes = merged
    return boxes


def component_boxes(fg: np.ndarray, merge_gap: int, min_size: int) -> np.ndarray:
    """Merged, speck-free sprite boxes (x0, y0, x1, y1) of a foreground mask, in reading order.

    Parts are first joined at pixel level (8-neighbour components of the mask dilated by half
    the gap, so parts up to about ``merge_gap`` pixels apart touch), boxes are taken on the
    undilated pixels, specks dropped, and then boxes that overlap or lie within ``merge_gap``
    are united.
    """
    radius = -(-max(merge_gap, 0) // 2)
    joined = ndimage.binary_dilation(fg, structure=np.ones((2 * radius + 1,) * 2, bool)) if radius else fg
    labels, n = ndimage.label(joined, structure=np.ones((3, 3), bool))
    if n == 0 or n > MAX_PARTS:  # nothing, or noise (a photo, heavy JPEG): not a sprite sheet
        return np.zeros((0, 4), np.int64)
    slices = ndimage.find_objects(np.where(fg, labels, 0), max_label=n)
    boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in slices if s is not None], np.int64)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = _merge_boxes(boxes[(w >= min_size) | (h >= min_size)], merge_gap)
    order = np.lexsort((boxes[:, 0], boxes[:, 1]))
    return boxes[order]


def _finest_cell(lo: np.ndarray, hi: np.ndarray, n: int, min_size: int) -> int | None:
    """Smallest cell size dividing ``n`` such that no span [lo, hi) crosses a cell boundary."""
    for cell in range(min_size, n + 1):
        if n % cell == 0 and np.all(lo // cell == (hi - 1) // cell):
            return cell
    return None


def _aligned(offset: np.ndarray, extent: np.ndarray, cell: int) -> bool:
    """Sprites share a placement inside their cells: same start, centre or end (within 15%)."""
    tol = max(2.0, 0.15 * cell)
    for anchor in (offset, offset + extent / 2.0, offset + extent):
        if np.abs(anchor - np.median(anchor)).max() <= tol:
            return True
    return False


def grid_cells(boxes: np.ndarray, size: tuple[int, int], min_size: int) -> list[SpriteBox] | None:
    """Cut on a frame grid when every sprite sits alone inside one cell of a grid dividing the sheet."""
    width, height = size
    cw = _finest_cell(boxes[:, 0], boxes[:, 2], width, min_size)
    ch = _finest_cell(boxes[:, 1], boxes[:, 3], height, min_size)
    if cw is None or ch is None or (cw == width and ch == height):
        return None
    cells = (boxes[:, 1] // ch) * (width // cw) + boxes[:, 0] // cw
    if len(np.unique(cells)) != len(cells):
        return None  # two sprites share a cell: the grid does not describe this sheet
    if not (_aligned(boxes[:, 0] % cw, boxes[:, 2] - boxes[:, 0], cw) and _aligned(boxes[:, 1] % ch, boxes[:, 3] - boxes[:, 1], ch)):
        return None  # sprites sit anywhere in their cells: a chance grid, not a frame grid
    return [SpriteBox(int(c % (width // cw)) * cw, int(c // (width // cw)) * ch, cw, ch, "grid") for c in np.sort(cells)]


def frame_grid(img: Image.Image, min_cell: int = 16, max_cell: int = 256, min_frames: int = 2) -> list[SpriteBox]:
    """Frames of a sheet drawn on a square grid, the largest cell that no sprite crosses; empty cells dropped.

    Animation sheets (the Universal LPC sheets: 13x21 frames of 64 px) put every frame inside its
    cell, so (almost: ``GRID_CROSSING``) no two opaque pixels face each other across a cell line. Cells must divide both sides
    (at most ``max_cell``, at least two per side); a sheet without transparency or whose every
    candidate cell is crossed is not cut here (``[]``). Costs one pass per candidate cell size.
    """
    rgba = np.asarray(to_rgba(img))
    if not (rgba[..., 3] < 128).any():
        return []
    fg = rgba[..., 3] >= 128 if img.mode != "RGBA" else rgba[..., 3] > 0
    height, width = fg.shape
    g = int(np.gcd(width, height))
    for cell in sorted((c for c in range(min_cell, min(max_cell, g) + 1) if g % c == 0), reverse=True):
        if width // cell < 2 and height // cell < 2:
            continue
        crossed = int((fg[:, cell - 1 : -1 : cell] & fg[:, cell::cell]).sum() + (fg[cell - 1 : -1 : cell] & fg[cell::cell]).sum())
        lines = (width // cell - 1) * height + (height // cell - 1) * width
        if crossed > GRID_CROSSING * lines:
            continue
        used = fg.reshape(height // cell, cell, width // cell, cell).any(axis=(1, 3))
        if used.sum() < min_frames:
            return []
        return [SpriteBox(int(x) * cell, int(y) * cell, cell, cell, "grid") for y, x in zip(*np.nonzero(used))]
    return []


def tile_grid(img: Image.Image, min_size: int) -> list[SpriteBox]:
    """Tiles of an opaque tileset: the tile size whose boundaries stand out, flat tiles skipped."""
    rgb = np.asarray(to_rgba(img))[..., :3].astype(np.int16)
    height, width = rgb.shape[:2]
    col_step = np.abs(np.diff(rgb, axis=1)).max(-1).mean(0)  # change across boundary x+1
    row_step = np.abs(np.diff(rgb, axis=0)).max(-1).mean(1)
    best: tuple[float, int] | None = None
    for tile in range(min_size, min(width, height) // 2 + 1):
        if width % tile or height % tile:
            continue
        on_x = np.zeros(width - 1, bool)
        on_x[tile - 1 :: tile] = True
        on_y = np.zeros(height - 1, bool)
        on_y[tile - 1 :: tile] = True
        inside = np.r_[col_step[~on_x], row_step[~on_y]].mean() + 1e-6
        contrast = min(col_step[on_x].mean(), row_step[on_y].mean()) / inside
        if contrast >= TILE_CONTRAST and (best is None or contrast > best[0] * 1.05):
            best = (contrast, tile)
    if best is None:
        return []
    tile = best[1]
    blocks = rgb.reshape(height // tile, tile, width // tile, tile, 3)
    busy = (blocks != blocks[:, :1, :, :1]).any(axis=(1, 3, 4))  # not one flat colour
    return [SpriteBox(int(tx) * tile, int(ty) * tile, tile, tile, "tile") for ty, tx in zip(*np.nonzero(busy))]


def slice_sheet(img: Image.Image, config: SheetConfig | None = None) -> list[SpriteBox]:
    """Sprites on a sheet, in reading order; ``[]`` when the image is a single picture."""
    config = config or SheetConfig()
    bg = background_mask(img)
    boxes = np.zeros((0, 4), np.int64)
    if bg is not None:
        boxes = component_boxes(~bg, config.merge_gap, config.min_sprite_size)
        dist = None if (np.asarray(to_rgba(img))[..., 3] < 128).any() else _distance_from_background(img)
        if dist is not None:  # background is a colour, not transparency
            boxes = _trim(boxes, dist > 3 * BACKGROUND_TOLERANCE)
    if len(boxes) >= config.min_sprites and bg is not None and _dominated(boxes, ~bg):
        return []  # one main picture plus details (a scene on a plain sky), not a sheet
    if config.detect_grid and len(boxes) >= config.min_sprites:
        cells = grid_cells(boxes, img.size, config.min_sprite_size)
        if cells is not None and len(cells) >= config.min_sprites:
            return cells
    if len(boxes) >= config.min_sprites:
        return [SpriteBox(int(x0), int(y0), int(x1 - x0), int(y1 - y0)) for x0, y0, x1, y1 in boxes]
    covered = bg is None or (len(boxes) == 1 and _area(boxes[0]) >= 0.9 * img.width * img.height)
    if config.detect_grid and covered:
        tiles = tile_grid(img, config.min_sprite_size)
        if len(tiles) >= config.min_sprites:
            return tiles
    return []


def _dominated(boxes: np.ndarray, fg: np.ndarray) -> bool:
    """True when one part holds most of the foreground: a picture with details, not a sheet."""
    counts = [int(fg[y0:y1, x0:x1].sum()) for x0, y0, x1, y1 in boxes]
    return max(counts) >= DOMINANT_SHARE * max(int(fg.sum()), 1)


def _area(box: np.ndarray) -> int:
    return int((box[2] - box[0]) * (box[3] - box[1]))

"""``samples.png``: a grid of sample images for the card, built with integer nearest-neighbour only.

Each sample is the row's native image (one pixel per art pixel) on a white cell, scaled up by a
whole factor (nearest neighbour). A native larger than the cell is never shrunk (dropping every
k-th pixel leaves scattered dots, smoothing invents colours): the cell shows a cell-sized piece of
it at scale 1, centred on its art, so every pixel shown is a pixel of the art.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps

from data_cards.folder import DatasetFolder
from pixelforge.dataset import SAMPLES_FILE
from pixelforge.decoding import ImageDecodeError, open_image
from pixelforge.imaging import composite_on_white, place_on_canvas, png_bytes
from pixelforge.io import atomic_write

GUTTER = 4
#: Side of one grid cell in pixels; each sample is scaled by a whole factor to fit it.
CELL = 128


def pick_samples(folder: DatasetFolder, count: int) -> list[tuple[str, int]]:
    """(split, row) pairs spread evenly over the train split (then the others), deterministic."""
    picked: list[tuple[str, int]] = []
    for split in folder.splits:
        n = folder.num_rows(split)
        want = min(n, count - len(picked))
        if want <= 0:
            break
        picked += [(split, (i * n) // want) for i in range(want)]
    return picked


def sample_tile(img: Image.Image, cell: int = CELL) -> tuple[Image.Image, bool]:
    """One ``cell`` square: the image scaled up by a whole factor, or, when it is larger than the
    cell, the cell-sized piece around the centre of its art (non-white pixels) at scale 1.
    Returns the tile and whether it is such a piece."""
    rgb = composite_on_white(img)
    if max(rgb.size) <= cell:
        return place_on_canvas(rgb, cell)[0], False  # a whole factor >= 1: nothing dropped
    x0, y0, x1, y1 = ImageOps.invert(rgb).getbbox() or (0, 0, rgb.width, rgb.height)
    left = min(max((x0 + x1) // 2 - cell // 2, 0), max(rgb.width - cell, 0))
    top = min(max((y0 + y1) // 2 - cell // 2, 0), max(rgb.height - cell, 0))
    piece = rgb.crop((left, top, min(left + cell, rgb.width), min(top + cell, rgb.height)))
    return place_on_canvas(piece, cell)[0], True


def sample_grid(images: list[Image.Image], *, cell: int = CELL, columns: int = 4) -> Image.Image:
    """Lay images out on a white grid; each is a :func:`sample_tile` of its ``cell`` square."""
    if not images:
        raise ValueError("no images to put in a sample grid")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    grid = Image.new("RGB", (columns * cell + (columns + 1) * GUTTER, rows * cell + (rows + 1) * GUTTER), (224, 224, 224))
    for i, img in enumerate(images):
        tile, _ = sample_tile(img, cell)
        r, c = divmod(i, columns)
        grid.paste(tile, (GUTTER + c * (cell + GUTTER), GUTTER + r * (cell + GUTTER)))
    return grid


def write_samples(
    folder: DatasetFolder, out_dir: str | Path | None = None, *, count: int = 16, cell: int = CELL, columns: int = 4
) -> list[tuple[str, int]]:
    """Write ``samples.png`` from the rows' native images (deterministic PNG bytes).

    Returns the (split, row) pairs shown. A row whose image cannot be decoded is skipped (and
    named in a warning), not fatal; a dataset with no decodable rows gets no grid and loses a
    stale one.
    """
    by_split: dict[str, list[int]] = {}
    for split, row in pick_samples(folder, count):
        by_split.setdefault(split, []).append(row)
    images, shown = [], []
    for split, rows in by_split.items():
        for row, value in zip(rows, folder.column(split, "native", rows)):
            data = value.get("bytes") if isinstance(value, dict) else value
            try:
                images.append(open_image(data or b"").image)
            except ImageDecodeError as exc:
                warnings.warn(f"samples.png: skipped {split} row {row}: {exc}", stacklevel=2)
                continue
            shown.append((split, row))
    path = Path(out_dir or folder.path) / SAMPLES_FILE
    if not images:
        path.unlink(missing_ok=True)
        return []
    atomic_write(path, png_bytes(sample_grid(images, cell=cell, columns=columns)))
    return shown

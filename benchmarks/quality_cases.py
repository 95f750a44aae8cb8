"""The quality benchmark's inputs (held out from training) and the colour helpers they need.

Shared by ``benchmarks/quality.py`` and the scripts that look at the same cases (``edge_error.py``,
``feature_stages.py``, ``stage_strip.py``); see ``quality.py`` for what each group of cases is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.measure import label

from inference.grid import cell_means
from pixelforge.imaging import composite_on_white
from pixelforge.testing.art_cases import all_cases
from pixelforge.testing.art_metrics import (
    SmallFeatures,
    cell_pixels_lab,
    de2000,
    detect_lines,
    small_features,
)

CELL, K = 4, 16
#: pixelate's options after the generator (flags of quality.py and judge.py): set for the model rows; the untrained net
#: gets the same
PIPELINE = ("anchor_colors", "anchor_within", "snap_colors", "settle_flats")
CORPUS = Path("/work/shared/corpus")
# Key regions marked by eye on the corpus photos: (name, x0, y0, x1, y1) in pixels.
PHOTO_REGIONS = {
    "astronaut.png": [
        ("face", 196, 118, 212, 134), ("hair", 204, 28, 224, 44), ("flag white stripe", 4, 158, 16, 168),
        ("flag blue", 24, 100, 40, 112), ("badge purple", 140, 360, 152, 372), ("teeth", 212, 143, 228, 147),
    ],
    "chelsea.png": [("eye", 152, 112, 164, 124), ("nose", 254, 228, 274, 240)],
    "coffee.png": [("cup white", 190, 60, 230, 72), ("crema", 240, 130, 290, 150), ("spoon", 340, 270, 356, 290)],
    "rocket.jpg": [("rocket white", 314, 200, 326, 240), ("lamp", 356, 390, 368, 400)],
}
PHOTO_ORDER = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]


@dataclass
class Case:
    name: str
    group: str
    image: Image.Image
    lines: np.ndarray | None = None  # truth; None: detect in the input
    regions: list[tuple[str, np.ndarray, tuple[int, int, int]]] = field(default_factory=list)

    # what every method's output is compared with, found once per case, not once per method
    @cached_property
    def grid(self) -> np.ndarray:
        return grid_of(self.image)

    @cached_property
    def line_mask(self) -> np.ndarray:
        return self.lines if self.lines is not None else detect_lines(self.image)

    @cached_property
    def features(self) -> SmallFeatures:
        return small_features(self.image, CELL)

    @cached_property
    def cell_lab(self) -> np.ndarray:
        """The picture's pixels per cell in CIELab, for :func:`foreign_cells` (every output has the grid's shape)."""
        return cell_pixels_lab(self.image, *self.grid.shape[:2], CELL)


def crop_to_grid(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.crop((0, 0, w - w % CELL, h - h % CELL))


def generated_cases() -> list[Case]:
    out = []
    for c in all_cases():
        out.append(Case(c.name, "generated", c.image, c.lines, c.regions))
    return out


def _manifest(store: str) -> list[dict]:
    return [json.loads(line) for line in (CORPUS / store / "manifest.jsonl").read_text().splitlines() if line]


def cartoon_cases(per_source: int = 5, prefixes: str = "0", skip: int = 0) -> list[Case]:
    """Corpus cartoons whose sha256 starts with one of ``prefixes``: Kenney's and Twemoji's, ``per_source`` of each
    after the first ``skip`` (in sha256 order).

    "0" is the split ``make model`` holds out of training. Other prefixes are training pictures: a check that what
    was chosen on the held-out ones (an input, a pipeline step) holds on pictures it was not chosen on. ``skip``
    reaches held-out pictures that nothing was chosen on: every option so far was measured on the first 12.
    """
    rows = sorted((r for r in _manifest("cartoons") if r["sha256"][0] in prefixes), key=lambda r: r["sha256"])
    out = []
    for source in ("kenney", "twemoji"):
        for r in [r for r in rows if r["source"] == source][skip:skip + per_source]:
            img = crop_to_grid(composite_on_white(Image.open(CORPUS / "cartoons" / r["path"])))
            out.append(Case(f"{source}:{r['title'].split()[-1]}", "cartoon", img, None, flat_regions(img)))
    return out


def photo_cases(quick: bool) -> list[Case]:
    rows = {r["url"].rsplit("/", 1)[-1]: r for r in _manifest("photos")}
    names = PHOTO_ORDER + ([] if quick else sorted(set(rows) - set(PHOTO_ORDER)))
    out = []
    for name in names:
        img = crop_to_grid(composite_on_white(Image.open(CORPUS / "photos" / rows[name]["path"])))
        regions = []
        arr = np.asarray(img)
        for rname, x0, y0, x1, y1 in PHOTO_REGIONS.get(name, []):
            mask = np.zeros(arr.shape[:2], bool)
            mask[y0:y1, x0:x1] = True
            colour = tuple(int(v) for v in np.median(arr[mask], axis=0))
            regions.append((rname, mask, colour))
        out.append(Case(name, "photo", img, None, regions))
    return out


def flat_regions(img: Image.Image, limit: int = 6) -> list[tuple[str, np.ndarray, tuple[int, int, int]]]:
    """Small flat-colour regions of a cartoon that stand out from their surroundings (auto-marked keys)."""
    arr = np.asarray(img)
    packed = (arr[..., 0].astype(np.int64) << 16) | (arr[..., 1].astype(np.int64) << 8) | arr[..., 2]
    labels = label(packed + 1, background=0, connectivity=1)
    area_max = 0.04 * arr.shape[0] * arr.shape[1]
    found = []
    for lab_id, count in zip(*np.unique(labels, return_counts=True)):
        if not 4 * CELL * CELL <= count <= area_max:
            continue
        mask = labels == lab_id
        ys, xs = np.nonzero(mask)
        if np.ptp(ys) < 2 * CELL or np.ptp(xs) < 2 * CELL:
            continue
        colour = arr[ys[0], xs[0]]
        y0, y1, x0, x1 = max(ys.min() - 3, 0), ys.max() + 4, max(xs.min() - 3, 0), xs.max() + 4
        ring = ~mask[y0:y1, x0:x1]
        around = arr[y0:y1, x0:x1][ring].mean(0)
        contrast = float(_de(colour[None], around[None])[0])
        if contrast >= 15:
            found.append((contrast, mask, tuple(int(v) for v in colour)))
    found.sort(key=lambda t: -t[0])
    return [(f"flat {i}", m, c) for i, (_, m, c) in enumerate(found[:limit])]



_de = de2000  # the name the benchmark scripts import


def grid_of(img: Image.Image) -> np.ndarray:
    return cell_means(np.asarray(composite_on_white(img)), CELL)[0]

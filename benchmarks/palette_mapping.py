"""Which palette colour a cell takes: the nearest in DIN99o (pixelate since 2026-12-05) against the nearest in OKLab (before).

Same cells, same palette, only the rule that picks an entry differs. Per method, over the held-out cartoons (and
photos with --photos): how many cells take another entry, the mean CIEDE2000 between a cell and the colour it takes,
and the worst excess over the nearest entry. ``--strip`` draws chosen cases side by side, both rules, both methods.

    PYTHONPATH=. .venv/bin/python benchmarks/palette_mapping.py
    PYTHONPATH=. .venv/bin/python benchmarks/palette_mapping.py --strip docs/img/palette-mapping.png --cases female_person male_person --tile 384
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from quality_cases import _de, cartoon_cases, photo_cases

from inference.grid import expand_cells
from inference.palette import map_to_palette, nearest_color
from inference.pixelator import Pixelator
from inference.postprocess import palette_for
from pixelforge.color import srgb_to_oklab


def oklab_nearest(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The former rule: the entry nearest in OKLab."""
    flat = np.asarray(rgb, np.float64).reshape(-1, 3)
    return palette[nearest_color(srgb_to_oklab(flat), srgb_to_oklab(palette))].reshape(np.shape(rgb))


def mapped(px: Pixelator, img: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The cells' own colours, the palette, the cells mapped by DIN99o and by OKLab, and which cells are opaque."""
    cells = px.cells(img)
    palette = palette_for(px.palette_cells(img, cells), px.options)
    own = np.clip(cells.colors, 0, 255)
    return own, palette, map_to_palette(own, palette), oklab_nearest(own, palette), cells.opaque


def measure(own: np.ndarray, palette: np.ndarray, taken: np.ndarray, opaque: np.ndarray | None) -> tuple[float, float]:
    """Mean CIEDE2000 from a cell to the colour it takes, and the worst excess over its nearest entry."""
    keep = np.ones(own.shape[:2], bool) if opaque is None else opaque
    a, t = own[keep], taken[keep]
    de_all = _de(a[:, None], palette[None])
    de = _de(a, t)
    return float(de.mean()), float((de - de_all.min(1)).max())


def strip(cases: list, methods: dict[str, Pixelator], out: Path, tile: int = 192) -> None:
    columns = ["input"] + [f"{m}, {rule}" for m in methods for rule in ("OKLab (before)", "DIN99o")]
    sheet = Image.new("RGB", (tile * len(columns), (tile + 16) * len(cases) + 16), "white")
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(columns):
        draw.text((i * tile + 4, 2), name, fill="black")
    for r, case in enumerate(cases):
        shown = [case.image.convert("RGB")]
        for px in methods.values():
            own, _, din, ok, opaque = mapped(px, case.image)
            for grid in (ok, din):
                if opaque is not None:
                    grid = np.where(opaque[..., None], grid, 255)
                shown.append(Image.fromarray(expand_cells(grid.astype(np.uint8), px.options.cell_size, case.image.size)))
        scale = max(1, tile // max(case.image.size))
        for i, img in enumerate(shown):
            sheet.paste(img.resize((img.width * scale, img.height * scale), Image.NEAREST), (i * tile, 16 + r * (tile + 16)))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cartoons", type=int, default=12, help="held-out cartoons per source (default 12: all 23)")
    p.add_argument("--photos", action="store_true", help="also the 13 corpus photos")
    p.add_argument("--cases", nargs="*", help="only cases whose name contains one of these")
    p.add_argument("--strip", type=Path, help="draw the cases side by side here (PNG)")
    p.add_argument("--tile", type=int, default=192, help="strip: pixels per picture (whole multiples of its size)")
    args = p.parse_args(argv)
    cases = cartoon_cases(args.cartoons) + (photo_cases(quick=False) if args.photos else [])
    if args.cases:
        cases = [c for c in cases if any(part in c.name for part in args.cases)]
    methods = {"classical": Pixelator.classic(), "shipped model": Pixelator.shipped()}
    print(f"{'method':<15}{'cells':>7}{'other entry':>13}{'ΔE2000 OKLab':>14}{'DIN99o':>8}{'worst excess OKLab':>20}{'DIN99o':>8}")
    for name, px in methods.items():
        total = moved = 0
        rows = []
        for case in cases:
            own, palette, din, ok, opaque = mapped(px, case.image)
            keep = np.ones(own.shape[:2], bool) if opaque is None else opaque
            total += int(keep.sum())
            moved += int((din != ok).any(-1)[keep].sum())
            rows.append(measure(own, palette, ok, opaque) + measure(own, palette, din, opaque))
        m = np.array(rows)
        print(f"{name:<15}{total:>7}{moved:>13}{m[:, 0].mean():>14.2f}{m[:, 2].mean():>8.2f}{m[:, 1].max():>20.1f}{m[:, 3].max():>8.1f}")
    if args.strip:
        strip(cases, methods, args.strip, args.tile)
        print(f"strip: {args.strip}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`pixelate --shipped` end to end on a 1024² picture at cell 4: what a user waits for (the issue's <= 1 s).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/shipped_speed.py [--repeat 7]``

Median wall time of ``Pixelator.pixelate`` (generator, palette, grid; decode excluded) after one
warm-up call, for the default (at the resolution the model records: 2 pixels per cell side, a 512² pass, and
``--views auto``, one view at this size), one view (``--views 1``), no white margin round the picture (``--margin 0``), ``--palette-from picture``, without snapping (``--snap-colors 0``), without settling
(``--settle-flats 0``), anchoring with a plain blur (``--anchor-within 0``; the shipped model records 10), drawn in
2 and 8 orientations (``--views``), without colour anchoring
(``--anchor-colors 0``), eager torch,
``--pixels-per-cell 1`` (a 256² pass) and the classical method, all in this run. The load average is printed: on two cores it moves these times more
than anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pixelate import photo  # benchmarks/ is on sys.path when this runs as a script

from inference.pixelator import Pixelator


def median_seconds(px: Pixelator, img, repeat: int) -> float:  # noqa: ANN001
    px.pixelate(img)  # warm-up: ONNX export or cache load, thread pools
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        px.pixelate(img)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    img = photo(args.size, args.size)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for name, px in [
        ("shipped model, the default (--views auto)", Pixelator.shipped(cell_size=4)),
        ("shipped model, --views 1", Pixelator.shipped(cell_size=4, views=1)),
        ("shipped model, --margin 0", Pixelator.shipped(cell_size=4, margin=0)),
        ("shipped model, --palette-from picture", Pixelator.shipped(cell_size=4, palette_from="picture")),
        ("shipped model, --snap-colors 0", Pixelator.shipped(cell_size=4, snap_colors=0)),
        ("shipped model, --settle-flats 0", Pixelator.shipped(cell_size=4, settle_flats=0)),
        ("shipped model, --anchor-within 0", Pixelator.shipped(cell_size=4, anchor_within=0)),
        ("shipped model, --views 2", Pixelator.shipped(cell_size=4, views=2)),
        ("shipped model, --views 8", Pixelator.shipped(cell_size=4, views=8)),
        ("shipped model, --anchor-colors 0", Pixelator.shipped(cell_size=4, anchor_colors=0)),
        ("shipped model, --engine torch", Pixelator.shipped(cell_size=4, engine="torch")),
        ("shipped model, --pixels-per-cell 1", Pixelator.shipped(cell_size=4, pixels_per_cell=1)),
        ("classical method", Pixelator.classic(cell_size=4)),
    ]:
        where = "no generator" if px.is_classic else f"{px.engine}, {px.effective_pixels_per_cell()} px/cell"
        print(f"{name:<44} {median_seconds(px, img, args.repeat):.3f} s  ({where})")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

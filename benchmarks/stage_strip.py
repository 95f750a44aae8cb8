"""A labelled strip of held-out cases through several trained stages, to compare them by eye.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/stage_strip.py --run "v20 (shipped)=runs/cpu-native-v20" \
--run "stage 31=runs/cpu-native-v31" --out docs/img/model-stages.png``

Columns: the input, the classical method (the default), then each ``--run`` at ``--pixels-per-cell``
(2, as the shipped model runs); rows: the benchmark's cases whose name contains one of ``--cases``.
The numbers for the same cases come from ``benchmarks/quality.py``; this is the picture next to them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw
from quality import cartoon_cases, generated_cases  # benchmarks/ is on sys.path when this runs as a script

from inference.pixelator import Pixelator

CASES = ["cartoon head", "1F64E", "1F477", "1F4EC", "thin lines"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", default=[], metavar="LABEL=RUN", help="a column: its label and run folder")
    p.add_argument("--cases", nargs="*", default=CASES, help="rows: cases whose name contains one of these")
    p.add_argument("--pixels-per-cell", type=int, default=2)
    p.add_argument("--tile", type=int, default=176, help="tile side in pixels")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/stage-strip.png"))
    args = p.parse_args(argv)
    every = generated_cases() + cartoon_cases()
    cases = [c for part in args.cases for c in every if part in c.name]
    columns = [("input", lambda im: im), ("classical (default)", Pixelator.classic().pixelate)]
    for spec in args.run:
        label, _, run = spec.partition("=")
        if not run:
            p.error(f"--run {spec!r}: expected LABEL=RUN")
        columns.append((label, Pixelator.from_checkpoint(run, pixels_per_cell=args.pixels_per_cell).pixelate))
    side, head = args.tile, 22
    sheet = Image.new("RGB", (side * len(columns), head + side * len(cases)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, (label, _) in enumerate(columns):
        draw.text((j * side + 6, 5), label, fill=(0, 0, 0))
    for i, case in enumerate(cases):
        for j, (_, pixelate) in enumerate(columns):
            tile = pixelate(case.image).convert("RGB").resize((side, side), Image.Resampling.NEAREST)  # upscale only
            sheet.paste(tile, (j * side, head + i * side))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(cases)} cases x {len(columns)} columns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

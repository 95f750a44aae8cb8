"""A labelled strip of held-out cases through several trained stages, to compare them by eye.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/stage_strip.py --run "v20 (shipped)=runs/cpu-native-v20" \
--run "stage 31=runs/cpu-native-v31" --out docs/img/model-stages.png``

Columns: the input at the grid, the classical method (the default), then each ``--run`` at
``--pixels-per-cell`` (2, as the shipped model runs); rows: the benchmark's cases whose name contains
one of ``--cases``. A run may end with ``@OPTION=VALUE,...``: ``pixelate``'s options for that column
(``"settled=runs/x@palette_from=picture,settle_flats=2"``). It is ``benchmarks/quality.py``'s sheet with these columns.
The numbers for the same cases come from ``benchmarks/quality.py``; this is the picture next to them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from quality import sheet  # benchmarks/ is on sys.path when this runs as a script
from quality_cases import cartoon_cases, generated_cases

from inference.pixelator import Pixelator
from inference.shipped import DEFAULT_METHOD

CASES = ["cartoon head", "1F64E", "1F477", "1F4EC", "thin lines"]


def _value(text: str) -> object:
    """An option's value as written: a number where it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", action="append", default=[], metavar="LABEL=RUN[@OPTION=VALUE,...]",
                   help="a column: its label, run folder and any pixelate options (Pixelator keyword arguments)")
    p.add_argument("--cases", nargs="*", default=CASES, help="rows: cases whose name contains one of these")
    p.add_argument("--pixels-per-cell", type=int, default=2)
    p.add_argument("--tile", type=int, default=256, help="about this many pixels per tile side")
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/stage-strip.png"))
    args = p.parse_args(argv)
    # every held-out Kenney cartoon and 12 Twemoji (what options are chosen on), then Twemoji's next 23 (panel 3's page)
    every = generated_cases() + cartoon_cases(12) + cartoon_cases(23, skip=12)
    cases = [c for part in args.cases for c in every if part in c.name]
    classical = "classical (default)" if DEFAULT_METHOD == "classic" else "classical (--classic)"
    columns = {classical: Pixelator.classic().pixelate}
    for spec in args.run:
        label, _, run = spec.partition("=")
        if not run:
            p.error(f"--run {spec!r}: expected LABEL=RUN")
        run, _, extra = run.partition("@")
        options = {k: _value(v) for k, _, v in (item.partition("=") for item in extra.split(",") if item)}
        columns[label] = Pixelator.from_checkpoint(run, **{"pixels_per_cell": args.pixels_per_cell, **options}).pixelate
    outputs = {case.name: {label: pixelate(case.image) for label, pixelate in columns.items()} for case in cases}
    strip = sheet(cases, outputs, list(columns), args.tile)  # the quality benchmark's sheet, with these columns
    args.out.parent.mkdir(parents=True, exist_ok=True)
    strip.save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(cases)} cases x {len(columns)} columns)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

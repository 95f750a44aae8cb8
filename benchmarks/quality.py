"""Quality benchmark for `pixelate`: does the output look like pixel art and keep what matters?

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/quality.py [--quick] [--out benchmarks/out/quality]``

Inputs, all held out from training:

* generated cases with known truth (:mod:`pixelforge.testing.art_cases`): thin lines at every
  angle and grid phase, small key-colour regions in a busy scene, an outlined cartoon head;
* cartoons from ``/work/shared/corpus/cartoons`` whose file sha256 starts with ``0`` (the held-out
  rule: a trainer must leave these out of domain A), the first 5 Kenney and 5 Twemoji by sha256;
* the corpus photos (all 13; ``--quick`` takes 4), with key regions marked by eye below.

Methods: the classical path as on main (box average + k-means by pixel count: ``outlines=False,
key_colors=False``), the classical path now, the model shipped with the package (or ``--checkpoint``),
the same model with its palette fitted on the picture (``--palette-from picture``) and with the
generator's own colours (``--anchor-colors 0 --snap-colors 0``: no pull to the picture's colours) and with
the classical path's outline cells over its drawing (``--hold-lines``; with ``--hold-lines`` the model and
untrained-net rows hold their lines and this row is left out), an
untrained generator of the same architecture (random init, seed 0) through the same pipeline,
PixelOE (``pip install pixeloe``; 16-colour k-means, its own palette step) and
pyxelate (skipped when not importable: its PyPI release is a placeholder). Every input is cropped
to a multiple of the 4 px cell at the top-left so all methods share one grid.

Metrics per image (and totals): ΔE2000 and SSIM at the cell grid against the input reduced to the
grid; thin-line survival (input cells on a 1-2 px line, found by a 3x3 black top-hat of L* >= 20
or given by the case's truth, whose output cell or a neighbour shows at least half the line's
contrast); small features' contrast (per dark feature narrower than a cell, an eye or a brow, the
share of its contrast with its surroundings the output keeps at the grid, averaged per image, then
over images: a reduction that averages eyes into skin draws faces pale, which the line test does not
see); key-colour survival (per marked region, the smallest ΔE2000 between its colour and the
output colours in its cells); blended edge cells (the share of the output's edge cells whose colour lies
between their neighbours', what averaging makes of an edge) and lone cells (specks unlike all 8
neighbours), both of the output grid alone and read together; noise in flats (side-by-side cells the input
has as one flat colour and the output splits in two); cell purity; colours (<= 16); seconds per image. Writes
``results.json``, ``sheet.png`` (nearest-neighbour upscaled) and ``index.html`` to ``--out``
(totals and reports: ``benchmarks/quality_report.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from quality_cases import (  # benchmarks/ is on sys.path as a script
    CELL,
    PIPELINE,
    Case,
    K,
    _de,
    cartoon_cases,
    generated_cases,
    grid_of,
    photo_cases,
)
from quality_report import (
    card_metrics,
    paired_differences,
    paired_line,
    summarise,
    table,
    write_html,
)
from skimage.metrics import structural_similarity

from inference.grid import cell_purity
from inference.pixelator import Pixelator
from inference.postprocess import Cells, image_cells, palette_for, render
from inference.views import parse_views, views_label
from pixelforge.imaging import composite_on_white, count_colors
from pixelforge.model.recorded import MODEL_INPUTS
from pixelforge.testing.art_metrics import (
    blended_edges,
    features_kept,
    flat_noise,
    foreign_cells,
    line_survival,
    lone_cells,
)

# ----------------------------------------------------------------------------- metrics


def key_colour_errors(case: Case, out_grid: np.ndarray) -> list[tuple[str, float]]:
    rows, cols = out_grid.shape[:2]
    errors = []
    for name, mask, colour in case.regions:
        m = np.zeros((rows * CELL, cols * CELL), np.float64)
        m[: mask.shape[0], : mask.shape[1]] = mask
        share = m.reshape(rows, CELL, cols, CELL).mean(axis=(1, 3))
        cells = share >= 0.5 if (share >= 0.5).any() else share > 0
        if not cells.any():
            continue
        de = _de(np.asarray(colour, np.float64)[None], out_grid[cells])
        errors.append((name, float(de.min())))
    return errors


def measure(case: Case, out: Image.Image, seconds: float) -> dict:
    ref, got = case.grid, grid_of(out)
    win = min(7, min(ref.shape[:2]) // 2 * 2 - 1)
    ssim = structural_similarity(ref, got, channel_axis=2, data_range=255, win_size=win) if win >= 3 else float("nan")
    visible, total = line_survival(case.image, case.line_mask, got, CELL)
    keys = key_colour_errors(case, got)
    features = features_kept(case.features, got)
    blended, edges = blended_edges(got)
    lone, cells = lone_cells(got)
    broken, flat = flat_noise(ref, got)
    foreign, _ = foreign_cells(case.cell_lab, got, CELL)
    return {
        "de2000": float(_de(ref, got).mean()),
        "ssim": float(ssim),
        "lines_visible": visible,
        "lines_total": total,
        "features": float(np.mean(features)) if features else float("nan"),  # small features' contrast kept
        "features_n": len(features),
        "keys": keys,
        # pixel-art habits, judged on the output alone: in-between colours on edges, and specks
        "blended": blended / edges if edges else float("nan"),
        "lone": lone / cells,
        "flat_noise": broken / flat if flat else float("nan"),  # flat input pairs the output splits in two colours
        "foreign": foreign / cells,  # cells whose colour no nearby input pixel has
        "purity": cell_purity(out, CELL),
        "colours": count_colors(out),
        "seconds": seconds,
    }


# ----------------------------------------------------------------------------- methods


def medoid_grid(img: Image.Image) -> np.ndarray:
    """``(rows, cols, 3)``: each cell's medoid, the one of its own pixels' colours closest to the others (composited on white)."""
    rows, cols = -(-img.height // CELL), -(-img.width // CELL)
    arr = np.asarray(composite_on_white(img), np.float32)
    arr = np.pad(arr, ((0, rows * CELL - arr.shape[0]), (0, cols * CELL - arr.shape[1]), (0, 0)), mode="edge")
    blocks = arr.reshape(rows, CELL, cols, CELL, 3).transpose(0, 2, 1, 3, 4).reshape(rows, cols, CELL * CELL, 3)
    spread = np.median(np.abs(blocks[:, :, :, None] - blocks[:, :, None]).sum(-1), axis=-1)  # each pixel to the others
    return np.take_along_axis(blocks, spread.argmin(-1)[..., None, None], axis=2)[:, :, 0]


def crisp_cells(img: Image.Image) -> Image.Image:
    """A reference, not a method to use: every cell takes one of its own pixels' colours (the block's medoid),
    never a blend, then the classical palette. It is what blend-free edges, as a pixel artist draws them,
    cost under metrics measured against the plain cell average."""
    px = Pixelator.classic(outlines=False, key_colors=False)
    base = image_cells(img, CELL, px.options.alpha_threshold)
    cells = Cells(medoid_grid(img).astype(np.float64), base.opaque, base.size, base.cell)
    return render(cells, px.options, palette_for(cells, px.options))


def methods(
    checkpoint: str | None = None, pixels_per_cell: int | None = None, hold_lines: bool = False,
    model_input: str | None = None, views: int | None = None, keep_features: bool | None = None, margin: int | None = None,
    keep_highlights: bool = False, **pipeline: float | None,
) -> tuple[dict, list[str]]:
    """The methods by name; ``pipeline`` sets any of :data:`PIPELINE` (None: pixelate's default) for the model rows,
    ``views`` the orientations the generator draws (None: pixelate's default, auto), ``margin`` the white border it is
    shown (None: pixelate's default); the untrained net gets the same."""
    import torch

    from inference.pixelator import ModelOptions
    from pixelforge.model.networks import init_weights

    notes = []
    old = Pixelator.classic(outlines=False, key_colors=False)
    new = Pixelator.classic()
    # None: the resolution the model records (from_checkpoint), else 1
    # model_input None: the input the model records it was trained on
    load = {"pixels_per_cell": pixels_per_cell, "model_input": model_input, **({"views": views} if views is not None else {}),
            **({"margin": margin} if margin is not None else {})}
    model = Pixelator.from_checkpoint(checkpoint, **load) if checkpoint else Pixelator.shipped(**load)
    if model_input is not None:
        notes.append(f"model rows: generator input {model_input}")
    if views is not None:
        notes.append(f"model rows and untrained net: --views {views_label(views)}")
    if margin is not None:
        notes.append(f"model rows and untrained net: --margin {margin}")
    unknown = set(pipeline) - set(PIPELINE)
    if unknown:
        raise TypeError(f"methods() got unknown options {sorted(unknown)}")
    chosen = {k: v for k, v in pipeline.items() if v is not None}
    model = model.with_options(**chosen)
    if keep_features is not None:  # None: what the model records (pixelate --keep-features)
        model = model.with_options(keep_features=keep_features)
        notes.append(f"model rows and untrained net: --{'' if keep_features else 'no-'}keep-features")
    notes += [f"model rows: --{k.replace('_', '-')} {v:g}" for k, v in chosen.items()]
    torch.manual_seed(0)
    spec = model.spec  # the untrained network has the trained one's architecture and resolution: only training differs
    net = Pixelator(init_weights(spec.build()).eval(), spec, model=ModelOptions(
        pixels_per_cell=model.model.pixels_per_cell, model_input=model.model.model_input, views=model.model.views,
        margin=model.model.margin))
    # and the same pipeline after the generator
    net = net.with_options(hold_lines=hold_lines, keep_features=model.options.keep_features, keep_highlights=keep_highlights,
                           **{k: getattr(model.options, k) for k in PIPELINE})
    if keep_highlights:
        model = model.with_options(keep_highlights=True)
        notes.append("model rows and untrained net: --keep-highlights")
    if hold_lines:
        model = model.with_options(hold_lines=True)
        notes.append("model rows and untrained net: --hold-lines")
    if pixels_per_cell is not None:
        notes.append(f"generator pixels per cell side: {pixels_per_cell} (0 = full resolution)")
    else:  # a run folder records none (train publish does): say what the model ran at, so a page is not judged at 1
        notes.append(f"generator pixels per cell side: {model.model.pixels_per_cell} (the model's own; --pixels-per-cell to change)")
    name = "shipped model" if checkpoint is None else "model"
    found = {
        "classical (main)": old.pixelate,
        "classical (new)": new.pixelate,
        "crisp cells (reference)": crisp_cells,
        name: model.pixelate,
        # the same model, its palette fitted on the picture's cells (--palette-from picture)
        f"{name}, picture palette": model.with_options(palette_from="picture").pixelate,
        # the generator's colours as it drew them, coarse drift included (--anchor-colors 0 --snap-colors 0)
        f"{name}, own colours": model.with_options(anchor_colors=0, snap_colors=0).pixelate,
        "untrained net": net.pixelate,
    }
    if not hold_lines:  # the classical path's outline cells over the model's drawing (--hold-lines)
        found[f"{name}, lines held"] = model.with_options(hold_lines=True).pixelate
    if not keep_highlights:  # the picture's highlights the generator drew over, back (--keep-highlights)
        found[f"{name}, highlights kept"] = model.with_options(keep_highlights=True).pixelate
    if checkpoint:
        notes.append(f"model: {checkpoint}")
    try:
        from pixeloe.torch.pixelize import pixelize

        def pixeloe(img: Image.Image) -> Image.Image:
            x = torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1)[None]
            y = pixelize(x, pixel_size=CELL, thickness=2, mode="contrast", do_quant=True, num_colors=K, backend="torch")
            arr = (y[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
            return Image.fromarray(arr[: img.height, : img.width])

        found["PixelOE"] = pixeloe
    except Exception as exc:  # noqa: BLE001 - any failure means the peer is skipped, with the reason
        notes.append(f"PixelOE skipped: {type(exc).__name__}: {exc}")
    try:
        from pyxelate import Pyx  # type: ignore[import-not-found]

        def pyxelate(img: Image.Image) -> Image.Image:
            arr = np.asarray(img)
            small = Pyx(factor=CELL, palette=K).fit_transform(arr)
            return Image.fromarray(np.asarray(small, np.uint8)).resize(img.size, Image.Resampling.NEAREST)

        found["pyxelate"] = pyxelate
    except Exception as exc:  # noqa: BLE001
        notes.append(f"pyxelate skipped: {type(exc).__name__}: {exc} (its PyPI release is a placeholder)")
    return found, notes


# ----------------------------------------------------------------------------- report


def tile(img: Image.Image, side: int) -> Image.Image:
    """The picture at the cell grid, nearest-neighbour upscaled to about ``side`` px (for viewing only)."""
    grid = Image.fromarray(np.clip(np.round(grid_of(img)), 0, 255).astype(np.uint8))
    scale = max(1, side // max(grid.size))
    return grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)


def sheet(cases: list[Case], outputs: dict[str, dict[str, Image.Image]], names: list[str], side: int) -> Image.Image:
    cols = ["input (at the grid)"] + names
    head = 18
    tiles = {(c.name, n): tile(outputs[c.name][n] if n in outputs[c.name] else c.image, side) for c in cases for n in cols}
    row_h = [max(tiles[(c.name, n)].height for n in cols) + head for c in cases]
    col_w = [max(tiles[(c.name, n)].width for c in cases) + 6 for n in cols]
    out = Image.new("RGB", (sum(col_w), sum(row_h)), (255, 255, 255))
    d = ImageDraw.Draw(out)
    y = 0
    for c, rh in zip(cases, row_h):
        x = 0
        for n, cw in zip(cols, col_w):
            label = f"{c.name} | {n}" if n == cols[0] else n
            fits = max(4, (cw - 6) // 6)  # the default font is ~6 px a character: a label never runs into the next
            d.text((x + 2, y + 3), label if len(label) <= fits else label[: fits - 1] + "…", fill=(0, 0, 0))
            out.paste(tiles[(c.name, n)], (x, y + head))
            x += cw
        y += rh
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/quality"))
    p.add_argument("--quick", action="store_true", help="4 photos, 2+2 cartoons")
    p.add_argument("--cartoons", type=int, default=5, metavar="N",
                   help="held-out cartoons per source, Kenney and Twemoji (default 5, as the model card; 12 takes all 11 "
                        "held-out Kenney and 12 Twemoji, the blind page's set)")
    p.add_argument("--cartoon-prefixes", default="0", metavar="HEX",
                   help="take cartoons whose sha256 starts with one of these digits (default 0, the held-out split; "
                        "e.g. 12: training pictures, to check that a choice made on the held-out ones carries over)")
    p.add_argument("--only", nargs="*", help="run only these methods")
    p.add_argument("--cases", nargs="*", help="run only cases whose name contains one of these")
    p.add_argument("--tile", type=int, default=256, help="tile side on the sheet")
    p.add_argument("--checkpoint", help="a run or checkpoint folder to measure instead of the shipped model")
    p.add_argument("--pixels-per-cell", type=int, help="generator resolution for the model and the untrained net "
                   "(pixelate --pixels-per-cell; default: the model's own)")
    for option in PIPELINE:
        flag = "--" + option.replace("_", "-")
        p.add_argument(flag, type=float, help=f"model and untrained net: pixelate {flag} (default: its default)")
    p.add_argument("--hold-lines", action="store_true", help="model and untrained net: pixelate --hold-lines")
    p.add_argument("--keep-features", action=argparse.BooleanOptionalAction,
                   help="model and untrained net: pixelate --keep-features (default: what the model records)")
    p.add_argument("--keep-highlights", action="store_true", help="model and untrained net: pixelate --keep-highlights")
    p.add_argument("--model-input", choices=MODEL_INPUTS, help="model and untrained net: the generator's input; all but lines "
                   "draw the picture's feature cells into it (default: what the model records it was trained on)")
    p.add_argument("--views", type=parse_views, metavar="{auto,1,2,4,8}",
                   help="model and untrained net: pixelate --views (default auto, as pixelate)")
    p.add_argument("--margin", type=int, help="model and untrained net: pixelate --margin (default: pixelate's)")
    p.add_argument("--metrics", type=Path, help="also write the model's and classical totals here (a run's metrics.json)")
    args = p.parse_args(argv)
    cases = generated_cases() + cartoon_cases(2 if args.quick else args.cartoons, args.cartoon_prefixes) + photo_cases(args.quick)
    if args.cases:
        cases = [c for c in cases if any(part in c.name for part in args.cases)]
    found, notes = methods(args.checkpoint, args.pixels_per_cell, args.hold_lines, args.model_input, args.views,
                           args.keep_features, args.margin, args.keep_highlights, **{k: getattr(args, k) for k in PIPELINE})
    if args.only:
        found = {n: f for n, f in found.items() if n in args.only}
    names = list(found)
    results: dict[str, dict[str, dict]] = {}
    outputs: dict[str, dict[str, Image.Image]] = {}
    for case in cases:
        results[case.name], outputs[case.name] = {}, {}
        for n, fn in found.items():
            t = time.perf_counter()
            out = fn(case.image)
            dt = time.perf_counter() - t
            outputs[case.name][n] = out
            results[case.name][n] = measure(case, out, dt)
            r = results[case.name][n]
            print(
                f"{case.name[:34]:<35}{n:<18} ΔE {r['de2000']:5.2f} SSIM {r['ssim']:.3f} lines {r['lines_visible']:>4}/{r['lines_total']:<4} "
                f"keys {' '.join(f'{e:.0f}' for _, e in r['keys'])} colours {r['colours']} {dt:.2f}s",
                file=sys.stderr,
            )
    total = summarise(results, names)
    kinds = {c.name: c.group for c in cases}
    groups = {k: {c: r for c, r in results.items() if kinds[c] == k} for k in sorted(set(kinds.values()))}
    by_kind = {k: summarise(group, names) for k, group in groups.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"total": total, "per_image": results, "notes": notes}, indent=1))
    sheet(cases, outputs, names, args.tile).save(args.out / "sheet.png")
    write_html(args.out, results, total, names, notes)
    print(table(total))
    paired = {}  # per group, the model minus the classical method per picture, with intervals
    for kind, sub in by_kind.items():
        print(f"\n{kind} ({len(groups[kind])} images)\n{table(sub)}")
        for n in (m for m in ("model", "shipped model") if m in sub and "classical (new)" in sub):
            paired[kind] = paired_differences(groups[kind], n, "classical (new)")
            print(f"{n} minus classical (new), mean per picture [95% bootstrap interval]: {paired_line(paired[kind])}")
    if args.metrics:  # for a model card: `train publish` puts metrics.json beside the card
        args.metrics.write_text(json.dumps(card_metrics(total, by_kind, argv, paired.get("cartoon")), indent=1))
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

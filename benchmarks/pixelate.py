"""Benchmark `pixelate`: model path vs a plain full-resolution reference, classical path, 4096² memory.

Run: ``.venv/bin/python benchmarks/pixelate.py [--quick] [--skip-large] [--checkpoint runs/NAME]``

The generator pass alone, every engine at equal work (same resolution and weights, the fp32 eager
pass as reference in the same run, all cores):
``.venv/bin/python benchmarks/pixelate.py --generator [--gen-sizes 256,1024] [--gen-specs small,reference]``

Everything is measured in this run, side by side:

* reference: a plain fp32 eager ResnetGenerator (ngf 64, 9 blocks, random init, seed 0) on the
  whole picture at full resolution, as the reference test script runs it;
* ours: :class:`inference.Pixelator` with the same weights (default engine: ONNX Runtime on CPU), end to end (decode excluded, palette,
  grid and output included), at 1 and 2 generator pixels per cell;
* quality: colours <= k, cell purity, SSIM between input and output both reduced to the cell grid,
  and the difference to full-resolution inference at that cell size (mean OKLab distance of the
  cell colours before the palette and of the final cells, SSIM at the grid).

By default the weights are random (no trained checkpoint ships with the repository), so the
difference columns say how much the reduced resolution changes what *that* network computes,
not how a trained one looks; pass ``--checkpoint runs/NAME`` to measure a trained generator.

Times on a shared machine vary with what else runs. The script measures the reference's slowdown
against the issue's idle figures (the load factor) and judges the model targets on time divided
by it; raw times and same-run speedups are printed beside.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _generator_pass import SPECS, compare  # benchmarks/ is on sys.path when this runs as a script
from PIL import Image

from inference.grid import cell_means, cell_purity
from inference.pixelator import ModelOptions, Pixelator
from inference.postprocess import Cells, PixelArtOptions, choose_palette, render
from pixelforge.color import srgb_to_oklab
from pixelforge.imaging import composite_on_white, count_colors
from pixelforge.model.loading import load_generator
from pixelforge.model.networks import GeneratorSpec, init_weights

CELL, K = 4, 16
TARGETS = {("model", 1024): 2.0, ("model", 512): 0.6, ("classic", 1920): 0.5}
#: The issue's reference times on this 2-core machine when idle (plain fp32 eager, full resolution).
ISSUE_REFERENCE = {256: 0.59, 512: 2.6, 1024: 12.1}


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like test picture: sky gradient, sun, hills, textured ground, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = x / width, y / height
    img = np.zeros((height, width, 3), np.float32)
    img[..., 0] = 90 + 120 * v
    img[..., 1] = 140 + 80 * v
    img[..., 2] = 230 - 40 * v
    sun = (u - 0.72) ** 2 + (v - 0.25) ** 2 < 0.01
    img[sun] = (255, 220, 120)
    hill = v > 0.55 + 0.08 * np.sin(u * 9) + 0.04 * np.sin(u * 23)
    tex = 20 * np.sin(x / 5.0) * np.cos(y / 7.0)
    img[hill] = np.stack([60 + tex, 130 + tex + 40 * v, 50 + tex * 0.5], -1)[hill]
    house = (abs(u - 0.3) < 0.08) & (v > 0.5) & (v < 0.7)
    img[house] = (170, 60, 50)
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def ssim(a: np.ndarray, b: np.ndarray, win: int = 7) -> float:
    """Mean SSIM (Wang et al. 2004) of two luma images with a ``win``x``win`` uniform window."""

    def luma(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        return x @ np.array([0.299, 0.587, 0.114]) if x.ndim == 3 else x

    a, b = luma(a), luma(b)

    def box(x: np.ndarray) -> np.ndarray:
        c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), 0), 1)
        return (c[win:, win:] - c[:-win, win:] - c[win:, :-win] + c[:-win, :-win]) / (win * win)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = box(a), box(b)
    va, vb, cov = box(a * a) - ma**2, box(b * b) - mb**2, box(a * b) - ma * mb
    s = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
    return float(s.mean())


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def grid_ssim(src: Image.Image, out: Image.Image) -> float:
    return ssim(cell_means(np.asarray(composite_on_white(src)), CELL)[0], cell_means(np.asarray(composite_on_white(out)), CELL)[0])


def reference_forward(net: torch.nn.Module, img: Image.Image) -> np.ndarray:
    x = torch.from_numpy(np.asarray(img, np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = net(x)
    return ((y[0].permute(1, 2, 0).numpy() + 1.0) * 127.5).clip(0, 255)


def run_large(skip: bool, tiled: bool) -> list[str]:
    """4096² through the default model path in a fresh process: time and peak RSS (target <= 3 GB)."""
    if skip:
        return ["4096² memory check skipped (--skip-large)"]
    script = """
import resource, sys, time, numpy as np, torch
from PIL import Image
from inference.pixelator import Pixelator
from pixelforge.model.networks import GeneratorSpec, init_weights
torch.manual_seed(0)
spec = GeneratorSpec()
tile = int(sys.argv[1])
from inference.postprocess import PixelArtOptions
from inference.pixelator import ModelOptions
px = Pixelator(init_weights(spec.build()).eval(), spec, PixelArtOptions(), ModelOptions(tile=tile))
rng = np.random.default_rng(0)
img = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).resize((4096, 4096), Image.Resampling.NEAREST)
t = time.perf_counter()
out = px.pixelate(img)
dt = time.perf_counter() - t
print(f"{dt:.2f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} {out.size[0]}x{out.size[1]}")
"""
    lines = []
    cases = [(1024, "default (1024² generator pass, untiled)")]
    if tiled:
        cases.append((512, "forced tiling (512² tiles, 2 passes)"))
    for tile, label in cases:
        res = subprocess.run(
            [sys.executable, "-c", script, str(tile)], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]
        )
        if res.returncode != 0:
            lines.append(f"4096² {label}: FAILED {res.stderr.strip().splitlines()[-1:]}")
            continue
        secs, gib, size = res.stdout.split()
        ok = "PASS" if float(gib) <= 3.0 else "MISS"
        lines.append(f"4096² {label:<40} {float(secs):7.2f} s   peak RSS {float(gib):.2f} GiB (target <= 3 GiB: {ok})  out {size}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--checkpoint", help="measure with a trained generator (any form `pixelate --checkpoint` takes) instead of random weights"
    )
    parser.add_argument("--quick", action="store_true", help="one repetition per measure")
    parser.add_argument("--skip-large", action="store_true", help="skip the 4096² memory check (about 15 s on an idle machine)")
    parser.add_argument("--tiled-large", action="store_true", help="also run 4096² through forced 512² tiles (about 20x slower)")
    gen = parser.add_argument_group("generator pass at equal work (every engine vs fp32 eager torch)")
    gen.add_argument("--generator", action="store_true", help="run only the generator-pass comparison")
    gen.add_argument("--skip-generator", action="store_true", help="skip the generator-pass comparison")
    gen.add_argument("--gen-sizes", default="256,1024", help="square sizes in generator pixels (default 256,1024)")
    gen.add_argument("--gen-specs", default="shipped,reference", help=f"generator specs, from {', '.join(SPECS)} (default shipped,reference; shipped = the trained shipped weights)")
    gen.add_argument("--gen-repeat", type=int, default=5, help="interleaved repeats per size; the median is reported (default 5)")
    gen.add_argument("--no-int8", action="store_true", help="leave out the int8 (ONNX Runtime QDQ) candidates")
    gen.add_argument("--gen-profile", action="store_true", help="also print ONNX Runtime's kernel time per operator")
    gen.add_argument("--gen-threads", type=int, default=0, help="threads for every engine (default 0: all cores)")
    gen.add_argument("--torch-compile", action="store_true", help="also try torch.compile (minutes of compiling per input size)")
    args = parser.parse_args()
    rep = 1 if args.quick else 3
    if args.generator or not args.skip_generator:
        sizes = [int(s) for s in args.gen_sizes.split(",")]
        compare(photo, sizes, args.gen_specs.split(","), 1 if args.quick else args.gen_repeat, not args.no_int8, args.gen_profile,
                args.torch_compile, args.gen_threads)
        print()
        if args.generator:
            return 0

    torch.manual_seed(0)
    if args.checkpoint:
        net, spec = load_generator(args.checkpoint)
        origin = f"trained, from {args.checkpoint}"
    else:
        spec = GeneratorSpec()
        net = init_weights(spec.build()).eval()
        origin = "random init, seed 0"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; generator {spec} ({origin})\n")

    # ---------------------------------------------------------------- reference, full resolution
    ref_time: dict[int, float] = {}
    ref_out: dict[int, np.ndarray] = {}
    for size in (128, 256, 512, 1024):
        img = photo(size, size)
        reference_forward(net, photo(64, 64))  # warm-up
        ref_time[size], ref_out[size] = timed(lambda img=img: reference_forward(net, img), 1 if size == 1024 else rep)
    print("reference: plain fp32 eager generator, full resolution (issue, idle machine: 0.59 s / 2.6 s / 12.1 s)")
    for size, t in ref_time.items():
        factor = f"   load factor vs the issue's idle figure: {t / ISSUE_REFERENCE[size]:.2f}x" if size in ISSUE_REFERENCE else ""
        print(f"  {size}²: {t:6.2f} s{factor}")
    # Other work on a shared machine slows everything alike; dividing by the reference's slowdown
    # at the same size gives the time this code would take on the idle machine the targets assume.
    load = {size: max(1.0, ref_time[size] / ISSUE_REFERENCE[size]) for size in ISSUE_REFERENCE}
    ours_default: dict[int, float] = {}

    # ---------------------------------------------------------------- model path
    header = (
        f"\n{'measure':<42}{'time':>8}{'idle*':>8}{'ref':>8}{'speedup':>9}{'target':>8}  {'ok':<5}"
        f"{'colours':>8}{'purity':>8}{'SSIM':>7}{'dE vs full':>11}{'dE final':>11}{'SSIM vs full':>13}"
    )
    print(header)
    print("-" * (len(header) - 1))
    for size in (512, 1024):
        img = photo(size, size)
        full_cells = Cells(cell_means(ref_out[size], CELL)[0], None, img.size, CELL)
        options = PixelArtOptions(cell_size=CELL, palette=str(K))
        full_img = render(full_cells, options, choose_palette(full_cells, options.palette_spec))
        for ppc in (1, 2, 0):
            if ppc == 0 and size == 1024 and args.quick:
                continue
            px = Pixelator(net, spec, options, ModelOptions(pixels_per_cell=ppc))
            px.pixelate(photo(64, 64))  # warm-up
            t, out = timed(lambda px=px, img=img: px.pixelate(img), 1 if ppc == 0 else rep)
            cells = px.cells(img)
            de = np.sqrt(((srgb_to_oklab(cells.colors) - srgb_to_oklab(full_cells.colors)) ** 2).sum(-1)).mean() * 100
            final = np.asarray(out)[::CELL, ::CELL].reshape(-1, 3)
            ref_final = np.asarray(full_img)[::CELL, ::CELL].reshape(-1, 3)
            de_final = np.sqrt(((srgb_to_oklab(final) - srgb_to_oklab(ref_final)) ** 2).sum(-1)).mean() * 100
            if ppc == 1:
                ours_default[size] = t
            target = TARGETS.get(("model", size)) if ppc == 1 else None
            idle = t / load[size]
            ok = "" if target is None else ("PASS" if idle <= target else "MISS")
            name = {0: "full resolution", 1: "1 px/cell (default)", 2: "2 px/cell"}[ppc]
            print(
                f"{f'model {size}² cell {CELL}, {name}':<42}{t:7.2f}s{idle:7.2f}s{ref_time[size]:7.2f}s{ref_time[size] / t:8.1f}x"
                f"{'' if target is None else f'{target:.1f}s':>8}  {ok:<5}{count_colors(out):>8}{cell_purity(out, CELL):>8.3f}"
                f"{grid_ssim(img, out):>7.3f}{de:>11.2f}{de_final:>11.2f}{ssim(np.asarray(out)[::CELL, ::CELL], np.asarray(full_img)[::CELL, ::CELL]):>13.3f}"
            )

    print("\nthe default path runs the generator at one pixel per cell; against a plain reference pass at that size:")
    for size, t in ours_default.items():
        work = size // CELL
        # the issue gives no idle 128² figure: extrapolate its 256² one quadratically (its own
        # numbers grow 4.4x per doubling, so this is if anything optimistic about the reference)
        idle_ref = ISSUE_REFERENCE.get(work, ISSUE_REFERENCE[256] * (work / 256) ** 2)
        print(
            f"  {size}² end to end {t:.2f} s vs reference generator alone at {work}² {ref_time[work]:.2f} s "
            f"(pipeline overhead {t / ref_time[work]:.2f}x; idle estimate {t / ref_time[work] * idle_ref:.2f} s)"
        )

    # ---------------------------------------------------------------- classical path
    img = photo(1920, 1080)
    px = Pixelator.classic()
    px.pixelate(photo(64, 64))
    t, out = timed(lambda: px.pixelate(img), 5 if rep > 1 else 1)
    target = TARGETS[("classic", 1920)]
    # the classical path is mostly single-threaded numpy, which load slows differently: judged on raw time
    print(
        f"{'classical 1920x1080 cell 4':<42}{t:7.2f}s{'-':>8}{'':>8}{'':>9}{f'{target:.1f}s':>8}  {'PASS' if t <= target else 'MISS':<5}"
        f"{count_colors(out):>8}{cell_purity(out, CELL):>8.3f}{grid_ssim(img, out):>7.3f}"
    )
    for method in ("ordered", "floyd"):
        pxd = Pixelator.classic(dither=method)
        t, out = timed(lambda pxd=pxd: pxd.pixelate(img), 1)
        print(
            f"{f'classical 1920x1080, dither {method}':<42}{t:7.2f}s{'-':>8}{'':>8}{'':>9}{'':>8}  {'':<5}"
            f"{count_colors(out):>8}{cell_purity(out, CELL):>8.3f}{grid_ssim(img, out):>7.3f}"
        )
    print(
        "\ncolumns: idle* = time / load factor (the reference's slowdown vs the issue's idle figures, measured above); "
        "model PASS/MISS judge idle*, classical PASS/MISS the raw time;\nspeedup = reference full-resolution time at that size / ours; colours <= 16; purity = share of "
        "single-colour cells;\nSSIM = input vs output at the cell grid; dE vs full = mean OKLab distance x100 of cell "
        "colours vs full-resolution inference (before palette; ~2 is a just-noticeable difference);\n"
        "dE final / SSIM vs full = final output vs full-resolution inference with its own 16-colour palette, at the cell grid.\n"
    )
    for line in run_large(args.skip_large, args.tiled_large):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

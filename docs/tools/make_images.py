"""Regenerate the pictures under docs/img/ from the bundled fixture art (CPU, a few seconds).

    python docs/tools/make_images.py              # into docs/img
    python docs/tools/make_images.py --out DIR    # elsewhere (tests/test_docs_images.py compares the two)

Every picture is made with the project's own code (the classical pixelate method, native-grid
recovery, `curate run`), so a behaviour change shows up here when the script is re-run, and
tests/test_docs_images.py fails until it is. Run it from the repository root; it writes only those PNGs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[2]
ART = REPO / "tests" / "fixtures" / "art"
OUT = REPO / "docs" / "img"
BG = (255, 255, 255)
INK = (40, 40, 48)
ACCENT = (230, 60, 90)


def font(size: int = 14) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def on_white(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, BG + (255,))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


def zoom(img: Image.Image, k: int) -> Image.Image:
    return img.resize((img.width * k, img.height * k), Image.Resampling.NEAREST)


def save(img: Image.Image, name: str) -> None:
    path = OUT / name
    # pixel art has few colours: an adaptive palette keeps the file small and the pixels exact
    img = img.convert("RGB")
    if len(img.getcolors(1 << 16) or range(257)) <= 256:
        img = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    img.save(path, optimize=True)
    print(f"wrote {_shown(path)} ({path.stat().st_size:,} B, {img.width}x{img.height})")


def _shown(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def hero() -> None:
    """Three cartoon characters and what `pixelate` (classical method, defaults) makes of them."""
    from inference import Pixelator

    px = Pixelator.classic(cell_size=4, palette="16")
    names = ["femaleAdventurer_idle", "zombie_idle", "robot_idle"]
    pairs = []
    for name in names:
        src = Image.open(ART / "cartoon" / f"{name}.png")
        pairs.append((on_white(src), on_white(px.pixelate(src))))
    w, h = pairs[0][0].size
    k, gap, pad = 2, 12, 16
    arrow = 36
    pair_w = 2 * w * k + arrow
    canvas = Image.new("RGB", (pad * 2 + len(pairs) * pair_w + (len(pairs) - 1) * gap * 3, h * k + pad * 2), BG)
    draw = ImageDraw.Draw(canvas)
    x = pad
    for before, after in pairs:
        canvas.paste(zoom(before, k), (x, pad))
        ax = x + w * k
        mid = pad + h * k // 2
        draw.line([(ax + 8, mid), (ax + arrow - 8, mid)], fill=INK, width=3)
        draw.polygon([(ax + arrow - 6, mid), (ax + arrow - 14, mid - 6), (ax + arrow - 14, mid + 6)], fill=INK)
        canvas.paste(zoom(after, k), (ax + arrow, pad))
        x += pair_w + gap * 3
    save(canvas, "hero.png")


def palettes() -> None:
    """Three characters through four palettes and three dithering modes (cell size 4)."""
    from inference import Pixelator

    names = ["femaleAdventurer_idle", "zombie_idle", "robot_idle"]
    chars = [on_white(Image.open(ART / "cartoon" / f"{n}.png")) for n in names]
    src = Image.new("RGB", (sum(c.width for c in chars), max(c.height for c in chars)), BG)
    x = 0
    for c in chars:
        src.paste(c, (x, 0))
        x += c.width
    rows = ["16", "pico8", "gameboy", "nes"]
    cols = ["none", "ordered", "floyd"]
    cw, ch = src.size
    label_w, label_h, gap = 96, 26, 8
    canvas = Image.new("RGB", (label_w + len(cols) * (cw + gap), label_h + len(rows) * (ch + gap)), BG)
    draw = ImageDraw.Draw(canvas)
    f = font(15)
    for j, dither in enumerate(cols):
        draw.text((label_w + j * (cw + gap) + 4, 4), f"--dither {dither}", fill=INK, font=f)
    for i, palette in enumerate(rows):
        y = label_h + i * (ch + gap)
        draw.text((4, y + ch // 2 - 18), "--palette", fill=INK, font=f)
        draw.text((4, y + ch // 2), palette, fill=INK, font=f)
        for j, dither in enumerate(cols):
            out = Pixelator.classic(cell_size=4, palette=palette, dither=dither).pixelate(src)
            canvas.paste(on_white(out), (label_w + j * (cw + gap), y))
    save(canvas, "palettes.png")


def native_grid() -> Image.Image:
    """The fixture car upscaled x4, cropped by (3, 1) px and saved as JPEG q85; the grid found; the native pixels."""
    from curation.stages.native import NativeConfig, recover_native

    car = Image.open(ART / "pixel" / "synth-car-idle.png")
    big = zoom(car, 4).crop((3, 1, 736, 272))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "car_x4.jpg"
        on_white(big).save(path, quality=85)
        jpeg = Image.open(path)
        jpeg.load()
    res = recover_native(jpeg, NativeConfig(snap_colors=True))
    (sx, sy), (phx, phy) = res.scale, res.phase
    sx, sy = int(round(sx)), int(round(sy))
    # a window of 26x22 cells around the rear wheel
    cx0, cy0, ncx, ncy = 22, 38, 26, 22
    x0, y0 = phx + cx0 * sx, phy + cy0 * sy
    window = jpeg.crop((x0, y0, x0 + ncx * sx, y0 + ncy * sy)).convert("RGB")
    kz = 3
    left = zoom(window, kz)
    draw = ImageDraw.Draw(left)
    for i in range(ncx + 1):
        draw.line([(i * sx * kz, 0), (i * sx * kz, left.height)], fill=ACCENT, width=1)
    for j in range(ncy + 1):
        draw.line([(0, j * sy * kz), (left.width, j * sy * kz)], fill=ACCENT, width=1)
    native = on_white(res.image).crop((cx0, cy0, cx0 + ncx, cy0 + ncy))
    right = zoom(native, sx * kz)
    gap, pad, label = 40, 12, 24
    canvas = Image.new("RGB", (pad * 2 + left.width + gap + right.width, pad + label + left.height + pad), BG)
    d = ImageDraw.Draw(canvas)
    f = font(15)
    d.text((pad, pad), f"JPEG input, x{sx} cells, phase {res.phase}: grid found", fill=INK, font=f)
    d.text((pad + left.width + gap, pad), f"recovered native pixels ({len(native.getcolors(1 << 16))} colours here)", fill=INK, font=f)
    canvas.paste(left, (pad, pad + label))
    canvas.paste(right, (pad + left.width + gap, pad + label))
    mid = pad + label + left.height // 2
    ax = pad + left.width + 6
    d.line([(ax, mid), (ax + gap - 14, mid)], fill=INK, width=3)
    d.polygon([(ax + gap - 10, mid), (ax + gap - 18, mid - 6), (ax + gap - 18, mid + 6)], fill=INK)
    save(canvas, "native-grid.png")
    return jpeg


def curated_fixtures(tmp: Path) -> Path:
    """`curate run` on the bundled pixel art (13 files) plus two copies of the car: 3x upscaled, and with a margin."""
    raw = tmp / "raw"
    raw.mkdir()
    for path in (ART / "pixel").glob("*.png"):
        (raw / path.name).write_bytes(path.read_bytes())
    car = Image.open(ART / "pixel" / "synth-car-idle.png")
    car.resize((car.width * 3, car.height * 3), Image.NEAREST).save(raw / "synth-car-idle-x3.png")
    margin = Image.new("RGBA", (car.width + 24, car.height + 24), (0, 0, 0, 0))
    margin.paste(car, (12, 12))
    margin.save(raw / "synth-car-idle-margin.png")
    out = tmp / "pixel"
    subprocess.run(
        [sys.executable, "-m", "curation", "run", "--input", str(raw), "--output", str(out),
         "--no-progress", "--workers", "1"],
        check=True, cwd=REPO, stdout=subprocess.DEVNULL,
    )
    return out


def dedup(dataset: Path, raw: Path) -> None:
    """The car, its 3x upscale and its copy with a margin are one cluster: one is kept. The car's four running frames
    are other drawings and stay apart (curation/artwork.py confirms every near pair at native size)."""
    report = json.loads((dataset / "curation_report.json").read_text())
    cluster = max(report["clusters"], key=lambda c: c["size"])
    names = [i["url"] for i in cluster["inputs"]]
    assert len(names) == 3, names  # the car and its two copies, nothing else
    import pyarrow.parquet as pq

    rows = [r for part in sorted((dataset / "data").glob("*.parquet"))
            for r in pq.read_table(part, columns=["pixel_sha256", "url"]).to_pylist()]
    kept = next(Path(r["url"]).name for r in rows if r["pixel_sha256"] == cluster["kept"])
    dropped = [n for n in names if n != kept]
    frames = sorted((ART / "pixel").glob("synth-car-running*.png"))
    f = font(14)
    pad, gap, label = 14, 12, 22
    big = on_white(Image.open(raw / kept))
    copies = [on_white(Image.open(raw / n)) for n in dropped]
    small = [on_white(Image.open(p)) for p in frames]
    top = max([big.height] + [c.height for c in copies])
    width = max(pad * 2 + big.width + sum(c.width + gap for c in copies) + gap,
                pad * 2 + sum(s.width + gap for s in small))
    height = pad * 2 + label + top + gap + label * 2 + small[0].height + label
    canvas = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(canvas)
    d.text((pad, pad), f"kept: {kept}", fill=INK, font=f)
    canvas.paste(big, (pad, pad + label))
    d.rectangle([pad - 3, pad + label - 3, pad + big.width + 2, pad + label + big.height + 2], outline=(40, 170, 90), width=3)
    x = pad + big.width + gap * 2
    d.text((x, pad), f"dropped as duplicates ({len(copies)})", fill=INK, font=f)
    for name, img in zip(dropped, copies):
        canvas.paste(Image.blend(img, Image.new("RGB", img.size, BG), 0.45), (x, pad + label))
        d.text((x, pad + label + img.height + 2), name, fill=(120, 120, 120), font=font(12))
        x += img.width + gap
    y = pad + label + top + gap + label
    d.text((pad, y), "kept apart: the car's running frames, each another drawing", fill=INK, font=f)
    x = pad
    for path, img in zip(frames, small):
        canvas.paste(img, (x, y + label))
        d.text((x, y + label + img.height + 2), path.name, fill=(120, 120, 120), font=font(12))
        x += img.width + gap
    save(canvas, "dedup-cluster.png")


def samples(dataset: Path) -> None:
    """The sample grid `curate card` writes into every dataset folder (samples.png), as it is."""
    Image.open(dataset / "samples.png").save(OUT / "card-samples.png", optimize=True)
    print(f"wrote {_shown(OUT / 'card-samples.png')} ({(OUT / 'card-samples.png').stat().st_size:,} B)")


def tiling() -> None:
    """How a large picture goes through the generator: overlapping tiles, linear blending ramps."""
    from inference.model_options import ModelOptions
    from inference.tiling import ramp, tile_starts

    opts = ModelOptions()
    h, w = 1800, 2600  # generator pixels (e.g. a 7200x10400 photo at cell 4, 1 px per cell)
    tile, overlap = opts.tile, min(opts.overlap, opts.tile // 4)
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    k = 0.22  # drawing scale
    pad, label = 16, 26
    iw, ih = int(w * k), int(h * k)
    plot_h = 110
    canvas = Image.new("RGB", (pad * 2 + iw, pad + label + ih + 30 + plot_h + pad), BG)
    d = ImageDraw.Draw(canvas, "RGBA")
    f = font(14)
    d.text((pad, pad), f"{w}x{h} generator pixels, --tile {tile}, overlap {overlap}: {len(xs) * len(ys)} tiles",
           fill=INK, font=f)
    top = pad + label
    d.rectangle([pad, top, pad + iw, top + ih], fill=(236, 240, 248), outline=INK, width=2)
    colours = [(66, 133, 244, 70), (234, 67, 53, 70), (52, 168, 83, 70), (251, 188, 5, 80)]
    for a, y in enumerate(ys):
        for b, x in enumerate(xs):
            c = colours[(a % 2) * 2 + (b % 2)]
            box = [pad + int(x * k), top + int(y * k), pad + int((x + tile) * k), top + int((y + tile) * k)]
            d.rectangle(box, fill=c, outline=c[:3] + (255,), width=2)
    # blend weight along the top row of tiles
    py = top + ih + 30
    d.text((pad, py - 22), "blend weight along x (linear ramps over the overlap; 1 at the picture's edges)", fill=INK, font=f)
    d.line([(pad, py + plot_h), (pad + iw, py + plot_h)], fill=INK, width=1)
    for b, x in enumerate(xs):
        wx = ramp(tile, overlap, x == 0, x + tile == w)
        c = colours[b % 2][:3]
        pts = [(pad + (x + i) * k, py + plot_h - wx[i] * (plot_h - 10)) for i in range(0, tile, 4)]
        d.line(pts, fill=c, width=3)
    save(canvas, "tiling.png")


def main(argv: list[str] | None = None) -> int:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the pictures go (default docs/img)")
    OUT = parser.parse_args(argv).out
    OUT.mkdir(parents=True, exist_ok=True)
    hero()
    palettes()
    native_grid()
    with tempfile.TemporaryDirectory() as tmp:
        dataset = curated_fixtures(Path(tmp))
        dedup(dataset, Path(tmp) / "raw")
        samples(dataset)
    tiling()
    total = sum(p.stat().st_size for p in OUT.glob("*") if p.is_file())
    print(f"{_shown(OUT)}: {total:,} B in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())

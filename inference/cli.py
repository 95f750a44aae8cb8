"""`pixelate`: turn photos, folders, GIFs and videos into pixel art."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from inference.dither import METHODS
from inference.inputs import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputError,
    InputItem,
    collect_inputs,
    read_input,
)
from inference.onnx_engine import ENGINES
from inference.palette import NAMED_PALETTES, PaletteError
from inference.pixelator import ModelOptions, Pixelator
from inference.postprocess import ANCHOR_SIGMA, ANCHOR_WITHIN, PALETTE_SOURCES, SETTLE_DE, SNAP_DE
from inference.report import Summary, write_preview
from inference.shipped import DEFAULT_METHOD, SHIPPED_NAME, shipped_card
from inference.video import pixelate_gif, pixelate_video
from inference.views import VIEWS
from pixelforge.imaging import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_TOTAL_PIXELS,
    FrameBudget,
    ImageDecodeError,
    count_frames,
    open_image,
    png_bytes,
)
from pixelforge.io import atomic_path, atomic_write
from pixelforge.model.checkpoint import CheckpointError
from pixelforge.model.hub import hub_progress
from pixelforge.model.networks import GeneratorSpec

EPILOG = """\
examples:
  pixelate photo.jpg -o out/                          classical method, 4x4 cells, 16 colours
  pixelate photo.jpg -o out/ --shipped                the CycleGAN model shipped with pixelforge
  pixelate photos/ -o out/ --checkpoint runs/demo     CycleGAN model from a run folder
  pixelate photo.jpg -o out/ --checkpoint hf://OWNER/NAME   a model repo from the Hub (`train publish`)
  pixelate cat.png -o cat_px.png --palette pico8 --dither ordered --native
  pixelate clip.mp4 anim.gif -o out/ --palette gameboy
  pixelate https://example.org/a.png -o out/ --checkpoint latest_net_G_A.pth --ngf 64 --n-blocks 9
  pixelate serve --port 7860 --checkpoint runs/demo   the web app in a browser (pip install 'pixelforge[app]')

Still images are written as PNG (never JPEG), GIFs as GIFs, videos in their own container.
Existing outputs are skipped, so an interrupted run resumes; --overwrite redoes them.
The exit status is 1 if any input failed (each failure is listed with its reason), 2 on bad usage.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelate",
        description=(
            "Turn pictures into pixel art: every NxN cell one colour, a small perceptual palette, optional "
            "dithering. Uses a trained CycleGAN checkpoint when given one (--checkpoint, or --shipped for the model that "
            "comes with pixelforge), else a classical method (no ML)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image/GIF/video files, folders (searched recursively) or http(s) URLs")
    p.add_argument("-o", "--output", required=True, type=Path, help="output folder (or a file name when there is one input)")

    art = p.add_argument_group("pixel-art rules")
    art.add_argument("--cell-size", type=int, default=4, metavar="N", help="each output cell is NxN pixels of one colour (default 4)")
    art.add_argument(
        "--palette",
        default="16",
        help=f"number of colours fitted by k-means in OKLab (default 16), a named palette "
        f"({', '.join(sorted(NAMED_PALETTES))}) or a Lospec .hex / GIMP .gpl file",
    )
    art.add_argument("--dither", choices=METHODS, default="none", help="none, ordered (Bayer 8x8) or floyd (Floyd-Steinberg)")
    art.add_argument("--native", action="store_true", help="write one pixel per cell instead of NxN blocks at the input size")
    art.add_argument("--palette-from", choices=PALETTE_SOURCES, default="output",
                     help="with a model and a fitted palette: fit the colours on the model's output (default: its "
                          "own outline and shading colours) or on the picture (its colours kept; colours the "
                          "picture lacks, like a drawn outline, are lost)")

    model = p.add_argument_group("model (CycleGAN generator)")
    method = model.add_mutually_exclusive_group()
    method.add_argument("--checkpoint", help="run folder, checkpoint folder, G_A.safetensors, a reference latest_net_G_A.pth, "
                        "or a model repo on the Hugging Face Hub: hf://OWNER/NAME[@REVISION] (the scheme is required: "
                        "anything else is a local path and is never downloaded)")
    method.add_argument("--shipped", action="store_true",
                        help=f"the CycleGAN model shipped with pixelforge ({SHIPPED_NAME}; see its card: pixelate --model-card)")
    method.add_argument("--classic", action="store_true", help="the classical method (no ML)"
                        + (" (the default)" if DEFAULT_METHOD == "classic" else ""))
    method.add_argument("--model-card", action="store_true", help="print the shipped model's card and exit")
    model.add_argument("--which", choices=("G_A", "G_B"), default="G_A", help="generator to use from a folder (G_A: pictures -> pixel art; a single file is the generator it holds)")
    model.add_argument("--ngf", type=int, help="generator width of a reference .pth (default: read off its tensors)")
    model.add_argument("--n-blocks", type=int, help="residual blocks of a reference .pth (default: read off its tensors)")
    model.add_argument(
        "--pixels-per-cell",
        type=int,
        default=None,
        help="generator resolution: this many generator pixels per cell side (default: the resolution the model's "
             "publisher recorded, else 1; 1 = 16x less work than full resolution at cell size 4, 2 = 4x less, "
             "0 = full resolution, slowest)",
    )
    model.add_argument(
        "--anchor-colors",
        type=float,
        default=ANCHOR_SIGMA,
        metavar="CELLS",
        help=f"keep the picture's colours at scales above this many cells and the model's drawing below it (default "
             f"{ANCHOR_SIGMA:g}: undoes the whitened backdrops and colour casts of a model trained on sprites on white; "
             "smaller is closer to the picture, larger keeps more of the model's own colours; 0 = off)",
    )
    model.add_argument("--anchor-within", type=float, default=None, metavar="DE",
                       help="that correction spreads only over cells the model draws alike (within about this OKLab "
                            "distance x100): a figure whose colour it shifted keeps its correction instead of glowing onto "
                            "the white beside it; 10 suits a model that draws the picture's features in place, a model "
                            "whose lines sit beside the picture's loses them (default: what the model records, else "
                            f"{ANCHOR_WITHIN:g}, spread evenly as a plain blur)")
    model.add_argument(
        "--snap-colors",
        type=float,
        default=SNAP_DE,
        metavar="DE",
        help=f"palette colours fitted on the model's output that lie within this OKLab distance (x100) of a colour the "
             f"picture fills an area with take that colour exactly (default {SNAP_DE:g}, a just-noticeable difference: "
             "flat areas keep the picture's exact colours, outlines and shading the model drew keep theirs; 0 = off)",
    )
    model.add_argument("--settle-flats", type=float, default=SETTLE_DE, metavar="DE",
                       help=f"where the picture is flat, each cell takes the mean of the model's drawing over its look-alikes "
                            f"(picture cells within this OKLab distance x100, 2 cells around): takes out the model's faint mottle, "
                            f"keeps what it drew on edges and features (default {SETTLE_DE:g}; 0 = off)")
    model.add_argument("--hold-lines", action="store_true",
                       help="after the model draws, cells on the picture's thin lines (eyes, brows, outlines) take the "
                            "line's colour and the cells beside them the picture's, as in --classic: bolder faces, "
                            "further from the picture's colours on flat art (off by default)")
    model.add_argument("--views", type=int, choices=VIEWS, default=ModelOptions.views,
                       help="draw the picture in this many orientations (2: also mirrored; 4: also upside down; 8: also "
                            "transposed) and average the drawings: what the model draws one way only (a stray cell, a "
                            "lopsided eye) thins out; each view is one more generator pass (default 1)")
    model.add_argument("--tile", type=int, default=ModelOptions.tile, help="tile side in generator pixels for large inputs (default 1024)")
    model.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    model.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto", help="auto: bf16/fp16 on GPU, fp32 on CPU")
    model.add_argument("--threads", type=int, default=0, help="CPU threads for the generator (default: all cores)")
    model.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="what runs the generator: onnx = ONNX Runtime (CPU, fp32, same output; 1.4-1.7x torch eager's speed on an idle "
        "2-core CPU, needs onnxruntime; inputs larger than a tile still run torch), int8 = ONNX Runtime with the residual "
        "blocks in int8 (about 2.5x at 1024², output within about 1 OKLab dE x100 of fp32; quantized once per model and cached), "
        "torch = torch eager, auto = onnx on CPU in fp32 when onnxruntime is installed, else torch "
        "(default auto; the startup line says which runs and why)",
    )
    model.add_argument(
        "--no-onnx-cache",
        action="store_true",
        help="export (and for int8 quantize) the ONNX graph afresh instead of reusing one cached under $PIXELFORGE_CACHE "
        "or ~/.cache/pixelforge/onnx",
    )

    io_ = p.add_argument_group("inputs and outputs")
    io_.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                     help="seconds one URL download may take in all, connecting included (default 20)")
    io_.add_argument("--max-download-mb", type=float, default=DEFAULT_MAX_BYTES / 2**20, help="largest URL download (default 100)")
    io_.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="largest image or frame to decode (default 64 megapixels)")
    io_.add_argument("--max-frames", type=int, default=DEFAULT_MAX_FRAMES, help=f"most frames in one GIF (default {DEFAULT_MAX_FRAMES})")
    io_.add_argument("--max-total-pixels", type=int, default=DEFAULT_MAX_TOTAL_PIXELS,
                     help="most pixels over all frames of one GIF (default 128 megapixels)")
    io_.add_argument("--video-crf", type=int, default=0, help="H.264 quality: 0 = lossless, cells stay pure (default); ~15 plays everywhere")
    io_.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    io_.add_argument("--preview", action="store_true", help="also write OUTPUT/index.html showing each input beside its result")
    io_.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def output_path(item: InputItem, out: Path, single_file: bool) -> Path:
    """Where ``item``'s result goes: PNG for stills, GIF for GIFs, the same container for videos."""
    suffix = item.suffix if item.is_video or item.is_gif else ".png"
    if single_file:
        return out
    return out / item.name.with_suffix(suffix)


def single_output_problem(item: InputItem, out: Path, *, animated: bool = False) -> str | None:
    """Why ``-o FILE`` cannot hold this input's result (stills are PNG, GIFs GIF, videos a video container)."""
    suffix = out.suffix.lower()
    if item.is_video:
        return None if suffix in VIDEO_SUFFIXES else f"{item.source} is a video: name the output .mp4, .mkv, .webm, ..."
    if animated and suffix != ".gif":
        return f"{item.source} is an animated GIF: name the output {out.stem}.gif"
    if suffix == ".png" or (suffix == ".gif" and item.is_gif):
        return None
    return f"pixel art is written as PNG (never JPEG or other lossy formats): name the output {out.stem}.png"


def _budget(args: argparse.Namespace) -> FrameBudget:
    return FrameBudget(max_pixels=args.max_pixels, max_frames=args.max_frames, max_total_pixels=args.max_total_pixels)


def process(item: InputItem, pixelator: Pixelator, args: argparse.Namespace, single_file: bool, summary: Summary) -> None:
    """Pixelate one input; raises InputError/ImageDecodeError for the caller to record."""
    out = output_path(item, args.output, single_file)
    if item.url is None and out.exists() and not args.overwrite:
        summary.skipped.append(out)
        summary.pairs.append((item.source, out))
        return
    animated = item.is_video or item.is_gif or item.url is not None
    frames_bar = None if args.quiet or not animated else tqdm(desc=item.name.name, unit="frame", leave=False)
    progress = frames_bar.update if frames_bar is not None else None
    try:
        if item.is_video and item.path is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            result = pixelate_video(item.path, out, pixelator, crf=args.video_crf, max_pixels=args.max_pixels, progress=progress)
            summary.frames += result.frames
            if result.audio.startswith("dropped"):
                summary.notes.append(f"{item.source}: audio {result.audio}")
            summary.written.append(out)
            summary.pairs.append((item.source, out))
            return
        data, item = read_input(item, timeout=args.timeout, max_bytes=int(args.max_download_mb * 2**20))
        out = output_path(item, args.output, single_file)
        moving = item.is_gif and count_frames(data) > 1
        if single_file and (problem := single_output_problem(item, out, animated=moving)):
            raise InputError("output-name", problem)  # a URL's kind is known only after the download
        if out.exists() and not args.overwrite:
            summary.skipped.append(out)
            summary.pairs.append((item.source, out))
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        if item.is_video:  # a video fetched from a URL: PyAV reads files
            with tempfile.NamedTemporaryFile(suffix=item.suffix) as fh:
                fh.write(data)
                fh.flush()
                result = pixelate_video(Path(fh.name), out, pixelator, crf=args.video_crf, max_pixels=args.max_pixels, progress=progress)
            summary.frames += result.frames
            if result.audio.startswith("dropped"):
                summary.notes.append(f"{item.source}: audio {result.audio}")
        elif moving:
            result = pixelate_gif(data, out, pixelator, budget=_budget(args), progress=progress)
            summary.frames += result.frames
        else:
            decoded = open_image(data, max_pixels=args.max_pixels)
            img = pixelator.pixelate(decoded.image)
            if out.suffix.lower() == ".gif":
                with atomic_path(out) as tmp:
                    img.save(tmp, format="GIF")
            else:
                atomic_write(out, png_bytes(img))
        summary.written.append(out)
        summary.pairs.append((item.source, out))
    finally:
        if frames_bar is not None:
            frames_bar.close()


def _plain(message: str) -> str:
    """Pillow names an in-memory buffer in its errors; users need to hear that the file is no image."""
    return re.sub(r"cannot identify image file <_io\.BytesIO object at 0x[0-9a-f]+>", "not an image format we can decode", message)


def make_pixelator(args: argparse.Namespace) -> Pixelator:
    # each flag is the option of the same name (PixelArtOptions, ModelOptions)
    names = ("cell_size", "palette", "dither", "native", "palette_from", "anchor_colors", "anchor_within", "snap_colors", "settle_flats",
             "hold_lines", "views", "tile", "device", "precision", "threads", "engine")
    options: dict[str, object] = {name: getattr(args, name) for name in names}
    options["onnx_cache"] = not args.no_onnx_cache
    if options["anchor_within"] is None:  # the model's recorded value (Pixelator.from_checkpoint), else the default
        del options["anchor_within"]
    if args.pixels_per_cell is not None:  # else the model's recorded resolution (Pixelator.from_checkpoint)
        options["pixels_per_cell"] = args.pixels_per_cell
    if not args.checkpoint:
        if args.ngf or args.n_blocks:
            raise ValueError("--ngf/--n-blocks describe a checkpoint; give --checkpoint too")
        if args.shipped:
            return Pixelator.shipped(**options)
        return Pixelator.classic(**options) if args.classic else Pixelator.default(**options)
    spec = None
    if args.ngf or args.n_blocks:
        spec = GeneratorSpec(ngf=args.ngf or 64, n_blocks=args.n_blocks if args.n_blocks is not None else 9)
    return Pixelator.from_checkpoint(args.checkpoint, which=args.which, spec=spec, **options)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # `pixelate serve`: the web app (a file named serve is ./serve)
        from webapp.serve import main as serve

        return serve(argv[1:])
    if "--model-card" in argv:
        print(shipped_card().read_text())
        return 0
    args = build_parser().parse_args(argv)
    limits = {"--max-pixels": args.max_pixels, "--max-frames": args.max_frames, "--max-total-pixels": args.max_total_pixels,
              "--timeout": args.timeout, "--max-download-mb": args.max_download_mb}
    bad = [f"{flag} {value}" for flag, value in limits.items() if not value > 0]  # NaN is not > 0 either
    if bad:
        print(f"pixelate: error: {', '.join(bad)}: limits must be positive", file=sys.stderr)
        return 2
    try:
        with hub_progress(not args.quiet):
            pixelator = make_pixelator(args)
    except (CheckpointError, PaletteError, ValueError, FileNotFoundError) as exc:
        print(f"pixelate: error: {exc}", file=sys.stderr)
        return 2
    if pixelator.is_classic and not args.classic:
        print("pixelate: no --checkpoint given, using the classical method (no ML); --shipped uses the CycleGAN "
              f"model shipped with pixelforge ({SHIPPED_NAME}).", file=sys.stderr)
    elif pixelator.is_classic:
        print("pixelate: the classical method (no ML).", file=sys.stderr)
    else:
        print(f"pixelate: {pixelator.describe()}", file=sys.stderr)
    out_root = args.output.resolve()
    for arg in args.inputs:
        folder = Path(arg)
        if folder.is_dir() and (folder.resolve() == out_root or out_root in folder.resolve().parents):
            print(f"pixelate: error: input folder {arg} is the output folder {args.output} or inside it: its results "
                  "would be read back as inputs; write them to another folder", file=sys.stderr)
            return 2
    items, failures = collect_inputs(args.inputs)
    # an output folder inside an input folder must not feed earlier results back in
    items = [i for i in items if i.path is None or out_root not in i.path.resolve().parents]
    summary = Summary(failed=[(src, str(err)) for src, err in failures])
    known = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    single_file = len(items) == 1 and not failures and args.output.suffix.lower() in known and not Path(args.inputs[0]).is_dir()
    if single_file and items[0].url is None:
        first = items[0]
        try:
            animated = first.is_gif and first.path is not None and count_frames(first.path) > 1
        except ImageDecodeError:
            animated = False  # reported as this input's failure below
        problem = single_output_problem(first, args.output, animated=animated)
        if problem:
            print(f"pixelate: error: {problem}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    for item in tqdm(items, desc="pixelate", unit="input", disable=args.quiet or len(items) < 2):
        try:
            process(item, pixelator, args, single_file, summary)
        except (InputError, ImageDecodeError, PaletteError) as exc:
            summary.failed.append((item.source, _plain(str(exc))))
        except OSError as exc:
            summary.failed.append((item.source, f"unreadable: {exc}"))
        except Exception as exc:  # noqa: BLE001 - one bad input must never abort the batch
            summary.failed.append((item.source, f"error: {type(exc).__name__}: {exc}"))
    if args.preview and not single_file and summary.pairs:
        print(f"pixelate: preview: {write_preview(summary.pairs, args.output)}", file=sys.stderr)
    print(summary.report(time.perf_counter() - start), file=sys.stderr)
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())

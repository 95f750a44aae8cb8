"""`pixelate`: turn photos, folders, GIFs and videos into pixel art."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from inference.arguments import build_parser
from inference.inputs import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputError,
    InputItem,
    collect_inputs,
    read_input,
)
from inference.palette import PaletteError
from inference.pixelator import Pixelator
from inference.report import Summary, write_preview
from inference.shipped import SHIPPED_NAME, shipped_card
from inference.video import pixelate_gif, pixelate_video
from pixelforge.decoding import FrameBudget, ImageDecodeError, count_frames, open_image
from pixelforge.imaging import png_bytes
from pixelforge.io import atomic_path, atomic_write
from pixelforge.model.checkpoint import CheckpointError
from pixelforge.model.hub import hub_progress
from pixelforge.model.networks import GeneratorSpec


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
             "hold_lines", "keep_features", "keep_highlights", "views", "margin", "tile", "device", "precision", "threads", "engine")
    options: dict[str, object] = {name: getattr(args, name) for name in names}
    options["onnx_cache"] = not args.no_onnx_cache
    for recorded in ("anchor_within", "keep_features"):  # None: the model's recorded value (Pixelator.from_checkpoint)
        if options[recorded] is None:
            del options[recorded]
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

"""`pixelate`'s options: the parser, on its own so the docs build and the web app can read it without
running anything. Every default comes from the module that owns it."""

from __future__ import annotations

import argparse
from pathlib import Path

from inference.dither import METHODS
from inference.inputs import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT
from inference.onnx_engine import ENGINES
from inference.palette import NAMED_PALETTES
from inference.pixelator import ModelOptions
from inference.postprocess import (
    ANCHOR_SIGMA,
    ANCHOR_WITHIN,
    PALETTE_SOURCES,
    SETTLE_DE,
    SNAP_DE,
    PixelArtOptions,
)
from inference.shipped import DEFAULT_METHOD, SHIPPED_NAME
from inference.views import VIEW_BUDGET_SIDE, parse_views, views_label
from pixelforge.decoding import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, DEFAULT_MAX_TOTAL_PIXELS

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
                        help=f"the CycleGAN model shipped with pixelforge ({SHIPPED_NAME}; see its card: pixelate --model-card)"
                        + (" (the default)" if DEFAULT_METHOD == "shipped" else ""))
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
    model.add_argument("--keep-features", action=argparse.BooleanOptionalAction, default=None,
                       help="a model shown the picture's feature cells (eyes, brows, outlines drawn into its input) keeps "
                            "each at least as dark as it was shown: where it drew one paler, the cell takes the shown "
                            "colour; the rest of its drawing stays (default: what the model records; the shipped model "
                            "records on)")
    model.add_argument("--keep-highlights", action=argparse.BooleanOptionalAction, default=PixelArtOptions.keep_highlights,
                       help="where the picture has a thin light line (teeth, a glint, a highlight on a rim) that the model "
                            "drew over, darker than it was shown, the cell takes the highlight's colour, as --classic draws "
                            "it; feature cells shown dark and the rest of the drawing stay (default off)")
    model.add_argument("--views", type=parse_views, metavar="{auto,1,2,4,8}", default=views_label(ModelOptions.views),
                       help="draw the picture in this many orientations (2: also mirrored; 4: also upside down; 8: also "
                            "transposed) and average the drawings: what the model draws one way only (a stray cell, a "
                            "lopsided eye) thins out; each view is one more generator pass. auto (the default): as many "
                            f"as cost at most one {VIEW_BUDGET_SIDE}² generator pass, the work of a 1024² picture at "
                            "cell 4 in one view: 8 for a sprite, 1 for a large photo")
    model.add_argument("--margin", type=int, default=ModelOptions.margin, metavar="PX",
                       help="show the generator this many white pixels around the picture (generator pixels) and crop "
                            "them off its drawing: it learnt from figures on white with room around them, and draws "
                            f"glows and odd corner colours where a picture fills its frame (default {ModelOptions.margin}; 0 = none)")
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

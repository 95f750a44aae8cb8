"""What one web request does: decode under limits, pixelate with :class:`inference.Pixelator`, write files.

The page and its API hold no image logic of their own: a picture goes through the same
``Pixelator.pixelate`` call that ``pixelate`` makes, with the same options, and is written with
the same PNG encoder, so the browser gets the bytes the command line would write.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from inference import Pixelator
from inference.grid import expand_cells
from inference.inputs import VIDEO_SUFFIXES
from inference.palette import PaletteError
from inference.preview import preview
from inference.video import pixelate_gif, pixelate_video
from inference.views import AUTO
from pixelforge.decoding import ImageDecodeError, open_image
from pixelforge.imaging import png_bytes
from webapp.models import CLASSICAL, ModelError, Models
from webapp.settings import JobError, Limits, Settings

ANIMATION_SUFFIXES = frozenset({".gif"}) | VIDEO_SUFFIXES
#: Videos come back as H.264 that browsers play (lossless H.264, the CLI's default, does not play there).
WEB_VIDEO_CRF = 12


@dataclass(frozen=True)
class StillResult:
    result: Path  # what `pixelate` writes for these settings: the API's answer
    native: Path  # one pixel per cell
    blocks: Path  # cells at the input size (the "after" of the comparison)
    display: Path  # one cell = `scale` x `scale` screen pixels
    scale: int
    palette: list[str]  # the palette as hex colours (fitted colours, or the whole fixed palette)
    used: list[str]  # the colours that occur in the result
    summary: str
    command: str  # the same job as a `pixelate` command line


@dataclass(frozen=True)
class AnimationJobResult:
    path: Path
    is_video: bool
    palette: list[str]  # the one palette every frame uses
    summary: str


_REASONS = {
    "empty": "The file is empty.",
    "svg": "SVG is a vector format, not a picture made of pixels: export it as PNG first.",
    "truncated": "The file is cut short (truncated or damaged); upload it again or save it anew.",
    "unreadable": "This file is not a picture this page can read (PNG, JPEG, WebP, GIF, BMP or TIFF).",
    "unsupported": "Videos need PyAV on the server: pip install 'pixelforge[video]'.",
}


def explain(exc: ImageDecodeError, limits: Limits) -> str:
    """The page's message for a decode failure: what is wrong and what limit applies."""
    if exc.reason == "too-large":
        size = re.search(r"\d+x\d+", exc.detail) or re.search(r"\d+ pixels", exc.detail)  # ours, or Pillow's bomb check
        return (
            f"Too large for this page ({size.group(0) if size else exc.detail}): pictures and frames may have up to "
            f"{limits.max_pixels / 1e6:g} megapixels here. Scale it down, or use the `pixelate` command line."
        )
    if exc.reason in ("too-long", "too-many-frames"):
        return f"Too many frames ({exc.detail}): this page takes GIFs and videos of up to {limits.max_frames} frames."
    if exc.reason == "unreadable" and "video" in exc.detail:
        return f"This video cannot be decoded ({exc.detail}). MP4, WebM, MOV and MKV with common codecs work."
    return _REASONS.get(exc.reason, f"Cannot use this file: {exc}")


def checked_upload(path: str | Path | None, limits: Limits, what: str = "a picture") -> Path:
    """The upload's path once it is there and within the size limit (Gradio enforces it too, at upload)."""
    if not path:
        raise JobError(f"Upload {what} first.")
    size = Path(path).stat().st_size
    if size > limits.upload_mb * 2**20:
        raise JobError(f"The file has {size / 2**20:.1f} MB; this page takes up to {limits.upload_mb} MB.")
    return Path(path)


def load_picture(path: str | Path | None, limits: Limits) -> tuple[Image.Image, int]:
    """The upload's first frame under the pixel limit, and its frame count."""
    try:
        decoded = open_image(checked_upload(path, limits).read_bytes(), max_pixels=limits.max_pixels)
    except ImageDecodeError as exc:
        raise JobError(explain(exc, limits)) from exc
    return decoded.image, decoded.n_frames


def drawn_views(settings: Settings) -> int:
    """How many passes over each picture or frame the limits count: the views asked for; 1 for the classical method
    and for auto, whose passes together cost at most one pass over a 1024² picture (``VIEW_BUDGET``)."""
    return int(settings.views) if settings.model != CLASSICAL and int(settings.views) != AUTO else 1


def check_views(pixels: int, settings: Settings, limits: Limits) -> None:
    """Refuse a still whose views would make a model draw more than ``limits.view_pixels`` (each view is a pass)."""
    views = drawn_views(settings)
    if views > 1 and pixels * views > limits.view_pixels:
        raise JobError(f"{views} views of a {pixels / 1e6:.3g}-megapixel picture are {pixels * views / 1e6:.3g} megapixels "
                       f"of drawing; this page draws up to {limits.view_pixels / 1e6:g}. Choose fewer views or a smaller "
                       "picture, or use the `pixelate` command line.")


def _pixelator(models: Models, settings: Settings) -> Pixelator:
    try:
        return models.pixelator(settings.model, **settings.options())
    except (ModelError, PaletteError, ValueError) as exc:
        message = str(exc)
        if settings.palette_file:  # the upload's name, not where the server keeps it
            message = message.replace(str(Path(settings.palette_file).parent) + os.sep, "")
        raise JobError(message) from exc


def display_scale(cols: int, rows: int, wanted: int, limits: Limits) -> int:
    """The display scale, lowered until the scaled picture fits ``limits.display_pixels``."""
    fits = int(math.sqrt(limits.display_pixels / max(1, cols * rows)))
    return max(1, min(int(wanted), fits))


def scaled(native: np.ndarray, scale: int) -> Image.Image:
    """Every cell as a ``scale``x``scale`` block (the grid module's expansion, not a resampler)."""
    rows, cols = native.shape[:2]
    return Image.fromarray(expand_cells(native, scale, (cols * scale, rows * scale)))


def _hex(colors: np.ndarray) -> list[str]:
    return ["#" + "".join(f"{int(c):02x}" for c in rgb) for rgb in colors]


def palette_colors(native: np.ndarray, pixelator: Pixelator) -> tuple[list[str], list[str]]:
    """(palette, used): a fixed palette in full and the colours of the result that it uses."""
    opaque = native[..., :3][native[..., 3] > 0] if native.shape[-1] == 4 else native.reshape(-1, 3)
    used = np.unique(opaque.reshape(-1, 3), axis=0)
    fixed = pixelator.options.palette_spec.colors
    return _hex(fixed if fixed is not None else used), _hex(used)


class JobFiles:
    """Each job's outputs in their own folder under one temporary root; folders older than an hour go."""

    def __init__(self, root: str | Path | None = None, keep_s: float = 3600.0) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="pixelate-web-"))
        self.keep_s = keep_s

    def new(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - self.keep_s
        for old in self.root.iterdir():
            if old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.root))


def stem_of(path: str | Path) -> str:
    return Path(path).stem[:60] or "picture"


def run_still(path: str | Path | None, settings: Settings, models: Models, limits: Limits, files: JobFiles) -> StillResult:
    """The full-size result, exactly as ``pixelate INPUT -o OUT.png`` with the same settings writes it."""
    start = time.perf_counter()
    img, n_frames = load_picture(path, limits)
    check_views(img.width * img.height, settings, limits)
    pixelator = _pixelator(models, settings)
    with models.running(settings.model):
        out = pixelator.pixelate(img)
    arr, cell = np.asarray(out), int(settings.cell_size)
    # every cell is one colour, so its top-left pixel is the cell (and expanding it gives the blocks back)
    native = arr if settings.native else np.ascontiguousarray(arr[::cell, ::cell])
    blocks = expand_cells(native, cell, img.size) if settings.native else arr
    rows, cols = native.shape[:2]
    scale = display_scale(cols, rows, settings.scale, limits)
    folder, stem = files.new(), stem_of(path or "picture")
    written = {}
    for key, name, image in (
        ("native", f"{stem}_px_native.png", Image.fromarray(native)),
        ("display", f"{stem}_px_x{scale}.png", scaled(native, scale)),
        ("blocks", f"{stem}_px.png", Image.fromarray(blocks)),
    ):
        (folder / name).write_bytes(png_bytes(image))
        written[key] = folder / name
    palette, used = palette_colors(native, pixelator)
    note = " Animated GIF: this is its first frame; the GIF/video tab does every frame." if n_frames > 1 else ""
    summary = (
        f"{models.describe(settings.model)}: {img.width}x{img.height} -> {cols}x{rows} cells of {cell} px, "
        f"{len(used)} colours, shown at x{scale}, in {time.perf_counter() - start:.2f} s.{note}"
    )
    result = written["native"] if settings.native else written["blocks"]
    return StillResult(
        result, written["native"], written["blocks"], written["display"], scale, palette, used, summary, settings.command()
    )


def run_preview(path: str | Path | None, settings: Settings, models: Models, limits: Limits) -> tuple[Image.Image, str]:
    """A display-scale preview from a reduced copy, for feedback while settings change."""
    img, _ = load_picture(path, limits)
    check_views(min(img.width * img.height, limits.preview_pixels), settings, limits)  # the preview draws a reduced copy
    pixelator = _pixelator(models, settings)
    with models.running(settings.model):
        native = np.asarray(preview(pixelator, img, limits.preview_pixels))
    rows, cols = native.shape[:2]
    # a preview stays light: at most 16 screen pixels per pixel of the reduced copy
    scale = display_scale(cols, rows, settings.scale, replace(limits, display_pixels=limits.preview_pixels * 16))
    reduced = " on a reduced copy" if img.width * img.height > limits.preview_pixels else ""
    return scaled(native, scale), f"Preview{reduced} ({cols}x{rows} cells). Press **Pixelate** for the full-size result."


class Deadline:
    """An animation's time limit, checked after every frame.

    A still, or one frame, is bounded by the pixel limit instead: at 16 megapixels the classical
    method takes a few seconds and the model path well under the default limit on a CPU.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def check(self, _frames: int = 0) -> None:
        if time.monotonic() > self.end:
            raise JobError(f"Stopped: the job took longer than the {self.seconds:g} s limit. Try a shorter clip or larger cells.")


def run_animation(
    path: str | Path | None,
    settings: Settings,
    models: Models,
    limits: Limits,
    files: JobFiles,
    progress: Callable[[int], None] | None = None,
) -> AnimationJobResult:
    """A GIF stays a GIF; a video becomes an MP4 browsers play. One palette for all frames, as in the CLI."""
    if not path:
        raise JobError("Upload a GIF or a video first.")
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise JobError(f"'{suffix or Path(path).name}' is not a GIF or a video this page takes ({', '.join(sorted(ANIMATION_SUFFIXES))}).")
    start, deadline = time.perf_counter(), Deadline(limits.time_s)

    def tick(n: int) -> None:
        deadline.check()
        if progress is not None:
            progress(n)

    pixelator = _pixelator(models, settings)
    folder, stem = files.new(), stem_of(path)
    views = drawn_views(settings)
    frame_pixels = min(limits.max_pixels, limits.view_pixels // views)  # each frame is drawn `views` times
    try:
        with models.running(settings.model):
            if suffix == ".gif":
                out = folder / f"{stem}_px.gif"
                data = checked_upload(path, limits, "a GIF").read_bytes()
                result = pixelate_gif(
                    data, out, pixelator, max_pixels=frame_pixels, max_frames=limits.max_frames, progress=tick
                )
            else:
                out = folder / f"{stem}_px.mp4"
                result = pixelate_video(
                    checked_upload(path, limits, "a video"), out, pixelator, crf=WEB_VIDEO_CRF,
                    max_pixels=frame_pixels, max_frames=limits.max_frames, progress=tick,
                )
    except ImageDecodeError as exc:
        if exc.reason == "too-large" and frame_pixels < limits.max_pixels:
            raise JobError(f"Frames too large for {views} views ({exc.detail}): a model drawing {views} views takes frames of "
                           f"up to {frame_pixels / 1e6:.3g} megapixels here (views x megapixels up to "
                           f"{limits.view_pixels / 1e6:g}). Choose fewer views, or use the `pixelate` command line.") from exc
        raise JobError(explain(exc, limits)) from exc
    audio = f", audio {result.audio}" if result.audio != "none" else ""
    summary = (
        f"{models.describe(settings.model)}: {result.frames} frames, {len(result.palette)} colours shared by all "
        f"frames{audio}, in {time.perf_counter() - start:.1f} s."
    )
    return AnimationJobResult(out, suffix != ".gif", _hex(result.palette), summary)

"""Decoding pictures safely, for every stage that reads one.

Decoding is size-limited and strict: a decompression bomb, an animation claiming millions of frames or a truncated
file is an :class:`ImageDecodeError` with a short reason, never a crash or an exhausted machine, so one bad file
rejects itself and never aborts a batch. EXIF orientation is undone on the way in.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps

from pixelforge.gifscan import gif_canvases

#: File suffixes read as still or animated images wherever a folder is searched for pictures.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

#: Default decode limit per frame: 64 megapixels is far beyond any sprite sheet, far below a bomb.
DEFAULT_MAX_PIXELS = 64_000_000
#: Frames one animation may have (a GIF frame costs a dozen bytes, so a tiny file can claim millions).
DEFAULT_MAX_FRAMES = 5_000
#: Pixels summed over every decoded frame's canvas: 128 M RGBA pixels are 512 MB held at once.
DEFAULT_MAX_TOTAL_PIXELS = 128_000_000
#: EXIF orientations that :func:`open_image` undoes (1 is upright; 2-8 flip and/or rotate)
_TRANSPOSED = frozenset(range(2, 9))


class ImageDecodeError(ValueError):
    """An input that cannot become an image; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FrameBudget:
    """What decoding one file may cost, checked before each frame is decoded.

    ``max_pixels`` bounds one frame's canvas (an animated GIF's canvas grows when a later frame is
    placed outside it), ``max_frames`` the number of frames and ``max_total_pixels`` the canvases
    summed over every decoded frame, which is what the caller ends up holding.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS


@dataclass(frozen=True)
class DecodedImage:
    """A decoded frame plus what the caller needs to know about where it came from."""

    image: Image.Image
    format: str | None
    n_frames: int


def _read(source: bytes | str | Path) -> bytes:
    if isinstance(source, (str, Path)):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageDecodeError("unreadable", str(exc)) from exc
    else:
        data = source
    if not data:
        raise ImageDecodeError("empty", "zero bytes")
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        raise ImageDecodeError("svg", "vector images are not pixel art")
    return data


def _check_canvas(width: int, height: int, max_pixels: int, frame: int) -> None:
    if width * height > max_pixels:
        where = f"frame {frame}: " if frame else ""
        raise ImageDecodeError("too-large", f"{where}{width}x{height} exceeds the {max_pixels}-pixel limit (max_pixels)")


def _translate(exc: Exception) -> ImageDecodeError:
    """Pillow's many failure types as one ImageDecodeError with a reason tag."""
    if isinstance(exc, ImageDecodeError):
        return exc
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError)):
        return ImageDecodeError("too-large", str(exc))
    msg = str(exc)
    if isinstance(exc, OSError) and ("truncated" in msg.lower() or "broken data" in msg.lower()):
        return ImageDecodeError("truncated", msg)
    return ImageDecodeError("unreadable", msg or type(exc).__name__)


_DECODE_ERRORS = (ImageDecodeError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError,
                  SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError,
                  ZeroDivisionError, MemoryError)


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned as its EXIF orientation tag says (lossless flips/rotations, never a resample).

    A camera stores the sensor's pixels and a tag saying how to turn them; every viewer applies
    it, so a stage that ignores it outputs the picture sideways. Images without the tag (pixel art
    almost never has EXIF) come back unchanged, as the same object.
    """
    try:
        orientation = img.getexif().get(0x0112)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject a readable picture
        return img
    if orientation not in _TRANSPOSED:
        return img
    return ImageOps.exif_transpose(img)


def open_image(
    source: bytes | str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame: int = 0,
) -> DecodedImage:
    """Decode one frame of an image under a pixel limit, turned upright by its EXIF orientation.

    Raises :class:`ImageDecodeError` with reason ``empty``, ``too-large``, ``truncated``,
    ``svg`` or ``unreadable``. The image is fully loaded before returning, so a truncated
    file fails here and not later in some other stage. A GIF's canvas is read from its block
    headers first, so a frame placed far outside a tiny screen is refused before any allocation.
    ``frame > 0`` decodes the frames before it too, under :class:`FrameBudget` defaults.
    """
    data = _read(source)
    if frame:
        budget = FrameBudget(max_pixels=max_pixels)
        for index, img, n_frames, fmt in _frames(data, budget, stop_at=frame + 1):
            if index == frame or index == n_frames - 1:
                return DecodedImage(img, fmt, n_frames)
    for _, img, n_frames, fmt in _frames(data, FrameBudget(max_pixels=max_pixels, max_frames=1 << 62), stop_at=1):
        return DecodedImage(img, fmt, n_frames)
    raise ImageDecodeError("unreadable", "no frame decoded")  # pragma: no cover - _frames yields or raises


def iter_frames(source: bytes | str | Path, budget: FrameBudget | None = None, *,
                stop_at: int | None = None) -> Iterator[DecodedImage]:
    """Every frame of a still or animated image, decoded one at a time under ``budget``.

    Before each frame is decoded its canvas is checked against ``budget.max_pixels`` and the running
    total against ``budget.max_total_pixels``; more frames than ``budget.max_frames`` is an error
    (``too-many-frames``) unless ``stop_at`` asks for fewer (the rest are then not looked at). Each
    yielded ``image`` is the decoder's live frame: copy or convert it before asking for the next one.
    """
    for _, img, n_frames, fmt in _frames(_read(source), budget or FrameBudget(), stop_at=stop_at):
        yield DecodedImage(img, fmt, n_frames)


def count_frames(source: bytes | str | Path) -> int:
    """How many frames an image has, from its headers (no pixel is decoded)."""
    data = _read(source)
    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(getattr(img, "n_frames", 1))
    except _DECODE_ERRORS as exc:
        raise _translate(exc) from exc


def _frames(data: bytes, budget: FrameBudget, *, stop_at: int | None) -> Iterator[tuple[int, Image.Image, int, str | None]]:
    """(index, loaded upright frame, frame count, format) under ``budget``; see :func:`iter_frames`."""
    gif = gif_canvases(data, stop_after=None if stop_at is None else stop_at) if data[:3] == b"GIF" else []
    for index, (width, height) in enumerate(gif):  # refuse a growing GIF canvas before Pillow allocates it
        _check_canvas(width, height, budget.max_pixels, index)
    if sum(w * h for w, h in gif) > budget.max_total_pixels:
        raise ImageDecodeError("too-large", f"{len(gif)} frames add up to {sum(w * h for w, h in gif)} pixels, over "
                               f"the {budget.max_total_pixels}-pixel limit (max_total_pixels)")
    total = 0
    try:
        with _strict():
            img = Image.open(io.BytesIO(data))
            _check_canvas(*img.size, budget.max_pixels, 0)
            n_frames = int(getattr(img, "n_frames", 1))
        count = n_frames if stop_at is None else max(1, min(n_frames, stop_at))
        if count > budget.max_frames:
            raise ImageDecodeError("too-many-frames", f"{n_frames} frames exceed the {budget.max_frames}-frame "
                                   "limit (max_frames)")
        fmt = img.format
        for index in range(count):
            with _strict():
                if index:
                    img.seek(index)  # reads the frame's header; its pixels are decoded by load()
                width, height = img.size
                _check_canvas(width, height, budget.max_pixels, index)
                total += width * height
                if total > budget.max_total_pixels:
                    raise ImageDecodeError("too-large", f"frames 0-{index} add up to {total} pixels, over the "
                                           f"{budget.max_total_pixels}-pixel limit (max_total_pixels)")
                img.load()
                frame = upright(img)
            yield index, frame, n_frames, fmt
    except _DECODE_ERRORS as exc:
        raise _translate(exc) from exc


@contextmanager
def _strict() -> Iterator[None]:
    """Pillow's bomb warning as an error and truncated files refused, for the calls inside only."""
    prev = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = prev

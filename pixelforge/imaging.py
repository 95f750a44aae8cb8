"""Image helpers shared by curation, training and inference.

Pixel art is fragile, so every stage goes through these few functions:

* decoding is size-limited, so a decompression bomb is a rejection and never a crash;
* transparency is composited onto white, never dropped (the RGB under alpha=0 is arbitrary);
* resizing is integer nearest-neighbour only;
* PNG encoding is deterministic (no timestamps, no metadata), so outputs are byte-stable.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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

WHITE = (255, 255, 255)


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


def to_rgba(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (P+tRNS, LA, I;16, CMYK, ...) to 8-bit RGBA without losing alpha."""
    if img.mode == "RGBA":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(np.round(arr * 255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGBA")
    if img.mode == "P" and "transparency" in img.info:
        return img.convert("RGBA")
    if img.mode == "CMYK":
        return img.convert("RGB").convert("RGBA")
    return img.convert("RGBA")


def has_alpha(img: Image.Image) -> bool:
    """True when the image carries any transparency at all."""
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


def composite_on_white(img: Image.Image) -> Image.Image:
    """Return an RGB image with every transparent pixel blended onto white.

    Hashing, deduplication and training all run on this result, so two identical sprites
    with different garbage under their transparent pixels compare equal. Each channel becomes
    ``round((c * a + 255 * (255 - a)) / 255)``: Pillow's masked paste computes exactly that
    for every value and alpha (tests check all 65,536 pairs), in one pass.
    """
    if img.mode == "RGB":
        return img.copy()
    rgba = to_rgba(img)
    white = Image.new("RGB", rgba.size, WHITE)
    white.paste(rgba, (0, 0), rgba)
    return white


def channel_min(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel minimum over the last axis of an ``(..., 3)`` array: ``rgb.min(-1)``, several times faster
    (two element-wise minimums instead of a reduction over a 3-long axis)."""
    return np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])


def not_white(rgb: np.ndarray) -> np.ndarray:
    """Mask of the pixels of an ``(..., 3)`` uint8 array that are not pure white (``(rgb != 255).any(-1)``)."""
    return channel_min(rgb) != 255


def rgb_on_white(img: Image.Image) -> Image.Image:
    """:func:`composite_on_white` without its copy: an RGB image comes back as the same object,
    so the caller reads the result and never modifies it (hot paths that only measure pixels)."""
    return img if img.mode == "RGB" else composite_on_white(img)


def binary_alpha(img: Image.Image, threshold: int = 128) -> np.ndarray:
    """Boolean mask of opaque pixels (pixel art has no partial transparency)."""
    return np.asarray(to_rgba(img))[..., 3] >= threshold


def scale_nearest(img: Image.Image, factor: int) -> Image.Image:
    """Integer nearest-neighbour upscale: every pixel becomes a ``factor``x``factor`` block."""
    if factor < 1 or int(factor) != factor:
        raise ValueError(f"scale factor must be a positive integer, got {factor!r}")
    if factor == 1:
        return img.copy()
    if img.mode not in ("1", "L", "P", "RGB", "RGBA", "LA", "I", "F", "I;16"):
        img = img.convert("RGBA")
    # Pillow's NEAREST with an exact integer factor is pixel-exact and keeps palettes and info
    out = img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST)
    out.info = dict(img.info)
    return out


def fit_scale(width: int, height: int, size: int) -> int:
    """Largest integer factor that fits a ``width``x``height`` image into a ``size`` square.

    Returns 0 when the image is larger than the square (the caller decides: reject or shrink).
    """
    return min(size // max(width, 1), size // max(height, 1))


def place_on_canvas(img: Image.Image, size: int, background: tuple[int, int, int] = WHITE) -> tuple[Image.Image, int]:
    """Centre an RGB image on a square canvas with the largest integer nearest-neighbour scale.

    Images larger than the canvas are reduced by integer decimation (every k-th pixel), which
    is nearest-neighbour too, so no new colours appear. Returns the canvas and the scale,
    where a scale below 1 is written as a negative decimation step (-k).
    """
    img = img if img.mode == "RGB" else img.convert("RGB")
    width, height = img.size
    factor = fit_scale(width, height, size)
    if factor >= 1:
        scaled = scale_nearest(img, factor)
        scale = factor
    else:
        step = max(-(-width // size), -(-height // size))
        arr = np.asarray(img)[::step, ::step]
        scaled = Image.fromarray(np.ascontiguousarray(arr), "RGB")
        scale = -step
    canvas = Image.new("RGB", (size, size), background)
    left = (size - scaled.width) // 2
    top = (size - scaled.height) // 2
    canvas.paste(scaled, (left, top))
    return canvas, scale


def pixel_sha256(img: Image.Image | np.ndarray) -> str:
    """Hash of decoded RGB pixels (after compositing) and size: equal pictures, equal hash.

    Also takes the ``(H, W, 3)`` uint8 array of an RGB image, so a stage holding one converts once."""
    arr = img if isinstance(img, np.ndarray) else np.asarray(rgb_on_white(img))
    digest = hashlib.sha256()
    digest.update(f"{arr.shape[1]}x{arr.shape[0]}:".encode())
    digest.update(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())
    return digest.hexdigest()


#: PNG colour types of the 8-bit modes :func:`png_bytes` writes itself (others go through Pillow)
_PNG_COLOR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def png_bytes(img: Image.Image | np.ndarray, compress_level: int = 6) -> bytes:
    """Deterministic PNG bytes: same pixels in, same bytes out (no metadata, fixed settings).

    8-bit L/LA/RGB/RGBA images are written here with filter type 0 and one zlib stream: Pillow's
    encoder tries every row filter, which costs twice as long on our white canvases and gains
    nothing there (long runs of equal pixels and repeated rows are what deflate matches best).
    Other modes (palette, 16-bit) go through Pillow. An ``(H, W, 3)`` uint8 array is written as RGB.
    """
    if isinstance(img, np.ndarray):
        color_type, (height, width) = _PNG_COLOR_TYPES["RGB"], img.shape[:2]
        pixels = np.asarray(img, dtype=np.uint8).reshape(height, -1)
    else:
        color_type, (width, height) = _PNG_COLOR_TYPES.get(img.mode), img.size
        if color_type is None or width == 0 or height == 0:
            buf = io.BytesIO()
            img.save(buf, format="PNG", compress_level=compress_level, optimize=False)
            return buf.getvalue()
        pixels = np.asarray(img).reshape(height, -1)
    rows = np.zeros((height, pixels.shape[1] + 1), np.uint8)  # each row starts with its filter byte, 0
    rows[:, 1:] = pixels
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(rows, compress_level)),
        _png_chunk(b"IEND", b""),
    ))


def count_colors(img: Image.Image | np.ndarray, limit: int = 1 << 24) -> int:
    """Number of distinct RGB colours (alpha composited onto white first).

    Also takes an ``(H, W, 3)`` array that is already on white, so a stage holding one does not
    composite the image again.
    """
    rgb = img if isinstance(img, np.ndarray) else np.asarray(rgb_on_white(img))
    return min(int(np.unique(color_keys(rgb)).size), limit)


def color_keys(rgb: np.ndarray) -> np.ndarray:
    """Each pixel of an ``(..., 3)`` uint8 array as one uint32 (its three bytes and a zero), so colours
    compare and count in one operation."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    padded = np.zeros((*rgb.shape[:-1], 4), np.uint8)
    padded[..., :3] = rgb
    return padded.view(np.uint32)[..., 0]

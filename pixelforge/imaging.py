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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

#: Default decode limit: 64 megapixels is far beyond any sprite sheet, far below a bomb.
#: File suffixes read as still or animated images wherever a folder is searched for pictures.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

DEFAULT_MAX_PIXELS = 64_000_000

WHITE = (255, 255, 255)


class ImageDecodeError(ValueError):
    """An input that cannot become an image; ``reason`` is a short machine-readable tag."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DecodedImage:
    """A decoded frame plus what the caller needs to know about where it came from."""

    image: Image.Image
    format: str | None
    n_frames: int


def open_image(
    source: bytes | str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    frame: int = 0,
) -> DecodedImage:
    """Decode one frame of an image under a pixel limit.

    Raises :class:`ImageDecodeError` with reason ``empty``, ``too-large``, ``truncated``,
    ``svg`` or ``unreadable``. The image is fully loaded before returning, so a truncated
    file fails here and not later in some other stage.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageDecodeError("unreadable", str(exc)) from exc
    else:
        data = source
    if not data:
        raise ImageDecodeError("empty", "zero bytes")
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        raise ImageDecodeError("svg", "vector images are not pixel art")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageDecodeError("too-large", f"{width}x{height} exceeds {max_pixels} pixels")
            n_frames = getattr(img, "n_frames", 1)
            if frame:
                img.seek(min(frame, n_frames - 1))
            fmt = img.format
            prev = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            try:
                img.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = prev
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError("too-large", str(exc)) from exc
    except OSError as exc:
        msg = str(exc)
        reason = "truncated" if "truncated" in msg.lower() or "broken data" in msg.lower() else "unreadable"
        raise ImageDecodeError(reason, msg) from exc
    except (SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError("unreadable", str(exc)) from exc
    return DecodedImage(image=img, format=fmt, n_frames=n_frames)


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


def pixel_sha256(img: Image.Image) -> str:
    """Hash of decoded RGB pixels (after compositing) and size: equal pictures, equal hash."""
    rgb = rgb_on_white(img)
    digest = hashlib.sha256()
    digest.update(f"{rgb.width}x{rgb.height}:".encode())
    digest.update(np.ascontiguousarray(np.asarray(rgb)).tobytes())
    return digest.hexdigest()


#: PNG colour types of the 8-bit modes :func:`png_bytes` writes itself (others go through Pillow)
_PNG_COLOR_TYPES = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def png_bytes(img: Image.Image, compress_level: int = 6) -> bytes:
    """Deterministic PNG bytes: same pixels in, same bytes out (no metadata, fixed settings).

    8-bit L/LA/RGB/RGBA images are written here with filter type 0 and one zlib stream: Pillow's
    encoder tries every row filter, which costs twice as long on our white canvases and gains
    nothing there (long runs of equal pixels and repeated rows are what deflate matches best).
    Other modes (palette, 16-bit) go through Pillow.
    """
    color_type = _PNG_COLOR_TYPES.get(img.mode)
    if color_type is None or img.width == 0 or img.height == 0:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=compress_level, optimize=False)
        return buf.getvalue()
    width, height = img.size
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
    rgb = img if isinstance(img, np.ndarray) else rgb_on_white(img)
    arr = np.asarray(rgb, dtype=np.uint32).reshape(-1, 3)
    packed = (arr[:, 0] << 16) | (arr[:, 1] << 8) | arr[:, 2]
    return min(int(np.unique(packed).size), limit)

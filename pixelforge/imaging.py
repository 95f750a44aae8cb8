"""Image helpers shared by curation, training and inference.

Pixel art is fragile, so every stage goes through these few functions:

* transparency is composited onto white, never dropped (the RGB under alpha=0 is arbitrary);
* resizing is integer nearest-neighbour only;
* PNG encoding is deterministic (no timestamps, no metadata), so outputs are byte-stable;
* hashes are of the pixels after compositing, so two encodings of one picture are one picture.

Decoding, size-limited so a decompression bomb is a rejection and never a crash, is :mod:`pixelforge.decoding`.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import numpy as np
from PIL import Image

WHITE = (255, 255, 255)


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

"""The geometry of a GIF's frames, read from its block headers without decoding a pixel.

A GIF frame costs a dozen bytes, and each one may sit anywhere on a 65535x65535 plane: Pillow
grows the canvas to hold every frame placed outside it, so a 200-byte file can ask for gigabytes.
:func:`gif_canvases` walks the blocks (extensions, image descriptors, LZW sub-blocks) the way
Pillow does and says how large the canvas is when each frame is decoded, so the caller can refuse
before any allocation.
"""

from __future__ import annotations

import struct


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Position after a chain of length-prefixed sub-blocks (a zero length ends it)."""
    end = len(data)
    while pos < end:
        size = data[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size
    return end


def gif_canvases(data: bytes, *, stop_after: int | None = None) -> list[tuple[int, int]]:
    """Canvas (width, height) at each frame of a GIF, at most ``stop_after`` of them.

    Follows Pillow's rule: the canvas starts as the logical screen and grows to the right/bottom
    edge of every frame that lies outside it. A truncated file lists the frames whose descriptor
    is complete. Returns an empty list for data that does not start with a GIF signature.
    """
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        return []
    width, height = struct.unpack_from("<HH", data, 6)
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    canvases: list[tuple[int, int]] = []
    end = len(data)
    while pos < end and (stop_after is None or len(canvases) < stop_after):
        kind = data[pos]
        pos += 1
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: a label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 1)
        elif kind == 0x2C:  # image descriptor
            if pos + 9 > end:
                break
            x, y, w, h, local = struct.unpack_from("<HHHHB", data, pos)
            width, height = max(width, x + w), max(height, y + h)
            canvases.append((width, height))
            pos += 9 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # LZW minimum code size, then the data
        # any other byte is skipped one at a time, as Pillow does
    return canvases

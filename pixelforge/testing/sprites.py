"""Procedural pixel-art sprites with known ground truth.

Every sprite is generated from a seed, so tests and benchmarks can ask "what should the
pipeline recover?" and get an exact answer: the native pixels, the palette, the mask, and,
after :func:`render`, the upscale factor, the grid phase, the background kind and whether
JPEG touched it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

BACKGROUNDS = ("transparent", "solid", "solid-inside")


@dataclass(frozen=True)
class Sprite:
    """Native-resolution ground truth."""

    pixels: np.ndarray  # (H, W, 3) uint8, background pixels set to white
    mask: np.ndarray  # (H, W) bool, True where the sprite is opaque
    palette: tuple[tuple[int, int, int], ...]  # colours used inside the mask
    seed: int
    interior: np.ndarray = field(repr=False)  # (H, W) bool, mask pixels not on the outline

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), Pillow's order."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def on_white(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")


@dataclass(frozen=True)
class Rendered:
    """A sprite as it appears on the web, plus the truth needed to grade a recovery."""

    image: Image.Image
    sprite: Sprite
    scale: int
    phase: tuple[int, int]  # pixels cropped from the left / top after upscaling, each in [0, scale)
    background: str
    background_color: tuple[int, int, int] | None
    jpeg_quality: int | None
    native_truth: np.ndarray  # (H, W, 3) expected native pixels composited on white

    @property
    def native_size(self) -> tuple[int, int]:
        return self.native_truth.shape[1], self.native_truth.shape[0]

    def encoded(self) -> bytes:
        """The bytes a crawler would have stored: PNG, or JPEG when ``jpeg_quality`` is set."""
        buf = io.BytesIO()
        if self.jpeg_quality is not None:
            self.image.convert("RGB").save(buf, format="JPEG", quality=self.jpeg_quality)
        else:
            self.image.save(buf, format="PNG")
        return buf.getvalue()


def _random_palette(rng: np.random.Generator, n: int, avoid: tuple[int, int, int] | None) -> list[tuple[int, int, int]]:
    colors: list[tuple[int, int, int]] = []
    while len(colors) < n:
        c = tuple(int(v) for v in rng.integers(0, 256, 3))
        # keep colours well apart so JPEG recovery has a well-defined answer
        if any(sum(abs(a - b) for a, b in zip(c, o)) < 90 for o in colors):
            continue
        if c == (255, 255, 255) or (avoid is not None and sum(abs(a - b) for a, b in zip(c, avoid)) < 90):
            continue
        colors.append(c)  # type: ignore[arg-type]
    return colors


def make_sprite(
    seed: int,
    size: tuple[int, int] = (16, 16),
    n_colors: int = 6,
    avoid: tuple[int, int, int] | None = (90, 200, 120),
) -> Sprite:
    """A symmetric sprite with a dark outline, like classic procedural space-ship generators."""
    width, height = size
    if width < 5 or height < 5:
        raise ValueError("sprites need at least 5x5 pixels")
    rng = np.random.default_rng(seed)
    half = (width + 1) // 2
    body = rng.random((height - 2, half - 1)) < 0.6
    body[(height - 2) // 4 : 3 * (height - 2) // 4, -2:] = True  # a solid spine keeps it in one piece
    full = np.concatenate([body, body[:, ::-1][:, (width % 2) :]], axis=1)[:, : width - 2]
    mask = np.zeros((height, width), bool)
    mask[1:-1, 1:-1] = full
    # close single-pixel holes so the outline is well defined
    padded = np.pad(mask, 1)
    neigh = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    mask |= neigh
    padded = np.pad(mask, 1)
    interior = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    outline = mask & ~interior
    colors = _random_palette(rng, max(n_colors, 2), avoid)
    dark = (20, 16, 32)
    pixels = np.full((height, width, 3), 255, np.uint8)
    # colour interior in horizontal bands mirrored like the mask, from the palette
    band_colors = rng.integers(0, len(colors), size=(height, half))
    band = np.concatenate([band_colors, band_colors[:, ::-1][:, (width % 2) :]], axis=1)[:, :width]
    pal = np.array(colors, np.uint8)
    pixels[interior] = pal[band[interior]]
    pixels[outline] = dark
    used = {tuple(int(v) for v in p) for p in pixels[mask]}
    return Sprite(pixels=pixels, mask=mask, palette=tuple(sorted(used)), seed=seed, interior=interior)


def render(
    sprite: Sprite,
    scale: int = 1,
    phase: tuple[int, int] = (0, 0),
    background: str = "transparent",
    background_color: tuple[int, int, int] = (90, 200, 120),
    jpeg_quality: int | None = None,
    margin: int = 2,
    seed: int = 0,
) -> Rendered:
    """Put a sprite on a background, nearest-neighbour upscale it and crop the grid phase.

    * ``transparent``: RGBA, with random garbage RGB under alpha=0 (as real exporters leave it);
    * ``solid``: RGB on ``background_color``;
    * ``solid-inside``: as ``solid``, and some interior pixels of the sprite share that colour
      (they do not touch the border, so a border flood fill must keep them).
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}")
    if scale < 1 or not all(0 <= p < scale for p in phase):
        raise ValueError("need scale >= 1 and 0 <= phase < scale")
    rng = np.random.default_rng(seed)
    pixels = sprite.pixels.copy()
    mask = sprite.mask
    if background == "solid-inside":
        inner = np.argwhere(sprite.interior)
        if len(inner):
            pick = inner[rng.choice(len(inner), size=max(1, len(inner) // 6), replace=False)]
            pixels[pick[:, 0], pick[:, 1]] = background_color
    pixels = np.pad(pixels, ((margin, margin), (margin, margin), (0, 0)), constant_values=255)
    mask = np.pad(mask, margin)
    truth = pixels.copy()
    truth[~mask] = 255
    if background == "transparent":
        garbage = rng.integers(0, 256, pixels.shape, dtype=np.uint8)
        rgb = np.where(mask[..., None], pixels, garbage)
        alpha = np.where(mask, 255, 0).astype(np.uint8)
        arr = np.dstack([rgb, alpha])
        mode = "RGBA"
    else:
        arr = np.where(mask[..., None], pixels, np.array(background_color, np.uint8))
        mode = "RGB"
    up = np.repeat(np.repeat(arr, scale, axis=0), scale, axis=1)
    up = up[phase[1] :, phase[0] :]
    image = Image.fromarray(np.ascontiguousarray(up), mode)
    if jpeg_quality is not None:
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=jpeg_quality)
        image = Image.open(io.BytesIO(buf.getvalue()))
        image.load()
    return Rendered(
        image=image,
        sprite=sprite,
        scale=scale,
        phase=phase,
        background=background,
        background_color=None if background == "transparent" else background_color,
        jpeg_quality=jpeg_quality,
        native_truth=truth,
    )


def random_case(seed: int, scales: tuple[int, int] = (2, 8), jpeg_quality: int | None = None) -> Rendered:
    """One case of the recovery benchmark: random size, scale and phase, from one seed."""
    rng = np.random.default_rng(10_000 + seed)
    w, h = (int(v) for v in rng.integers(12, 40, 2))
    sprite = make_sprite(seed, (w, h), n_colors=int(rng.integers(3, 10)))
    scale = int(rng.integers(scales[0], scales[1] + 1))
    phase = (int(rng.integers(0, scale)), int(rng.integers(0, scale)))
    background = BACKGROUNDS[int(rng.integers(0, len(BACKGROUNDS)))]
    return render(sprite, scale, phase, background, jpeg_quality=jpeg_quality, seed=seed)

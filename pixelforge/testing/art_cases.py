"""Generated pictures whose pixel-art truth is known: thin lines and small key-colour regions.

Used by the quality benchmark and the classical-path tests. Each case carries a mask of its
1-2 px lines (dark on light, plus a few light on dark) and the mask and exact colour of each
small region a pixel artist would keep (a face, an eye, a white stripe). Shapes are drawn
without anti-aliasing, so the masks are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

INK = (28, 24, 36)
SKIN = (232, 178, 140)


@dataclass
class ArtCase:
    name: str
    image: Image.Image
    lines: np.ndarray  # (H, W) bool: pixels of 1-2 px lines that must stay visible
    regions: list[tuple[str, np.ndarray, tuple[int, int, int]]] = field(default_factory=list)


class _Canvas:
    """An RGB picture plus the masks of what was drawn on it."""

    def __init__(self, base: np.ndarray) -> None:
        self.img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
        self.draw = ImageDraw.Draw(self.img)
        self.lines = Image.new("1", self.img.size, 0)
        self.regions: list[tuple[str, np.ndarray, tuple[int, int, int]]] = []

    def line(self, xy: list[tuple[int, int]], width: int, colour: tuple[int, int, int] = INK) -> None:
        self.draw.line(xy, fill=colour, width=width)
        ImageDraw.Draw(self.lines).line(xy, fill=1, width=width)

    def ring(self, box: tuple[int, int, int, int], colour: tuple[int, int, int] = INK) -> None:
        self.draw.ellipse(box, outline=colour, width=1)
        ImageDraw.Draw(self.lines).ellipse(box, outline=1, width=1)

    def region(self, name: str, shape: str, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> None:
        mask = Image.new("1", self.img.size, 0)
        for target, fill in ((self.draw, colour), (ImageDraw.Draw(mask), 1)):
            (target.ellipse if shape == "disc" else target.rectangle)(box, fill=fill)
        self.regions.append((name, np.asarray(mask, dtype=bool), colour))

    def case(self, name: str) -> ArtCase:
        # a region keeps only the pixels no later region or line covers
        lines = np.asarray(self.lines, dtype=bool)
        regions = []
        for i, (n, m, c) in enumerate(self.regions):
            covered = lines.copy()
            for _, later, _ in self.regions[i + 1 :]:
                covered |= later
            regions.append((n, m & ~covered, c))
        return ArtCase(name, self.img, lines, regions)


def _backdrop(size: int, seed: int, texture: float) -> np.ndarray:
    """A smooth light backdrop with some texture and noise, many thousands of colours."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([215 + 25 * x, 205 + 20 * y, 185 + 40 * (1 - x) * y], -1)
    base += texture * np.sin(x * 40)[..., None] * np.cos(y * 30)[..., None]
    return base + rng.normal(0, 3, base.shape)


def outline_case(size: int = 256, seed: int = 0) -> ArtCase:
    """1 and 2 px ink lines at every angle and grid phase, a circle, and a light line on a dark band."""
    c = _Canvas(_backdrop(size, seed, texture=6))
    s = size / 256
    for i, (y, w) in enumerate([(18, 1), (31, 2), (47, 2), (61, 1)]):  # 47/48 straddles a 4 px cell edge
        c.line([(int(12 * s), int(y * s)), (int((120 + 10 * i) * s), int(y * s))], w)
    for x, w in [(150, 1), (163, 2), (175, 2), (190, 1)]:
        c.line([(int(x * s), int(10 * s)), (int(x * s), int(110 * s))], w)
    c.line([(int(205 * s), int(12 * s)), (int(245 * s), int(110 * s))], 1)
    c.line([(int(12 * s), int(80 * s)), (int(130 * s), int(140 * s))], 1)
    c.line([(int(12 * s), int(100 * s)), (int(100 * s), int(190 * s))], 2)
    c.ring((int(140 * s), int(130 * s), int(230 * s), int(220 * s)))
    c.ring((int(160 * s), int(150 * s), int(210 * s), int(200 * s)))
    dark = (int(20 * s), int(205 * s), int(236 * s), int(245 * s))
    c.draw.rectangle(dark, fill=(40, 44, 70))
    c.line([(int(30 * s), int(224 * s)), (int(226 * s), int(224 * s))], 1, colour=(245, 240, 225))
    return c.case("generated: thin lines")


def accent_case(size: int = 256, seed: int = 1) -> ArtCase:
    """A busy photo-like scene with small regions of key colours that k-means by pixel count drops."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    sky = np.stack([90 + 110 * y, 140 + 70 * y, 230 - 40 * y], -1)
    tex = 18 * np.sin(x * 60) * np.cos(y * 45)
    ground = np.stack([70 + tex + 30 * x, 120 + tex + 40 * y, 50 + tex * 0.5], -1)
    base = np.where((y > 0.55 + 0.06 * np.sin(x * 9))[..., None], ground, sky) + rng.normal(0, 5, (size, size, 3))
    c = _Canvas(base)
    s = size / 256
    c.region("skin", "disc", (int(30 * s), int(30 * s), int(50 * s), int(52 * s)), SKIN)
    c.region("red", "rect", (int(100 * s), int(40 * s), int(112 * s), int(52 * s)), (210, 30, 45))
    c.region("white stripe", "rect", (int(150 * s), int(20 * s), int(156 * s), int(110 * s)), (250, 250, 248))
    c.region("yellow", "disc", (int(200 * s), int(60 * s), int(214 * s), int(74 * s)), (250, 215, 40))
    c.region("purple", "rect", (int(40 * s), int(180 * s), int(56 * s), int(190 * s)), (120, 60, 160))
    c.region("eye blue", "disc", (int(120 * s), int(200 * s), int(130 * s), int(210 * s)), (40, 110, 210))
    c.region("hair brown", "rect", (int(190 * s), int(170 * s), int(214 * s), int(180 * s)), (110, 70, 40))
    return c.case("generated: key colours")


def figure_case(size: int = 256, seed: int = 2) -> ArtCase:
    """A flat cartoon head: skin, hair, eyes, a striped shirt, all outlined in 1 px ink."""
    c = _Canvas(_backdrop(size, seed, texture=0))
    s = size / 256

    def sc(*v: float) -> tuple[int, ...]:
        return tuple(int(round(a * s)) for a in v)

    c.region("shirt", "rect", sc(60, 170, 196, 250), (60, 120, 190))
    c.region("shirt stripe", "rect", sc(60, 200, 196, 206), (250, 250, 250))
    c.region("skin", "disc", sc(78, 40, 178, 160), SKIN)
    c.region("hair", "rect", sc(84, 36, 172, 62), (120, 72, 38))
    c.region("eye white left", "disc", sc(100, 84, 118, 100), (255, 255, 255))
    c.region("eye white right", "disc", sc(138, 84, 156, 100), (255, 255, 255))
    c.region("iris left", "disc", sc(106, 88, 114, 96), (40, 110, 210))
    c.region("iris right", "disc", sc(144, 88, 152, 96), (40, 110, 210))
    c.region("mouth", "rect", sc(112, 128, 144, 134), (200, 40, 60))
    c.ring(sc(78, 40, 178, 160))
    c.line([sc(60, 170), sc(196, 170), sc(196, 250), sc(60, 250), sc(60, 170)], 1)
    c.line([sc(100, 76), sc(118, 72)], 2)
    c.line([sc(138, 72), sc(156, 76)], 2)
    c.line([sc(126, 100), sc(122, 116), sc(130, 116)], 1)
    return c.case("generated: cartoon head")


def _lab(rgb: np.ndarray) -> np.ndarray:
    """Rough CIELAB (D65) of sRGB 0..255, enough to keep generated colours apart."""
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    f = np.cbrt(xyz / np.array([0.9505, 1.0, 1.089]))
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def salient_case(seed: int, size: int = 256, regions: int = 6) -> ArtCase:
    """A random busy scene (two-hue gradient backdrop, texture, a ground band, noise) with small key regions.

    The regions are 2-6 cells of a 4 px grid across, flat or shaded like a face, and their colours
    differ clearly (CIELAB distance >= 20) from the backdrop around them and from each other: what
    a pixel artist keeps and k-means by pixel count tends to drop. Random but reproducible per seed.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    top, bottom, ground = rng.uniform(60, 230, (3, 3))
    base = top + (bottom - top) * y[..., None]
    tex = rng.uniform(5, 20) * np.sin(x * rng.uniform(20, 70)) * np.cos(y * rng.uniform(20, 60))
    horizon = rng.uniform(0.5, 0.75) + 0.05 * np.sin(x * rng.uniform(4, 12))
    base = np.where((y > horizon)[..., None], ground + tex[..., None] * np.array([1.0, 1.2, 0.6]), base)
    base = base + rng.normal(0, 4, base.shape)
    c = _Canvas(base)
    taken = np.zeros((size, size), bool)
    chosen: list[np.ndarray] = []
    for _ in range(regions * 20):
        if len(c.regions) >= regions:
            break
        w, h = (int(v) for v in rng.integers(8, 25, 2))
        x0, y0 = (int(v) for v in rng.integers(4, size - 28, 2))
        near = (slice(max(0, y0 - 6), y0 + h + 6), slice(max(0, x0 - 6), x0 + w + 6))
        if taken[near].any():
            continue
        colour = rng.integers(0, 256, 3)
        lab = _lab(colour)
        if np.linalg.norm(lab - _lab(np.asarray(c.img)[near].reshape(-1, 3).mean(0))) < 20:
            continue
        if any(np.linalg.norm(lab - other) < 20 for other in chosen):
            continue
        chosen.append(lab)
        shaded = bool(rng.integers(0, 2))
        shape = "disc" if rng.integers(0, 2) else "rect"
        c.region(f"key {len(c.regions)}", shape, (x0, y0, x0 + w, y0 + h), tuple(int(v) for v in colour))
        if shaded:  # lit on the right, shadowed on the left, like a face: its colour is then its median
            name, mask, _ = c.regions[-1]
            arr = np.asarray(c.img).astype(np.float32)
            xs = np.nonzero(mask)[1]
            arr[mask] = np.clip(arr[mask] * (1 + 0.25 * (xs - (x0 + w / 2)) / w)[:, None], 0, 255)
            c.img = Image.fromarray(arr.astype(np.uint8), "RGB")
            c.draw = ImageDraw.Draw(c.img)
            c.regions[-1] = (name, mask, tuple(int(v) for v in np.median(arr.astype(np.uint8)[mask], axis=0)))
        taken[y0 : y0 + h, x0 : x0 + w] = True
    return c.case(f"generated: salient {seed}")


def all_cases() -> list[ArtCase]:
    return [outline_case(), accent_case(), figure_case()]

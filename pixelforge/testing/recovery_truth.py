"""Ground truth and grading for native-grid recovery, shared by the tests and benchmarks/recovery.py (product code, as Scrapy ships ``scrapy.utils.test``).

Two generated sets, each with and without JPEG (quality 85):

* ``sprite`` cases: :func:`pixelforge.testing.sprites.random_case` (scale 2..8, random crop phase,
  transparent / solid / solid-inside backgrounds);
* ``real`` cases: the real pixel art in ``tests/fixtures/art/pixel`` upscaled x2..x8 by integer
  nearest neighbour, cropped by a random phase and to at most 1024 px around the centre.

What "right" means:

* scale: the detected cell size equals the upscale factor on both axes;
* native size: the output has exactly the truth's width and height;
* cells on lossless input: every cell equals the truth after compositing on white;
* cells on JPEG input: every *art* cell is identified, i.e. the recovered colour is nearer to its
  true colour than to any other colour of the truth. A transparent sprite saved as JPEG shows the
  random RGB that lay under alpha=0 (its ``convert("RGB")``); that noise is what the truth holds
  there, but it is not art, so those background cells are graded separately, not as art cells.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from pixelforge.imaging import composite_on_white, scale_nearest
from pixelforge.testing.sprites import Rendered, random_case, render

#: Real pixel art fixtures of the source checkout (licences in tests/fixtures/README.md).
PIXEL_ART = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "art" / "pixel"


class NativeResult(Protocol):
    """What grading reads of a recovery result (``curation.stages.native.NativeResult`` has it)."""

    image: Image.Image
    scale: tuple[float, float]
    phase: tuple[int, int]


@dataclass(frozen=True)
class Case:
    name: str
    image: Image.Image
    scale: int
    phase: tuple[int, int]  # first full cell boundary (x, y) in the input, in [0, scale)
    truth: np.ndarray  # (h, w, 3) the native pixels the input was made from, as RGB
    art: np.ndarray  # (h, w) bool, cells that are art (graded for JPEG)
    jpeg: bool


@dataclass(frozen=True)
class Grade:
    scale_ok: bool
    phase_ok: bool
    size_ok: bool
    cells_right: int
    cells_total: int


def _jpeg(img: Image.Image, quality: int = 85) -> Image.Image:
    buf = io.BytesIO()
    composite_on_white(img).save(buf, format="JPEG", quality=quality)
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


def sprite_case(seed: int, jpeg: bool) -> Case:
    r: Rendered = random_case(seed, jpeg_quality=85 if jpeg else None)
    mask = np.pad(r.sprite.mask, 2)
    colour = {} if r.background_color is None else {"background_color": r.background_color}
    # the native picture exactly as the encoder saw it (JPEG flattens RGBA by dropping alpha)
    flat = render(r.sprite, 1, (0, 0), r.background, seed=seed, **colour).image
    truth = np.asarray(flat.convert("RGB") if jpeg else composite_on_white(flat))
    art = mask if (jpeg and r.background == "transparent") else np.ones_like(mask)
    s = r.scale
    return Case(f"sprite{seed}{'.jpg' if jpeg else ''}", r.image, s, ((s - r.phase[0]) % s, (s - r.phase[1]) % s), truth, art, jpeg)


def real_cases(n_per_file: int, seed: int = 0, max_side: int = 1024) -> list[Case]:
    """Real pixel art, upscaled x2..x8 with a random phase, PNG and JPEG of each."""
    rng = np.random.default_rng(seed)
    cases = []
    for path in sorted(PIXEL_ART.glob("*.png")):
        src = Image.open(path)
        src.load()
        native = np.asarray(composite_on_white(src))
        for k in range(n_per_file):
            s = int(rng.integers(2, 9))
            px, py = (int(v) for v in rng.integers(0, s, 2))
            big = scale_nearest(src, s)
            # crop the phase, then at most max_side on a cell boundary: around the centre, or
            # elsewhere when the centre shows no change along an axis (a flat crop has no grid)
            w, h = big.width - px, big.height - py
            cw, ch = min(w, max_side), min(h, max_side)
            nx, ny = -(-(cw + px) // s), -(-(ch + py) // s)
            cx, cy = max(0, (w - max_side) // 2 // s * s), max(0, (h - max_side) // 2 // s * s)
            for _ in range(20):
                truth = native[cy // s : cy // s + ny, cx // s : cx // s + nx]
                if (truth[:, 1:] != truth[:, :-1]).any() and (truth[1:] != truth[:-1]).any():
                    break
                cx = int(rng.integers(0, (w - cw) // s + 1)) * s
                cy = int(rng.integers(0, (h - ch) // s + 1)) * s
            img = big.crop((px + cx, py + cy, px + cx + cw, py + cy + ch))
            phase = ((s - px) % s, (s - py) % s)
            art = np.ones(truth.shape[:2], bool)
            cases.append(Case(f"{path.stem}#{k}", img, s, phase, truth, art, False))
            cases.append(Case(f"{path.stem}#{k}.jpg", _jpeg(img), s, phase, truth, art, True))
    return cases


def grade(case: Case, result: NativeResult) -> Grade:
    got = np.asarray(composite_on_white(result.image) if not case.jpeg else result.image.convert("RGB"))
    size_ok = got.shape == case.truth.shape
    scale_ok = result.scale == (float(case.scale), float(case.scale))
    phase_ok = result.phase == case.phase
    total = int(case.art.sum())
    if not size_ok:
        return Grade(scale_ok, phase_ok, False, 0, total)
    if not case.jpeg:
        right = int((got == case.truth).all(-1).sum())
        return Grade(scale_ok, phase_ok, True, right, int(case.truth.shape[0] * case.truth.shape[1]))
    truth = case.truth[case.art].astype(np.float64)
    palette = np.unique(truth, axis=0)
    d = ((got[case.art].astype(np.float64)[:, None, :] - palette[None]) ** 2).sum(-1)
    right = int((palette[d.argmin(1)] == truth).all(-1).sum())
    return Grade(scale_ok, phase_ok, True, right, total)


@dataclass
class Tally:
    n: int = 0
    scale: int = 0
    phase: int = 0
    size: int = 0
    right: int = 0
    cells: int = 0

    def add(self, g: Grade) -> None:
        self.n += 1
        self.scale += g.scale_ok
        self.phase += g.phase_ok
        self.size += g.size_ok
        self.right += g.cells_right
        self.cells += g.cells_total

    def rates(self) -> dict[str, float]:
        return {
            "scale": self.scale / max(self.n, 1),
            "phase": self.phase / max(self.n, 1),
            "size": self.size / max(self.n, 1),
            "cells": self.right / max(self.cells, 1),
        }

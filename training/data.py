"""Training data: the two unpaired domains, their preprocessing, and a resumable epoch order.

A domain source is one of

* a local dataset folder written by ``curate run`` (Parquet shards under ``data/``, see
  :mod:`pixelforge.dataset`); both domains read the ``native`` column (the picture itself; one pixel per art pixel in B);
* a Hugging Face Hub dataset id (``owner/name``), loaded with ``datasets.load_dataset``;
* a plain folder of images (searched recursively);
* the reference layout: a folder holding ``trainA/`` and ``trainB/``.

Preprocessing differs per domain, because pixel art is fragile:

* **A (pictures):** the reference's standard jitter: shorter side resized to ``load_size``
  (bicubic, aspect kept, so non-square pictures are not squashed), a random ``size`` crop, a flip;
  the native recipes reduce by area instead (``a_resize = "box"``), or as ``pixelate`` reduces a
  picture for its generator, thin features kept at their colour (``"lines"``), and with the cells on
  features narrower than a cell, found in the full picture, drawn in as blocks (``"cells"``; the dark ones
  only: ``"dark-cells"``);
* **B (pixel art):** back to native resolution if the file is an exact integer upscale, then
  the largest integer nearest-neighbour scale that fits ``size``, placed on white at a random
  offset that is a multiple of the scale (so the pixel grid stays aligned with the crop); art
  larger than ``size`` at native resolution gets a random ``size`` window at scale 1. No resampling
  ever blends two art pixels.

Every random choice comes from ``(seed, epoch, index)``, so the data stream is identical with any
number of workers and after a resume. A file that fails to decode is replaced by the next good
one in the epoch and reported; a domain with no usable image is an error before training starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from pixelforge.decoding import ImageDecodeError
from pixelforge.imaging import fit_scale, scale_nearest
from pixelforge.model.recorded import MODEL_INPUTS
from training.domains import (  # noqa: F401 - re-exported: the domains were part of this module
    DataError,
    Domain,
    FolderDomain,
    Rejected,
    TableDomain,
    looks_like_path,
    open_domain,
    read_image_file,
)
from training.outlines import CONTRAST, outline_target, with_feature_cells

# --------------------------------------------------------------------------- preprocessing (pure)


def native_pixels(img: Image.Image, max_scale: int = 32) -> tuple[Image.Image, int]:
    """Undo an exact integer nearest-neighbour upscale (every k x k block one colour); else k = 1."""
    arr = np.asarray(img)
    height, width = arr.shape[:2]
    g = math.gcd(width, height)
    for k in sorted((d for d in range(2, min(g, max_scale) + 1) if g % d == 0), reverse=True):
        small = arr[::k, ::k]
        if np.array_equal(np.repeat(np.repeat(small, k, axis=0), k, axis=1), arr):
            return Image.fromarray(np.ascontiguousarray(small), img.mode), k
    return img, 1


def _window_start(ink_lo: int, ink_hi: int, length: int, span: int, rng: np.random.Generator | None) -> int:
    """Start of a ``span``-long window on an axis of ``length`` that stays on the ink ``[ink_lo, ink_hi)``
    (centred without ``rng``, else drawn)."""
    last = max(length - span, 0)
    lo, hi = sorted((min(max(ink_lo, 0), last), min(max(ink_hi - span, 0), last)))
    return (lo + hi) // 2 if rng is None else int(rng.integers(lo, hi + 1))


def pixel_art_crop(
    img: Image.Image, size: int, rng: np.random.Generator | None, flip: bool, max_scale: int = 0, scale: int = 0
) -> Image.Image:
    """Domain B: integer NN fit onto a white ``size`` square, offset aligned to the pixel grid.

    ``max_scale=1`` keeps one pixel per art pixel (the native recipe: the generator then learns at the
    resolution ``pixelate`` runs it, one generator pixel per cell); 0 = the largest scale that fits.
    ``scale=k`` makes every art pixel exactly ``k``x``k`` (a window of the art where it does not fit),
    for a model run at ``k`` generator pixels per cell. ``rng=None`` gives the deterministic centred
    version (samples, evaluation).
    """
    native, _ = native_pixels(img.convert("RGB"))
    if flip and rng is not None and rng.random() < 0.5:  # flip the art, not the canvas: the grid stays aligned
        native = native.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    width, height = native.size
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    k = scale or fit_scale(width, height, size)
    if max_scale and not scale:
        k = min(k, max_scale)
    if scale and (width * k > size or height * k > size):  # a window of size // k art pixels, then k x k each
        span = size // k
        # the window stays on the art's ink: a random window of a sprite sheet is mostly empty canvas
        ink = np.argwhere((np.asarray(native) < 250).any(-1))
        (iy0, ix0), (iy1, ix1) = (ink.min(0), ink.max(0) + 1) if len(ink) else ((0, 0), (height, width))
        x0 = _window_start(int(ix0), int(ix1), width, span, rng)
        y0 = _window_start(int(iy0), int(iy1), height, span, rng)
        window = scale_nearest(native.crop((x0, y0, min(x0 + span, width), min(y0 + span, height))), k)
        canvas.paste(window, ((size - window.width) // 2 // k * k, (size - window.height) // 2 // k * k))
    elif k >= 1:
        scaled = scale_nearest(native, k)
        slack_x, slack_y = size - scaled.width, size - scaled.height
        if rng is None:
            x, y = (slack_x // 2) // k * k, (slack_y // 2) // k * k
        else:
            x, y = k * int(rng.integers(0, slack_x // k + 1)), k * int(rng.integers(0, slack_y // k + 1))
        canvas.paste(scaled, (x, y))
    else:  # bigger than the crop at native resolution: a window at scale 1, white where it runs out
        over_x, over_y = max(width - size, 0), max(height - size, 0)
        if rng is None:
            x0, y0 = over_x // 2, over_y // 2
        else:
            x0, y0 = int(rng.integers(0, over_x + 1)), int(rng.integers(0, over_y + 1))
        window = native.crop((x0, y0, min(x0 + size, width), min(y0 + size, height)))
        canvas.paste(window, ((size - window.width) // 2, (size - window.height) // 2))
    return canvas


def picture_crop(
    img: Image.Image, size: int, load_size: int, rng: np.random.Generator | None, flip: bool, resize: str = "bicubic",
    min_load_size: int = 0,
) -> Image.Image:
    """Domain A: shorter side to ``load_size`` (aspect kept), random ``size`` crop, flip.

    ``resize="bicubic"`` is the reference; ``"box"`` averages areas, as ``pixelate`` does to bring a
    picture down to its cell grid, so the generator trains on the inputs it will see.
    ``min_load_size`` > 0 draws the shorter side from ``min_load_size..load_size`` instead: the same
    cartoon at several cell grids (``pixelate`` runs one generator pixel per cell, whatever the cell
    size); a picture smaller than the crop is placed on white, as domain B's small sprites are.
    """
    img = img.convert("RGB")
    width, height = img.size
    if min_load_size and rng is not None:
        load_size = int(rng.integers(min_load_size, load_size + 1))
    ratio = load_size / min(width, height)
    if min_load_size and min(width, height) * ratio < size:  # smaller than the crop: whole picture on white
        ratio = min(ratio, size / max(width, height))
        new_w, new_h = max(1, round(width * ratio)), max(1, round(height * ratio))
        small = img.resize((new_w, new_h), Image.Resampling.BOX if resize == "box" else Image.Resampling.BICUBIC)
        canvas = Image.new("RGB", (size, size), (255, 255, 255))
        if rng is None:
            x, y = (size - new_w) // 2, (size - new_h) // 2
        else:
            x, y = int(rng.integers(0, size - new_w + 1)), int(rng.integers(0, size - new_h + 1))
        canvas.paste(small, (x, y))
        if flip and rng is not None and rng.random() < 0.5:
            canvas = canvas.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return canvas
    ratio = load_size / min(width, height)
    new_w, new_h = max(size, round(width * ratio)), max(size, round(height * ratio))
    if (new_w, new_h) != (width, height):
        box = resize == "box" and new_w < width
        img = img.resize((new_w, new_h), Image.Resampling.BOX if box else Image.Resampling.BICUBIC)
    if rng is None:
        x, y = (new_w - size) // 2, (new_h - size) // 2
    else:
        x, y = int(rng.integers(0, new_w - size + 1)), int(rng.integers(0, new_h - size + 1))
    img = img.crop((x, y, x + size, y + size))
    if flip and rng is not None and rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


def to_tensor(img: Image.Image) -> torch.Tensor:
    """uint8 RGB -> float CHW in [-1, 1] (the reference's Normalize(0.5, 0.5))."""
    arr = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True)).permute(2, 0, 1)
    return arr.float().div_(127.5).sub_(1.0)


def to_image(t: torch.Tensor) -> Image.Image:
    """float CHW in [-1, 1] -> uint8 RGB (for samples)."""
    arr = ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


# --------------------------------------------------------------------------- the epoch stream


@dataclass(frozen=True)
class Preprocess:
    size: int
    load_size: int
    flip: bool = True
    a_resize: str = "bicubic"  # bicubic (reference) | box (area average) | lines (box, thin features kept: pixelate's model input)
    #                            | cells (lines, and the picture's feature cells of 4 px as 2x2 blocks) | dark-cells (dark ones only)
    b_max_scale: int = 0  # 0 = largest integer scale that fits; 1 = native pixels
    a_min_load_size: int = 0  # > 0: domain A's shorter side drawn from a_min_load_size..load_size
    b_scale: int = 0  # > 0: every art pixel exactly b_scale x b_scale (overrides b_max_scale)
    # > 0 (with a_resize "lines"): also G_A's colour-keeping target, found in the picture before halving,
    # one colour per target_pool x target_pool generator pixels (see ``a_pair``)
    target_pool: int = 0
    target_contrast: float = CONTRAST
    target_reduce: str = "mean"  # the target's cells off features: the picture's "mean" or "medoid" (one of its pixels)

    def a(self, img: Image.Image, rng: np.random.Generator | None) -> Image.Image:
        return self.a_pair(img, rng)[0]

    def a_pair(self, img: Image.Image, rng: np.random.Generator | None) -> tuple[Image.Image, torch.Tensor | None]:
        """Domain A's input and, with ``target_pool``, the cells G_A should keep (else None).

        The target is the outline target of the picture at twice the input's resolution, with cells of
        ``2 * target_pool`` of its pixels: a feature narrower than a cell is found, and coloured, as the
        classical method finds it in the full picture, not in the halved input where halving has already
        paled a 3 px eye. With ``target_reduce = "medoid"`` the other cells are each one of the picture's own
        pixels (:func:`training.outlines.block_medoids`), never the blend that halving has already made of an edge.
        """
        if self.a_resize not in MODEL_INPUTS:  # lines, cells, dark-cells: the inputs pixelate builds for a model
            return picture_crop(img, self.size, self.load_size, rng, self.flip, self.a_resize, self.a_min_load_size), None
        # cropped at twice the size, then halved as pixelate halves a picture for its generator
        # (inference.classic.reduce_keeping_lines, mirrored by outline_target): 2x2 averages, blocks on thin
        # features at the feature's colour, so the generator sees lines as they will arrive, not as pale greys
        big = picture_crop(img, 2 * self.size, 2 * self.load_size, rng, self.flip, "box", 2 * self.a_min_load_size)
        pixels = to_tensor(big)[None]
        target = (outline_target(pixels, 2 * self.target_pool, self.target_contrast, self.target_reduce)[0]
                  if self.target_pool > 0 else None)
        halved = outline_target(pixels, 2)
        if self.a_resize != "lines":  # and the picture's feature cells (4 px, 2 generator pixels) as 2x2 blocks
            halved = with_feature_cells(halved, pixels, 4, self.target_contrast, self.a_resize)
        return to_image(halved[0]), target

    def b(self, img: Image.Image, rng: np.random.Generator | None) -> Image.Image:
        return pixel_art_crop(img, self.size, rng, self.flip, self.b_max_scale, self.b_scale)


def epoch_pairs(
    len_a: int, len_b: int, seed: int, epoch: int, rank: int = 0, world: int = 1, weights_b: np.ndarray | None = None
) -> np.ndarray:
    """This rank's (index_a, index_b) pairs for ``epoch``: A shuffled, B drawn at random (the reference's
    unaligned dataset), with ``weights_b`` if given (see ``Domain.balance_weights``). Padded by wrapping so
    every rank gets the same number of pairs (DDP needs it)."""
    n = max(len_a, len_b)
    rng = np.random.default_rng([seed, epoch])
    ia = rng.permutation(n) % len_a
    ib = rng.integers(0, len_b, size=n) if weights_b is None else rng.choice(len_b, size=n, p=weights_b)
    per_rank = -(-n // world)
    pairs = np.stack([ia, ib], axis=1)
    pairs = np.concatenate([pairs, pairs[: per_rank * world - n]]) if per_rank * world > n else pairs
    return pairs[rank::world]


@dataclass
class UnpairedEpoch(torch.utils.data.Dataset):
    """One epoch of (A, B) pairs for one rank, starting ``start`` samples in (for resume)."""

    a: Domain
    b: Domain
    pre: Preprocess
    seed: int
    epoch: int
    rank: int = 0
    world: int = 1
    start: int = 0
    weights_b: np.ndarray | None = None
    pairs: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        pairs = epoch_pairs(len(self.a), len(self.b), self.seed, self.epoch, self.rank, self.world, self.weights_b)
        self.pairs = pairs[self.start :]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        ia, ib = (int(v) for v in self.pairs[i])
        position = self.start + i
        img_a, bad_a = _load_or_next(self.a, ia)
        img_b, bad_b = _load_or_next(self.b, ib)
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, position])
        input_a, target_a = self.pre.a_pair(img_a, rng)
        item = {
            "A": to_tensor(input_a),
            "B": to_tensor(self.pre.b(img_b, rng)),
            "bad": "\n".join(bad_a + bad_b),
        }
        if target_a is not None:
            item["A_target"] = target_a
        return item


def _load_or_next(domain: Domain, index: int) -> tuple[Image.Image, list[str]]:
    """Load ``index``; if it fails, the next index that loads (every failure reported, none fatal)."""
    bad: list[str] = []
    for k in range(len(domain)):
        j = (index + k) % len(domain)
        try:
            return domain.load(j), bad
        except (ImageDecodeError, OSError) as exc:
            bad.append(f"{domain.name(j)}\t{exc}")
    raise DataError(f"domain {domain.role}: none of the {len(domain)} images in {domain.source} decodes")


def sample_batch(domain: Domain, pre: Preprocess, n: int) -> torch.Tensor | None:
    """The first ``n`` loadable images, centred and unflipped: the fixed per-epoch samples (None for ``n = 0``)."""
    if n <= 0:
        return None
    images = []
    for i in range(min(n, len(domain))):
        img, _ = _load_or_next(domain, i)
        images.append(to_tensor(pre.a(img, None) if domain.role == "A" else pre.b(img, None)))
    return torch.stack(images)

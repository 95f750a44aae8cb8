"""The picture drawn in several orientations and the drawings averaged (test-time augmentation).

A CycleGAN generator is not symmetric: the same eye, mirrored, may come out a cell off or a shade darker, and a
stray cell it draws one way it rarely draws the others. Drawing the picture mirrored, flipped and transposed,
turning each drawing back and averaging them keeps what the generator draws every way (strokes, shading steps)
and thins out what it draws one way only. The picture reaches the result only through the generator: this
averages the model's own drawings and adds nothing of the picture's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np

#: how many views may be asked for: 1 = as is; 2 = and mirrored; 4 = and flipped (both ways); 8 = and transposed
VIEWS = (1, 2, 4, 8)
#: ``views`` value meaning "as many as fit :data:`VIEW_BUDGET`" (the default for models)
AUTO = 0
#: generator pixels one picture may cost with ``views`` AUTO: one pass over a 1024² picture at cell 4 and two
#: generator pixels per cell (512²). A sprite gets 8 views for less than that; a photo that size gets 1.
VIEW_BUDGET_SIDE = 512
VIEW_BUDGET = VIEW_BUDGET_SIDE**2


def checked_views(views: int) -> int:
    """``views`` if it is :data:`AUTO` or one of :data:`VIEWS`, else ValueError."""
    if views != AUTO and views not in VIEWS:
        raise ValueError(f"views must be auto ({AUTO}) or one of {', '.join(map(str, VIEWS))}, got {views!r}")
    return views


def parse_views(text: str) -> int:
    """``--views`` on a command line: ``auto`` or 1, 2, 4, 8."""
    if text == "auto":
        return AUTO
    if text.isdigit() and int(text) in VIEWS:
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r}: choose auto, {', '.join(map(str, VIEWS))}")


def auto_views(height: int, width: int, budget: int = VIEW_BUDGET) -> int:
    """The most views of an ``height`` x ``width`` generator input that cost at most ``budget`` pixels (at least 1)."""
    return max([v for v in VIEWS if v * height * width <= budget], default=1)


def views_label(views: int) -> str:
    """How ``--views`` reads: ``auto`` or the number."""
    return "auto" if views == AUTO else str(views)


def oriented(a: np.ndarray, k: int) -> np.ndarray:
    """View ``k`` (0..7) of an ``(H, W, C)`` array: bit 4 transposes, bit 1 mirrors left-right, bit 2 flips
    upside down, in that order."""
    if k & 4:
        a = a.transpose(1, 0, 2)
    if k & 1:
        a = a[:, ::-1]
    if k & 2:
        a = a[::-1]
    return np.ascontiguousarray(a)


def restored(a: np.ndarray, k: int) -> np.ndarray:
    """Undo :func:`oriented`: ``restored(oriented(a, k), k)`` is ``a``."""
    if k & 2:
        a = a[::-1]
    if k & 1:
        a = a[:, ::-1]
    if k & 4:
        a = a.transpose(1, 0, 2)
    return np.ascontiguousarray(a)


def translate_views(
    translate: Callable[[Sequence[np.ndarray]], list[np.ndarray]], pictures: Sequence[np.ndarray], views: int,
    margin: int = 0,
) -> list[np.ndarray]:
    """``translate`` (pictures in, same-sized drawings out) on ``views`` orientations of every picture, each
    drawing turned back and the drawings averaged. All views go to ``translate`` in one call, so same-sized
    ones share its batches; ``views`` 1 calls it on the pictures as they are; :data:`AUTO` gives each picture
    :func:`auto_views` of its size without the ``margin`` it carries on each side (a border shown for context does
    not cost the picture its views)."""
    if checked_views(views) == AUTO:  # each picture as many views as its size allows; one call per group, order kept
        chosen = [auto_views(p.shape[0] - 2 * margin, p.shape[1] - 2 * margin) for p in pictures]
        out: list[np.ndarray | None] = [None] * len(pictures)
        for v in sorted(set(chosen)):
            index = [i for i, c in enumerate(chosen) if c == v]
            for i, drawn in zip(index, translate_views(translate, [pictures[i] for i in index], v)):
                out[i] = drawn
        return out  # type: ignore[return-value]
    if views == 1:
        return translate(pictures)
    drawn = translate([oriented(p, k) for p in pictures for k in range(views)])
    out = []
    for i in range(len(pictures)):
        total = np.zeros(pictures[i].shape, np.float32)
        for k in range(views):
            total += restored(drawn[i * views + k], k)
        out.append(total / views)
    return out

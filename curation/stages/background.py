"""Stage 3: every background becomes white, and nothing else changes.

Each image gets a background kind:

* ``alpha``: transparency is composited onto white, never dropped (the RGB under alpha=0 is arbitrary).
* ``white`` / ``border``: an opaque image on a flat key colour (the dominant colour of at least
  ``key_min_border_share`` of the border ring, so a figure may touch much of the border) is
  flood-filled from the border: only pixels of that colour *connected to the border* turn white,
  so a sprite's own pixels of the same colour stay.
  Pixels of the key colour enclosed by the figure stay by default (they may be the art's own); with
  ``fill_holes`` (sprite rips, where the key colour is transparent everywhere) they turn white too.
* ``scene``: full-bleed art (a level background, a portrait, a tile) is never filled, even when its
  sky is one colour: the art next to the flat colour is shaded towards it (a sky or ground in the
  picture's own palette; a key colour contrasts with everything it touches), or art covers a whole
  side of the image (ground, buildings, water) without being a sprite cropped tight (art on all
  four sides, none of its edge near the key colour), or is scattered over the flat colour (a
  starfield, clouds), or the border is not one colour but made of flat runs (pixel art, not
  noise). Kept pixel for pixel.
* ``complex``: anything else (noise, gradients, photos): rembg cuts it out when a model is
  configured; otherwise the filters reject it (domain B) or keep it as it is (``keep_complex_domains``).

Whatever the kind, ``visible_edge`` measures how much of the figure's outline shows on white:
a white figure on transparency (a snow pile, a white font) would vanish and is rejected.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from curation.config import BackgroundConfig
from pixelforge.imaging import WHITE, channel_min, composite_on_white

U2NET_RELEASES = "https://github.com/danielgatis/rembg/releases/download/v0.0.0"


class RembgModelMissing(FileNotFoundError):
    """The configured rembg model file is not on disk. We never download it for you."""


@dataclass(frozen=True)
class BackgroundResult:
    image: Image.Image  # RGB, background white
    kind: str  # "alpha", "white", "border", "rembg", "complex", "none"
    border_color: tuple[int, int, int] | None = None
    border_share: float = 0.0  # share of border pixels matching the dominant border colour
    filled: int = 0  # pixels turned white
    visible_edge: float = 1.0  # share of the figure's outline that differs clearly from white
    reason: str = ""  # why this kind (shown by curate inspect)


def border_pixels(arr: np.ndarray) -> np.ndarray:
    """The outermost ring of an (H, W, 3) array as (N, 3)."""
    if arr.shape[0] <= 2 or arr.shape[1] <= 2:
        return arr.reshape(-1, 3)
    return np.concatenate([arr[0], arr[-1], arr[1:-1, 0], arr[1:-1, -1]])


def dominant_border_color(arr: np.ndarray, tolerance: int) -> tuple[tuple[int, int, int], float]:
    """Most frequent border colour and the share of border pixels within ``tolerance`` of it."""
    ring = border_pixels(arr).astype(np.int32)
    packed = (ring[:, 0] << 16) | (ring[:, 1] << 8) | ring[:, 2]
    keys, counts = np.unique(packed, return_counts=True)
    key = int(keys[np.argmax(counts)])
    mode = np.array([(key >> 16) & 255, (key >> 8) & 255, key & 255])
    # with noise (JPEG, dithering) the most frequent value is an outlier of the cloud: use its median
    near = ring[np.abs(ring - mode).max(axis=1) <= 2 * tolerance]
    color = tuple(int(v) for v in np.median(near, axis=0).round())
    close = np.abs(ring - np.array(color)).max(axis=1) <= tolerance
    return color, float(close.mean())


def key_color(arr: np.ndarray, config: BackgroundConfig) -> tuple[tuple[int, int, int], float] | None:
    """The border colour most likely to be a key colour: among the commonest ring colours (each on
    at least ``key_min_border_share`` of the ring), the one in most corners (a sprite cropped tight
    shows its own colour along whole sides, rarely in the corners), then the commonest. White in
    ``MIN_KEY_CORNERS`` corners wins whatever its share. A colour in fewer than ``MIN_KEY_CORNERS``
    corners is no key colour (None)."""
    color, share = dominant_border_color(arr, config.tolerance)
    ring = border_pixels(arr).astype(np.int16)
    packed = (ring[:, 0].astype(np.int32) << 16) | (ring[:, 1].astype(np.int32) << 8) | ring[:, 2]
    corners = np.array([arr[0, 0], arr[0, -1], arr[-1, 0], arr[-1, -1]], np.int16)
    best: tuple[int, float, tuple[int, int, int]] | None = None
    left = np.ones(len(ring), bool)
    for _ in range(3):
        if share >= config.key_min_border_share:
            in_corners = int((np.abs(corners - np.array(color)).max(-1) <= config.tolerance).sum())
            if best is None or (in_corners, share) > best[:2]:
                best = (in_corners, share, color)
        left &= np.abs(ring - np.array(color)).max(-1) > config.tolerance
        if left.sum() < config.key_min_border_share * len(ring):
            break
        keys, counts = np.unique(packed[left], return_counts=True)  # packed RGB sorts like the rows
        key = int(keys[np.argmax(counts)])
        color = ((key >> 16) & 255, (key >> 8) & 255, key & 255)
        share = float((np.abs(ring - np.array(color)).max(-1) <= config.tolerance).mean())
    # white (or JPEG's near-white) in two corners is the background whatever its share: corner notches
    # of a tile cut from a white page, the transparent corners of a crate saved without alpha. Filling
    # it changes at most near-white noise, where another colour's fill could eat the art's own frame
    near_white = np.abs(ring - np.array(WHITE)).max(-1) <= config.tolerance
    white_corners = int((np.abs(corners - np.array(WHITE)).max(-1) <= config.tolerance).sum())
    if white_corners >= MIN_KEY_CORNERS:
        return WHITE, float(near_white.mean())
    # a colour in fewer than two corners runs along the sides: the figure's own outline, not a background
    return None if best is None or best[0] < MIN_KEY_CORNERS else (best[2], best[1])


def flood_from_border(arr: np.ndarray, color: tuple[int, int, int], tolerance: int) -> np.ndarray:
    """Mask of pixels within ``tolerance`` of ``color`` that are 4-connected to the image border."""
    return _flood(_distance(arr, color) <= tolerance)


def _distance(arr: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    """Largest per-channel difference of every pixel from ``color`` (uint8, no widening copies)."""
    c = np.array(color, np.uint8)
    d = np.maximum(arr, c)
    d -= np.minimum(arr, c)
    return d.max(axis=2)


def _flood(near: np.ndarray) -> np.ndarray:
    """The pixels of ``near`` that are 4-connected to the image border."""
    labels, n = ndimage.label(near)
    touches = np.zeros(n + 1, bool)  # per label: does it reach the border?
    for line in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touches[line] = True
    touches[0] = False  # label 0 is "not near the colour"
    return touches[labels]


#: a pixel differs clearly from white when a channel is this far from 255 (whitened art stays within ~25)
VISIBLE = 32
#: figure parts over a flat colour: more than this many, none holding SCATTER_SHARE of the figure, is a starfield
SCATTER_PARTS = 24
SCATTER_SHARE = 0.3
#: near-key pixels around the fill beyond this share of it: a noisy background, not a key colour
NOISY_HALO = 0.05
#: a key colour shows in at least this many corners (a tight sprite is rarely a rectangle)
MIN_KEY_CORNERS = 2
#: edge blend under which a sprite touching all four sides counts as cropped tight on a key colour
TIGHT_CROP_BLEND = 0.05
#: three or more parts of at least OBJECT_AREA of the image, none holding MAIN_SHARE of the art: a scene
OBJECT_AREA = 0.01
MAIN_SHARE = 0.6


def visible_edge(white: np.ndarray, background: np.ndarray) -> float:
    """How much of the figure shows on white: the larger of the share of its outline (figure pixels
    next to the background) and the share of all its pixels that differ clearly from white. A white
    ghost with a dark outline and a shuriken with a white rim both show; white rings do not."""
    return _visible_edge(white, ~background, _outline(background))


def _outline(background: np.ndarray) -> np.ndarray:
    """Figure pixels 4-adjacent to the background (= the background's one-step dilation less itself)."""
    near_bg = np.zeros_like(background)
    near_bg[1:] |= background[:-1]
    near_bg[:-1] |= background[1:]
    near_bg[:, 1:] |= background[:, :-1]
    near_bg[:, :-1] |= background[:, 1:]
    near_bg &= ~background
    return near_bg


def _visible_edge(white: np.ndarray, fig: np.ndarray, outline: np.ndarray) -> float:
    if not outline.any():
        return 1.0
    shows = channel_min(white) <= 255 - VISIBLE  # some channel at least VISIBLE below white
    return float(max(shows[outline].mean(), shows[fig].mean()))


def ring_flatness(arr: np.ndarray) -> float:
    """Share of border-ring pixels equal to the next one along the ring (flat runs: pixel art)."""
    ring = np.concatenate([arr[0], arr[1:, -1], arr[-1, ::-1][1:], arr[::-1, 0][1:-1]])
    return float((ring[1:] == ring[:-1]).all(-1).mean()) if len(ring) > 1 else 1.0


def edge_blend(distance: np.ndarray, outline: np.ndarray, contrast: int) -> float:
    """Share of the figure's edge (``outline``) within ``contrast`` levels of the flat colour."""
    return float((distance[outline] <= contrast).mean()) if outline.any() else 0.0


def scene_reason(mask: np.ndarray, config: BackgroundConfig, blend: float = 0.0) -> str:
    """Why the flat colour around an image is a scene's sky rather than a key colour ("" if it is a key).
    ``blend`` is :func:`edge_blend` of the figure's edge towards that colour."""
    if blend >= config.scene_blend_share:
        return (f"{blend:.0%} of the art next to it lies within {config.key_contrast} levels of it "
                "(shaded towards it: a sky or ground of the picture's palette, not a key colour)")
    fig = ~mask
    sides = (("top", fig[0]), ("bottom", fig[-1]), ("left", fig[:, 0]), ("right", fig[:, -1]))
    # a sprite cropped tight touches all four sides; with no edge shaded towards the flat colour, a
    # side covered by art is its base (a platform, a hat brim), not a scene's ground
    tight = all(side.any() for _, side in sides) and blend < TIGHT_CROP_BLEND
    for name, side in sides:
        if side.mean() >= config.scene_side_share and not tight:
            return f"art covers {side.mean():.0%} of the {name} side (full-bleed)"
    labels, n = ndimage.label(fig, structure=np.ones((3, 3), bool))
    if n > 1:
        sizes = np.sort(np.bincount(labels.ravel())[1:])[::-1] / max(int(fig.sum()), 1)
        if n > SCATTER_PARTS and sizes[0] < SCATTER_SHARE:
            return f"{n} separate parts, the largest {sizes[0]:.0%} of the art (scattered over a sky)"
        big = int((sizes * fig.sum() >= OBJECT_AREA * fig.size).sum())
        if big >= 3 and sizes[0] < MAIN_SHARE:
            return f"{big} large separate parts, none holding {MAIN_SHARE:.0%} of the art (objects in a scene)"
    return ""


def fill_border(img: Image.Image, config: BackgroundConfig) -> BackgroundResult | None:
    """Flood-fill a flat key colour with white; a scene when the colour is a sky; None when no colour
    dominates the border."""
    arr = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    picked = key_color(arr, config)
    if picked is None:
        return None
    color, share = picked
    distance = _distance(arr, color)
    near = distance <= config.tolerance
    mask = _flood(near)
    filled = int(mask.sum())
    # a key colour is flat: noise or a gradient around it (pixels next to the fill, nearly its colour
    # but outside the tolerance) means a complex background that a fill would only half clear
    outline = _outline(mask)
    halo = outline & (distance <= 2 * config.tolerance)
    if halo.sum() > NOISY_HALO * max(filled, 1):
        return None
    blend = edge_blend(distance, outline, config.key_contrast)
    why_scene = scene_reason(mask, config, blend)
    if why_scene:
        return BackgroundResult(Image.fromarray(arr, "RGB") if img.mode != "RGB" else img, "scene", color, share, 0,
                                reason=f"flat {color} on {share:.0%} of the border, but {why_scene}")
    holes = near & ~mask if config.fill_holes and color != WHITE else None
    out = arr.copy()
    out[mask] = WHITE
    how = "flood-filled from the border"
    if holes is not None and holes.any():
        out[holes] = WHITE
        filled += int(holes.sum())
        how += f", and {int(holes.sum())} px of it enclosed by the figure (fill_holes)"
    kind = "white" if color == WHITE else "border"
    return BackgroundResult(Image.fromarray(out, "RGB"), kind, color, share, filled,
                            visible_edge=_visible_edge(out, ~mask, outline),
                            reason=f"key colour {color} on {share:.0%} of the border, {how}; "
                                   f"{blend:.0%} of the art next to it within {config.key_contrast} levels")


def _session_class(name: str) -> Any:
    from rembg.sessions import sessions_class

    for cls in sessions_class:
        if cls.name() == name:
            return cls
    known = ", ".join(sorted(c.name() for c in sessions_class))
    raise ValueError(f"unknown rembg model {name!r} (known: {known})")


def _import_rembg() -> Any:
    """``rembg.new_session``, imported without compiling pymatting.

    Importing rembg imports pymatting, whose numba kernels compile eagerly: about 90 s of CPU on
    the first import in a fresh environment. Curation never calls them (no alpha matting, only
    ``session.predict``), so when numba is not loaded yet its JIT is switched off for this process.
    """
    if "numba" not in sys.modules and "NUMBA_DISABLE_JIT" not in os.environ:
        os.environ["NUMBA_DISABLE_JIT"] = "1"
        try:
            import numba  # noqa: F401  (reads NUMBA_DISABLE_JIT once, at import)
        except ImportError:
            pass
        finally:
            del os.environ["NUMBA_DISABLE_JIT"]
    try:
        from rembg import new_session
    except ImportError as exc:
        raise RembgModelMissing("rembg is not installed: pip install 'pixelforge[rembg]'") from exc
    return new_session


def load_rembg_session(config: BackgroundConfig, threads: int | None = None) -> Any:
    """A real rembg session, or :class:`RembgModelMissing` naming the file; never a download.

    ``rembg_model_path`` loads any .onnx file through ``u2net_custom``. rembg only accepts custom
    models under its model home, so the file's folder is made that home while the session loads.
    ``rembg_model`` is a named model that must already be in ``U2NET_HOME``. ``threads`` caps
    onnxruntime's threads (one per worker process when several workers share the cores).
    """
    new_session = _import_rembg()
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if config.rembg_model_path:
        path = Path(config.rembg_model_path).expanduser().resolve()
        if not path.is_file():
            raise RembgModelMissing(
                f"rembg model file not found: {path}. Download an .onnx model (for example "
                f"{U2NET_RELEASES}/u2netp.onnx) and save it at that path."
            )
        saved = os.environ.get("U2NET_HOME")
        os.environ["U2NET_HOME"] = str(path.parent)
        try:
            return new_session("u2net_custom", model_path=str(path), sess_opts=options, providers=["CPUExecutionProvider"])
        finally:
            if saved is None:
                os.environ.pop("U2NET_HOME", None)
            else:
                os.environ["U2NET_HOME"] = saved
    name = config.rembg_model
    cls = _session_class(name)
    fname = f"{name}.onnx"
    if cls.resolve_existing(fname) is None:
        raise RembgModelMissing(
            f"rembg model {name!r} is not downloaded: expected {fname} in {cls.model_dir()} "
            f"(or {cls.legacy_home()}). Download {U2NET_RELEASES}/{fname} there, or set U2NET_HOME."
        )
    return new_session(name, sess_opts=options, providers=["CPUExecutionProvider"])


def rembg_to_white(img: Image.Image, session: Any, threshold: int = 128) -> BackgroundResult:
    """Cut the foreground with a rembg session: the mask is thresholded, so no soft halo appears."""
    rgb = img.convert("RGB")
    mask = session.predict(rgb)[0]
    keep = np.asarray(mask.convert("L")) >= threshold
    out = np.asarray(rgb).copy()
    out[~keep] = WHITE
    return BackgroundResult(Image.fromarray(out, "RGB"), "rembg", None, 0.0, int((~keep).sum()))


def to_white(img: Image.Image, config: BackgroundConfig | None = None, session: Any = None) -> BackgroundResult:
    """Make the background white; ``session`` is a rembg session (needed for mode rembg)."""
    config = config or BackgroundConfig()
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        white = composite_on_white(img)
        alpha = img.getchannel("A") if img.mode == "RGBA" else img.convert("RGBA").getchannel("A")
        clear = np.asarray(alpha) < 128  # soft (anti-aliased) edges belong to the outside
        return BackgroundResult(white, "alpha", visible_edge=visible_edge(np.asarray(white), clear),
                                reason="transparency composited on white")
    if config.mode == "none":
        return BackgroundResult(img.convert("RGB"), "none")
    if config.mode in ("auto", "border"):
        filled = fill_border(img, config)
        if filled is not None:
            return filled
        rgb = img.convert("RGB")
        flat = ring_flatness(np.asarray(rgb))
        if flat >= config.scene_flat_ring:
            return BackgroundResult(rgb, "scene", reason=f"no flat border colour; {flat:.0%} of the border in flat runs"
                                    " (full-bleed pixel art)")
        if config.mode == "border" or session is None:
            return BackgroundResult(rgb, "complex", reason=f"no flat border colour and only {flat:.0%} of the border"
                                    " in flat runs (noise, gradient or photo); no rembg model")
    if session is None:
        raise ValueError("background mode 'rembg' needs a rembg session (see load_rembg_session)")
    return rembg_to_white(img, session, config.rembg_threshold)

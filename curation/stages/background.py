"""Stage 3: every background becomes white.

* Transparency is composited onto white, never dropped (the RGB under alpha=0 is arbitrary).
* An opaque image whose border is one colour (within a tolerance) is flood-filled from the
  border: only regions of that colour *connected to the border* turn white, so a sprite's own
  pixels of the same colour stay.
* Anything else is a complex background: rembg cuts it out when a model is configured,
  otherwise the image is kept as it is and the kind says so.
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
from pixelforge.imaging import WHITE, composite_on_white

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


def flood_from_border(arr: np.ndarray, color: tuple[int, int, int], tolerance: int) -> np.ndarray:
    """Mask of pixels within ``tolerance`` of ``color`` that are 4-connected to the image border."""
    near = np.abs(arr.astype(np.int16) - np.array(color, np.int16)).max(axis=2) <= tolerance
    labels, n = ndimage.label(near)
    touches = np.zeros(n + 1, bool)  # per label: does it reach the border?
    for line in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touches[line] = True
    touches[0] = False  # label 0 is "not near the colour"
    return touches[labels]


def fill_border(img: Image.Image, config: BackgroundConfig) -> BackgroundResult | None:
    """Flood-fill a uniform border colour with white; None when the border is not uniform."""
    arr = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    color, share = dominant_border_color(arr, config.tolerance)
    if share < config.min_border_share:
        return None
    mask = flood_from_border(arr, color, config.tolerance)
    out = arr.copy()
    out[mask] = WHITE
    kind = "white" if color == WHITE else "border"
    return BackgroundResult(Image.fromarray(out, "RGB"), kind, color, share, int(mask.sum()))


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
        return BackgroundResult(composite_on_white(img), "alpha")
    if config.mode == "none":
        return BackgroundResult(img.convert("RGB"), "none")
    if config.mode in ("auto", "border"):
        filled = fill_border(img, config)
        if filled is not None:
            return filled
        if config.mode == "border" or session is None:
            return BackgroundResult(img.convert("RGB"), "complex")
    if session is None:
        raise ValueError("background mode 'rembg' needs a rembg session (see load_rembg_session)")
    return rembg_to_white(img, session, config.rembg_threshold)

"""One raw file through the per-image stages: expand, decode, native, sheets, background, filters, canvas.

Pure with respect to its inputs (bytes + config + an optional rembg session): the pipeline runs
it in worker processes and caches its :class:`FileResult` by the raw file's sha256, and
``curate inspect`` runs it with ``trace=True`` to show every decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from PIL import Image

from curation.config import CurateConfig
from curation.dedup import hashes_and_art
from curation.stages.background import to_white
from curation.stages.canvas import to_canvas
from curation.stages.decode import decode
from curation.stages.expand import expand
from curation.stages.filters import first_failure, run_filters
from curation.stages.native import LOSSLESS_FORMATS, NativeResult, recover_native
from curation.stages.pixelart import PixelArtScore, pixel_art_score
from curation.stages.sheets import SpriteBox, frame_grid, slice_sheet
from pixelforge.decoding import ImageDecodeError
from pixelforge.imaging import count_colors, pixel_sha256, png_bytes

#: zlib level for the PNGs in the dataset: 3 encodes ~40% faster than 6 for ~1.5x the bytes on
#: canvases (mostly flat white); PNG stays lossless either way.
PNG_LEVEL = 3

#: Per-image stages in pipeline order (dedup and split run over the whole set afterwards).
IMAGE_STAGES = ("expand", "decode", "native", "sheets", "background", "filters", "canvas")


@dataclass(frozen=True)
class ItemInfo:
    """What is known of a kept image besides its pixels: what the cache stores as JSON and dedup,
    split and the report read."""

    member: str  # zip member / frame / sprite box, "" for a whole file
    pixel_sha256: str
    phash: str
    dhash: str
    native_width: int
    native_height: int
    pixel_scale: float
    grid_confidence: float
    scale: int  # canvas scale
    n_colors: int
    background: str
    pixel_art: float | None
    frame_width: int  # native size of the whole image this item was cut from (= native size when not cut)
    frame_height: int
    lossy: bool  # decoded from a lossy format (JPEG, WebP): its lossless twin is the better row
    # dedup searches these: the hashes and size of the art without its white margin (0/"" in caches
    # written before they existed: then the whole image's)
    art_phash: str = field(default="", kw_only=True)
    art_dhash: str = field(default="", kw_only=True)
    art_width: int = field(default=0, kw_only=True)
    art_height: int = field(default=0, kw_only=True)

    def art(self) -> tuple[str, str, int, int]:
        """(phash, dhash, width, height) of the art without its white margin, for dedup."""
        if not self.art_phash:
            return self.phash, self.dhash, self.native_width, self.native_height
        return self.art_phash, self.art_dhash, self.art_width, self.art_height


@dataclass(frozen=True)
class Item(ItemInfo):
    """An image that passed every per-image stage; dedup and split decide the rest."""

    native_png: bytes = field(repr=False)
    canvas_png: bytes = field(repr=False)

    def info(self) -> ItemInfo:
        return ItemInfo(**{f.name: getattr(self, f.name) for f in fields(ItemInfo)})


@dataclass(frozen=True)
class Rejection:
    member: str
    stage: str
    reason: str
    detail: str


@dataclass
class FileResult:
    items: list[Item] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    stages: dict[str, dict[str, int]] = field(default_factory=lambda: {s: {"in": 0, "out": 0, "rejected": 0} for s in IMAGE_STAGES})
    trace: list[dict[str, Any]] = field(default_factory=list)  # filled only with trace=True

    def reject(self, member: str, stage: str, reason: str, detail: str) -> None:
        self.rejected.append(Rejection(member, stage, reason, detail))
        self.stages.setdefault(stage, {"in": 0, "out": 0, "rejected": 0})["rejected"] += 1

    def count(self, stage: str, n_in: int, n_out: int) -> None:
        self.stages[stage]["in"] += n_in
        self.stages[stage]["out"] += n_out


def join_member(*parts: str) -> str:
    return "#".join(p for p in parts if p)


def _native(frame: Image.Image, config: CurateConfig, fmt: str | None = None) -> NativeResult:
    if not config.native.enabled:
        return NativeResult(image=frame, scale=(1.0, 1.0), phase=(0, 0), confidence=0.0, upscaled=False)
    return recover_native(frame, config.native, lossless=None if fmt is None else fmt.upper() in LOSSLESS_FORMATS)


def _native_trace(native: NativeResult) -> dict[str, Any]:
    return {
        "scale": list(native.scale),
        "phase": list(native.phase),
        "native_size": list(native.image.size),
        "confidence": round(float(native.confidence), 4),
        "upscaled": bool(native.upscaled),
        "flagged": bool(native.flagged),
        "n_colors_before": native.n_colors_before,
        "n_colors_after": native.n_colors_after,
        "rejected_grid": native.rejected_grid,
    }


def _key_cleared(white: Image.Image, key: tuple[int, int, int], tolerance: int) -> Image.Image | None:
    """The image with every pixel of its key colour white, enclosed ones too (None when there are none):
    what dedup searches by, so a key-colour copy whose holes kept the key finds its transparent twin
    (the row keeps them: they may be the art's own; the confirmation has the last word)."""
    arr = np.asarray(white)
    c = np.array(key, np.uint8)
    d = np.maximum(arr, c)
    d -= np.minimum(arr, c)
    left = d.max(axis=2) <= tolerance
    if not left.any():
        return None
    out = arr.copy()
    out[left] = 255
    return Image.fromarray(out, "RGB")


def process_bytes(data: bytes, config: CurateConfig, session: Any = None, *, trace: bool = False) -> FileResult:
    """Run every per-image stage on one raw file; one bad member never stops the others."""
    result = FileResult()
    members, member_rejections = expand(data, config.expand)
    result.count("expand", 1, len(members))
    for rej in member_rejections:
        result.reject(rej.member, "expand", rej.reason, rej.detail)
    for member in members:
        result.stages["decode"]["in"] += 1
        try:
            frames = decode(member.data, config.decode)
        except ImageDecodeError as exc:
            result.reject(member.name, "decode", exc.reason, exc.detail)
            if trace:
                result.trace.append({"member": member.name, "decode": {"ok": False, "reason": exc.reason, "detail": exc.detail}})
            continue
        result.stages["decode"]["out"] += len(frames)
        for frame in frames:
            name = join_member(member.name, frame.member_suffix)
            info: dict[str, Any] = {
                "member": name,
                "decode": {"ok": True, "format": frame.format, "mode": frame.source_mode, "size": list(frame.image.size),
                           "n_frames": frame.n_frames, "frame": frame.frame},
            }
            try:
                _process_frame(frame.image, name, config, session, result, info, trace)
            except Exception as exc:  # a bug or an odd image must not abort the batch
                result.reject(name, "internal", "error", f"{type(exc).__name__}: {exc}")
                info["error"] = f"{type(exc).__name__}: {exc}"
            if trace:
                result.trace.append(info)
    return result


def _process_frame(
    frame: Image.Image, name: str, config: CurateConfig, session: Any, result: FileResult, info: dict[str, Any],
    trace: bool = False,
) -> None:
    result.count("native", 1, 1)
    native = _native(frame, config, info.get("decode", {}).get("format"))
    info["native"] = _native_trace(native)
    score: PixelArtScore | None = None
    if config.domain in config.filters.pixel_art_domains:
        score = pixel_art_score(frame, native)
        info["pixel_art"] = {"score": round(float(score.score), 4), "components": score.components,
                             "explanation": score.explanation, "threshold": config.filters.pixel_art_threshold}
    crops: list[tuple[str, Image.Image]] = [(name, native.image)]
    boxes: list[SpriteBox] = []
    if config.sheets.enabled:
        boxes = slice_sheet(native.image, config.sheets)
        info["sheets"] = {"boxes": [b.as_member() for b in boxes], "how": "slice_sheet"}
    elif config.sheets.auto_cut_above and max(native.image.size) > config.sheets.auto_cut_above:
        # too large for the canvas: cut on its frame grid when it has one, else kept whole at scale 1
        boxes = frame_grid(native.image, max(16, config.sheets.min_sprite_size), config.canvas.size, config.sheets.min_sprites)
        info["sheets"] = {"boxes": [b.as_member() for b in boxes], "how": "frame grid (larger than the canvas)"}
    if boxes:
        crops = [(join_member(name, b.as_member()), native.image.crop((b.x, b.y, b.x + b.width, b.y + b.height)))
                 for b in boxes]
    result.count("sheets", 1, len(crops))
    info["items"] = []
    seen: dict[tuple[Any, ...], tuple[dict[str, Any], Item | Rejection | None]] = {}
    for crop_name, crop in crops:
        # A sheet repeats frames (an LPC sheet ~40% of them): the same pixels give the same
        # verdict, so the outcome is copied under the new name instead of computed again.
        key = (crop.mode, crop.size, hashlib.blake2b(crop.tobytes(), digest_size=16).digest()) if len(crops) > 1 else None
        if key is not None and key in seen:
            step, outcome = _repeat(crop_name, *seen[key], result)
            info["items"].append(step)
            continue
        step = _process_crop(crop_name, crop, native, score, config, session, result, info, trace)
        info["items"].append(step)
        if key is not None:
            seen[key] = (step, result.items[-1] if step["verdict"]["kept"] else result.rejected[-1])


def _repeat(name: str, step: dict[str, Any], outcome: Item | Rejection, result: FileResult) -> tuple[dict[str, Any], Item | Rejection]:
    """Record a crop whose pixels equal an earlier crop's: the same stage counts and outcome, its own name."""
    step = {**step, "member": name, "repeat_of": step["member"]}
    kept = int(step["verdict"]["kept"])
    result.count("background", 1, 1)
    result.count("filters", 1, kept)
    result.count("canvas", kept, kept)
    if isinstance(outcome, Item):
        outcome = replace(outcome, member=name)
        result.items.append(outcome)
    else:
        result.reject(name, outcome.stage, outcome.reason, outcome.detail)
    return step, outcome


def _process_crop(
    crop_name: str, crop: Image.Image, native: NativeResult, score: PixelArtScore | None, config: CurateConfig,
    session: Any, result: FileResult, info: dict[str, Any], trace: bool,
) -> dict[str, Any]:
    """Background, filters, hashes and canvas for one crop; appends its Item or Rejection to ``result``."""
    step: dict[str, Any] = {"member": crop_name}
    result.stages["background"]["in"] += 1
    bg = to_white(crop, config.background, session)
    result.stages["background"]["out"] += 1
    white = bg.image
    step["background"] = {"kind": bg.kind, "border_color": list(bg.border_color) if bg.border_color else None,
                          "border_share": round(bg.border_share, 4), "filled_pixels": bg.filled,
                          "visible_edge": round(bg.visible_edge, 4), "reason": bg.reason}
    reject_complex = bg.kind == "complex" and config.domain not in config.background.keep_complex_domains
    pixels = np.asarray(white)  # converted once for the measures below
    n_colors = count_colors(pixels)
    result.stages["filters"]["in"] += 1
    max_side = config.canvas.size if config.canvas.too_large == "reject" else None
    verdicts = run_filters(pixels, n_colors, score, config.domain, config.filters, max_side=max_side,
                           visible_edge=bg.visible_edge, min_visible_edge=config.background.min_visible_edge,
                           complex_background=f"{bg.reason} (set background.keep_complex_domains to keep it)"
                           if reject_complex else "")
    step["filters"] = [dict(vars(v)) for v in verdicts]
    failed = first_failure(verdicts)
    if failed is None or trace:  # a rejected crop's hashes only serve `curate inspect`
        (phash, dhash), art = hashes_and_art(white, _key_cleared(white, bg.border_color, config.background.tolerance)
                                             if bg.kind == "border" and bg.border_color else None)
        step["hashes"] = {"pixel_sha256": pixel_sha256(pixels), "phash": phash, "dhash": dhash}
    if failed is not None:
        result.reject(crop_name, "filters", failed.name, failed.detail)
        step["verdict"] = {"kept": False, "stage": "filters", "reason": failed.name}
        return step
    result.stages["filters"]["out"] += 1
    result.stages["canvas"]["in"] += 1
    canvas = to_canvas(white, config.canvas)
    result.stages["canvas"]["out"] += 1
    step["canvas"] = {"size": list(canvas.image.size), "scale": canvas.scale}
    step["verdict"] = {"kept": True}
    sx, sy = native.scale
    result.items.append(
        Item(
            member=crop_name,
            pixel_sha256=step["hashes"]["pixel_sha256"],
            phash=phash,
            dhash=dhash,
            native_width=white.width,
            native_height=white.height,
            pixel_scale=float(max(sx, sy)),
            grid_confidence=float(native.confidence),
            scale=int(canvas.scale),
            n_colors=int(n_colors),
            background=bg.kind,
            pixel_art=None if score is None else float(score.score),
            frame_width=native.image.width,
            frame_height=native.image.height,
            lossy=str(info.get("decode", {}).get("format") or "").upper() not in LOSSLESS_FORMATS,
            art_phash=art[0],
            art_dhash=art[1],
            art_width=art[2],
            art_height=art[3],
            native_png=png_bytes(pixels, PNG_LEVEL),
            canvas_png=png_bytes(canvas.image, PNG_LEVEL),
        )
    )
    return step

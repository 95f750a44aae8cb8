"""Typed curation config: dataclass defaults, a TOML file on top, ``--set key=value`` on top of that.

Every key of every section can be set in TOML (``[filters] min_size = 8``) and overridden on the
command line (``--set filters.min_size=8``). Values on the command line are parsed as TOML values,
so ``--set decode.frames='"all"'`` and ``--set decode.frames=all`` both work (a bare word is a string).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixelforge.config import ConfigError, apply, parse_override, read_toml
from pixelforge.decoding import DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class NativeConfig:
    enabled: bool = True
    min_confidence: float = 0.5  # below this the image is treated as not upscaled, and flagged
    max_scale: int = 16
    snap_colors: bool = False  # JPEG colour cleanup
    snap_max_colors: int = 64
    suspect_confidence: float = 0.25  # a grid this good (but below min_confidence) flags the image
    snap_distance: float = 0.05  # OKLab distance under which two colours count as one (JND ~0.02)
    snap_min_share: float = 0.01  # rarer clusters join a near common colour (JPEG bleed)
    fractional: bool = True  # also look for non-integer scale factors (cells of uneven width)
    snap_lossy: bool = True  # snap colours of lossy input (JPEG) whose grid was found, whatever snap_colors says
    lossless_max_residual: float = 0.1  # a PNG/GIF grid whose cells differ more from the image is smooth resampling
    min_cells: int = 8  # a grid that is not exact needs this many cells along the longer side to count


@dataclass(frozen=True)
class SheetConfig:
    enabled: bool = False
    min_sprites: int = 2
    merge_gap: int = 1  # components closer than this many pixels belong to one sprite
    min_sprite_size: int = 8
    detect_grid: bool = True  # cut frame/tile grids on the grid
    auto_cut_above: int = 256  # even when disabled, cut images larger than this on a frame grid (0 = never)


@dataclass(frozen=True)
class ExpandConfig:
    """Raw files and zip packs are read in memory under these limits; nothing is extracted to disk.

    With the decode limit (64 Mpx per frame), the defaults keep one job (one raw file in one
    worker) under about 2 GB: a raw file of at most 256 MB, at most 512 MB decompressed from it.
    """

    max_file_bytes: int = 256_000_000  # raw file size, checked before it is read (stat)
    max_members: int = 10_000  # members per archive
    max_total_bytes: int = 512_000_000  # bytes decompressed from one raw file, nested archives included
    max_member_bytes: int = 200_000_000  # uncompressed bytes per member
    max_ratio: float = 200.0  # uncompressed / compressed per member (zip bombs compress ~1000x)
    max_depth: int = 1  # nested zips: a zip inside a zip is opened, one inside that is rejected


@dataclass(frozen=True)
class DecodeConfig:
    max_pixels: int = DEFAULT_MAX_PIXELS  # decode limit per frame: a bomb is a rejection
    frames: str = "first"  # animated GIF/APNG/WebP: "first" frame or "all" frames
    max_frames: int = 64  # with frames = "all", at most this many frames per file


@dataclass(frozen=True)
class BackgroundConfig:
    """How the background becomes white (alpha is always composited, never dropped)."""

    mode: str = "auto"  # "auto" (alpha, then border fill, then rembg if a model is set), "border", "rembg", "none"
    tolerance: int = 24  # max per-channel difference from the border colour that still counts as background
    min_border_share: float = 0.9  # share of border pixels that must match for a "uniform border"
    rembg_model: str = ""  # a named rembg model already in U2NET_HOME (e.g. "u2netp"); "" = off
    rembg_model_path: str = ""  # an .onnx file for new_session("u2net_custom", model_path=...)
    rembg_threshold: int = 128  # mask value (0..255) above which a pixel is foreground
    key_min_border_share: float = 0.2  # a flat colour on this share of the border ring can be a key colour
    scene_side_share: float = 0.9  # art covering this share of one side: a full-bleed scene, never filled
    scene_flat_ring: float = 0.5  # ring pixels equal to their neighbour on the ring: flat pixel art, not noise
    # a key colour contrasts with the art it touches; a sky or ground is shaded into its neighbours:
    # art next to the flat colour within key_contrast levels on scene_blend_share of that edge is a scene
    key_contrast: int = 64
    scene_blend_share: float = 0.25
    fill_holes: bool = False  # key-colour pixels enclosed by the figure turn white too (sprite rips)
    keep_complex_domains: tuple[str, ...] = ("A",)  # where a complex background is kept (else rejected)
    min_visible_edge: float = 0.3  # share of a figure's outline that must show on white

    def uses_rembg(self) -> bool:
        """True when a rembg session must be loaded (mode rembg, or auto with a model configured)."""
        return self.mode == "rembg" or (self.mode == "auto" and bool(self.rembg_model or self.rembg_model_path))


@dataclass(frozen=True)
class FilterConfig:
    min_size: int = 8  # smallest side at native resolution (16x16 sprites are normal pixel art)
    max_aspect: float = 8.0  # longest side / shortest side
    min_ink: float = 0.01  # share of non-white pixels below which an image is near-blank
    max_colors: int = 256  # distinct colours at native resolution for pixel art (domain B only)
    pixel_art_threshold: float = 0.5  # reject domain-B images whose pixel-art score is below this
    pixel_art_domains: tuple[str, ...] = ("B",)  # domains the colour and pixel-art tests apply to


@dataclass(frozen=True)
class DedupConfig:
    enabled: bool = True
    # Near duplicate: dhash within dhash_distance AND phash within phash_distance AND aspect ratios
    # within max_aspect_change. dhash leads: mirror-symmetric sprites (common in pixel art) zero half
    # of phash's DCT coefficients, so noise decides those bits (a +-4 colour jitter moved phash by 16
    # bits, dhash by 0-2 on 100 procedural sprites); phash is a loose second opinion.
    dhash_distance: int = 6
    phash_distance: int = 16
    max_aspect_change: float = 1.1
    # Hash neighbours are only candidates: a pair merges when its native images are the same artwork
    # (same size, or an exact integer rescale or crop, and pixels equal up to lossy noise)
    confirm: bool = True
    pixel_tolerance: int = 40  # per-channel difference still counted as lossy noise
    max_diff_share: float = 0.03  # share of pixels allowed beyond the tolerance (JPEG at cell edges)
    merge_recolors: bool = False  # also merge the same silhouette in another palette (LPC skin colours)


@dataclass(frozen=True)
class CanvasConfig:
    size: int = 256  # white square canvas, integer nearest-neighbour scale only
    too_large: str = "keep"  # native larger than the canvas: "keep" (at scale 1 on a larger canvas) or "reject"


@dataclass(frozen=True)
class SplitConfig:
    test_fraction: float = 0.1
    salt: str = ""  # change it to draw a different (still deterministic) split
    # Raw files whose sha256 starts with one of these always go to test, with every duplicate of them:
    # a held-out set (e.g. a benchmark's) that training never sees. ["0"] holds out 1/16 of the files.
    holdout_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputConfig:
    shard_rows: int = 2000  # rows per Parquet shard
    html_report: bool = True  # curation_report.html with rejected images and duplicate clusters


@dataclass(frozen=True)
class CurateConfig:
    domain: str = "B"  # "A" = pictures (cartoons, photos), "B" = pixel art
    workers: int = 0  # 0 = all cores
    expand: ExpandConfig = field(default_factory=ExpandConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    native: NativeConfig = field(default_factory=NativeConfig)
    sheets: SheetConfig = field(default_factory=SheetConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    canvas: CanvasConfig = field(default_factory=CanvasConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists), as written into curation_report.json."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def image_key(self) -> str:
        """Hash of everything that changes a per-image result: the cache key next to the raw sha256."""
        parts = {k: v for k, v in self.to_dict().items() if k not in ("workers", "dedup", "split", "output")}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def validate(self) -> CurateConfig:
        if self.domain not in ("A", "B"):
            raise ConfigError(f"domain must be 'A' or 'B', got {self.domain!r}")
        if self.decode.frames not in ("first", "all"):
            raise ConfigError(f"decode.frames must be 'first' or 'all', got {self.decode.frames!r}")
        if self.background.mode not in ("auto", "border", "rembg", "none"):
            raise ConfigError(f"background.mode must be auto, border, rembg or none, got {self.background.mode!r}")
        if self.background.mode == "rembg" and not (self.background.rembg_model or self.background.rembg_model_path):
            raise ConfigError("background.mode = 'rembg' needs background.rembg_model or background.rembg_model_path")
        if self.canvas.too_large not in ("keep", "reject"):
            raise ConfigError(f"canvas.too_large must be 'keep' or 'reject', got {self.canvas.too_large!r}")
        if not 0.0 <= self.split.test_fraction <= 1.0:
            raise ConfigError("split.test_fraction must be within [0, 1]")
        if any(not p or any(c not in "0123456789abcdef" for c in p) for p in self.split.holdout_prefixes):
            raise ConfigError("split.holdout_prefixes must be lowercase hex prefixes of a sha256, e.g. [\"0\"]")
        if self.canvas.size < 1 or self.output.shard_rows < 1 or self.workers < 0:
            raise ConfigError("canvas.size and output.shard_rows must be positive, workers >= 0")
        for key in ("max_file_bytes", "max_members", "max_total_bytes", "max_member_bytes", "max_depth"):
            if getattr(self.expand, key) < (0 if key == "max_depth" else 1):
                raise ConfigError(f"expand.{key} must be {'>= 0' if key == 'max_depth' else 'positive'}")
        if not self.expand.max_ratio > 0:  # also refuses nan
            raise ConfigError("expand.max_ratio must be positive")
        if self.decode.max_pixels < 1 or self.decode.max_frames < 1:
            raise ConfigError("decode.max_pixels and decode.max_frames must be positive")
        return self


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> CurateConfig:
    """Defaults, then the TOML file (if any), then each ``section.key=value`` override in order."""
    config = CurateConfig()
    if path is not None:
        config = apply(config, read_toml(path))
    for text in overrides:
        config = apply(config, parse_override(text))
    return config.validate()


def config_from_dict(data: dict[str, Any]) -> CurateConfig:
    """Rebuild a config from :meth:`CurateConfig.to_dict` output (worker processes, reports)."""
    return apply(CurateConfig(), data).validate()

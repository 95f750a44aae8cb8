"""What the page's controls mean: one :class:`Settings` per job, and the :class:`Limits` on what a job may cost.

Settings are the ``pixelate`` flags of the same names, so a result tried in the page can be run from a shell
(:meth:`Settings.command`); the classical method ignores the model's.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from inference.model_options import MARGIN
from inference.postprocess import ANCHOR_SIGMA, PALETTE_SOURCES, SETTLE_DE
from inference.views import AUTO
from webapp.models import CLASSICAL, SHIPPED_G_A

FITTED = "fitted"  # the palette choice "k colours fitted to the picture"
PALETTE_FILE = "file"
#: the "Keep shown features" choices: what the model records (pixelate with neither flag), or --keep-features /
#: --no-keep-features
KEEP_FEATURES = ("recorded", "on", "off")
#: the largest white margin the page shows a model (generator pixels): each one adds a ring of work round the picture
WEB_MAX_MARGIN = 32


class JobError(Exception):
    """A request the app refuses or cannot finish; the message is shown in the page as it is."""


@dataclass(frozen=True)
class Limits:
    """What one request may cost. The page shows these numbers next to the upload."""

    upload_mb: int = 25
    max_pixels: int = 16_000_000  # one picture, or one frame of a GIF or video
    max_frames: int = 300
    time_s: float = 120.0
    preview_pixels: int = 160_000  # the reduced copy behind the live preview (about 400x400)
    display_pixels: int = 16_000_000  # the display-scale PNG is scaled down to fit this
    view_pixels: int = 16_000_000  # picture pixels x views: a model drawing 8 views of a picture does 8 passes
    concurrency: int = 1  # jobs that run at once; the rest wait in the queue
    queue_size: int = 16

    def describe(self) -> str:
        return (
            f"Uploads up to {self.upload_mb} MB; pictures and frames up to {self.max_pixels / 1e6:g} megapixels; "
            f"GIFs and videos up to {self.max_frames} frames (about {round(self.max_frames / 30, 1):g} s at 30 fps); "
            f"animations stop after {self.time_s:g} s; a model's views times the picture's (or frame's) megapixels up to "
            f"{self.view_pixels / 1e6:g}. The `pixelate` command line has none of these limits."
        )


@dataclass(frozen=True)
class Settings:
    """The page's settings, one field per control; :meth:`options` is what ``Pixelator`` takes."""

    model: str = CLASSICAL
    cell_size: int = 4
    palette: str = FITTED  # FITTED, a named palette, or PALETTE_FILE
    colors: int = 16
    palette_file: str | None = None
    dither: str = "none"
    native: bool = False
    scale: int = 8  # screen pixels per cell in the page and the display-scale download
    hold_lines: bool = False  # a model's drawing with the classical method's outline cells on top (pixelate --hold-lines)
    views: int = AUTO  # a model draws the picture this many ways and the drawings are averaged (pixelate --views; 0 = auto)
    keep_features: str = "recorded"  # KEEP_FEATURES: the feature cells a model was shown kept as dark (pixelate --keep-features)
    # the rest of the model options, as pixelate's flags of the same names (the classical method ignores them)
    keep_highlights: bool = False  # --keep-highlights
    palette_from: str = "output"  # --palette-from: fit the palette on the model's drawing or on the picture
    anchor_colors: float = ANCHOR_SIGMA  # --anchor-colors: the picture's colours above this many cells
    settle_flats: float = SETTLE_DE  # --settle-flats: the drawing's mottle averaged out where the picture is flat
    margin: int = MARGIN  # --margin: white generator pixels shown round the picture

    def palette_arg(self) -> str:
        """The CLI's ``--palette`` value for these settings."""
        if self.palette == FITTED:
            return str(int(self.colors))
        if self.palette == PALETTE_FILE:
            if not self.palette_file:
                raise JobError("Palette 'from a file' needs a .gpl or .hex file: upload one, or pick another palette.")
            return self.palette_file
        return self.palette

    def options(self) -> dict[str, object]:
        options = dict(cell_size=int(self.cell_size), palette=self.palette_arg(), dither=self.dither, native=bool(self.native),
                       hold_lines=bool(self.hold_lines), views=int(self.views), keep_highlights=bool(self.keep_highlights),
                       palette_from=self.palette_from, anchor_colors=float(self.anchor_colors),
                       settle_flats=float(self.settle_flats), margin=int(self.margin))
        if self.keep_features not in KEEP_FEATURES:
            raise JobError(f"Keep shown features {self.keep_features!r}: choose one of {', '.join(KEEP_FEATURES)}.")
        if self.palette_from not in PALETTE_SOURCES:
            raise JobError(f"Palette from {self.palette_from!r}: choose one of {', '.join(PALETTE_SOURCES)}.")
        if not 0 <= int(self.margin) <= WEB_MAX_MARGIN:
            raise JobError(f"Margin {self.margin}: this page shows a model 0 to {WEB_MAX_MARGIN} white pixels round a picture "
                           "(pixelate --margin takes more).")
        if self.keep_features != "recorded":  # recorded: the model's own setting, as Pixelator.from_checkpoint loaded it
            options["keep_features"] = self.keep_features == "on"
        return options

    def command(self) -> str:
        """The equivalent ``pixelate`` command, so a result tried here can be batched from a shell."""
        parts = ["pixelate", "INPUT", "-o", "OUT.png", "--cell-size", str(int(self.cell_size))]
        palette = Path(self.palette_arg()).name if self.palette == PALETTE_FILE else self.palette_arg()
        parts += ["--palette", palette, "--dither", self.dither] + (["--native"] if self.native else [])
        if self.model == SHIPPED_G_A:
            parts += ["--shipped"]
        elif self.model != CLASSICAL:
            parts += ["--checkpoint", self.model]
        if self.hold_lines and self.model != CLASSICAL:  # the classical method holds its lines anyway
            parts += ["--hold-lines"]
        if int(self.views) != AUTO and self.model != CLASSICAL:  # auto is pixelate's default; the classical method draws once
            parts += ["--views", str(int(self.views))]
        if self.model == CLASSICAL:
            return shlex.join(parts)
        if self.keep_features != "recorded":
            parts += ["--keep-features" if self.keep_features == "on" else "--no-keep-features"]
        defaults = Settings()
        if self.keep_highlights:
            parts += ["--keep-highlights"]
        for flag, value, default in (("--palette-from", self.palette_from, defaults.palette_from),
                                     ("--anchor-colors", float(self.anchor_colors), defaults.anchor_colors),
                                     ("--settle-flats", float(self.settle_flats), defaults.settle_flats),
                                     ("--margin", int(self.margin), defaults.margin)):
            if value != default:
                parts += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return shlex.join(parts)

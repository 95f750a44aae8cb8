"""The model path: a trained CycleGAN generator, run only as finely as the output grid needs.

The output is ``N``x``N`` single-colour cells, so a generator pass at full resolution computes
detail that the cell averaging then throws away. :class:`Pixelator` box-averages the picture
down to ``pixels_per_cell`` generator pixels per cell side (default 1; blocks on thin lines take
the line's colour, as in the classical path, unless ``outlines`` is off), runs the generator
there, and averages its output per cell: at 1024² with cell size 4 that is a 256² pass instead
of 1024², a sixteenth of the work. Before averaging, the output's broad colours (above
``anchor_colors`` cells) are pulled back to the picture's (:func:`inference.model_colors.anchor_colors`):
the generator keeps its outlines and shading, not its whitened backdrops. With ``hold_lines`` the
cells on the picture's thin lines then take the line's colour and the cells beside them the
picture's own, as in the classical path (:func:`inference.classic.hold_lines`).
``pixels_per_cell=2`` is a 512² pass (a quarter), and ``pixels_per_cell=0`` the full-resolution
reference. ``benchmarks/pixelate.py`` measures the time and the difference to full resolution for each.

Large inputs are cut into overlapping tiles that are batched through the generator and
blended with linear ramps. InstanceNorm normalises with statistics of whatever it sees, so
tiles normalised on their own would each get their own tone and show seams; instead a first
pass pools every norm layer's statistics over all tiles and a second pass shares them
(:mod:`inference.tiling`).

On CPU in fp32 the plain (untiled) pass runs through ONNX Runtime by default
(:mod:`inference.onnx_engine`, ``ModelOptions.engine``), faster than torch eager at the same
resolution and weights (``benchmarks/pixelate.py --generator``); the tiled path's shared
statistics stay in torch.

Weights load only through :func:`pixelforge.model.loading.load_generator` (safetensors, or
``torch.load(weights_only=True)`` for reference ``.pth`` files).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from inference.classic import classic_cells, draw_feature_cells, reduce_keeping_lines, shown_feature_cells
from inference.model_colors import drawn_cells
from inference.model_options import ModelOptions
from inference.onnx_engine import ONNX_ENGINES, OnnxGenerator, choose_engine
from inference.postprocess import (
    Cells,
    PixelArtOptions,
    box_average,
    image_cells,
    palette_for,
    render,
)
from inference.tiling import shared_norms, translate_pictures, with_shared_stats_norm
from inference.views import AUTO, VIEW_BUDGET_SIDE, translate_views
from pixelforge.device import resolve_device, resolve_dtype
from pixelforge.imaging import has_alpha, rgb_on_white
from pixelforge.model.hub import resolve_checkpoint
from pixelforge.model.loading import load_generator
from pixelforge.model.networks import GeneratorSpec
from pixelforge.model.recorded import (
    recommended_pixels_per_cell,
    recorded_anchor_within,
    recorded_input,
    recorded_keep_features,
)


class Pixelator:
    """Pictures in, pixel art out: ``Pixelator.from_checkpoint(path).pixelate(image)``.

    Without a generator it runs the classical method. Options are the CLI's defaults; pass
    ``cell_size=``, ``palette=``, ``dither=``, ``native=`` or any :class:`ModelOptions` field
    as keyword arguments to change them.
    """

    def __init__(
        self,
        generator: nn.Module | None = None,
        spec: GeneratorSpec | None = None,
        options: PixelArtOptions | None = None,
        model: ModelOptions | None = None,
        source: str | None = None,
    ) -> None:
        self.options = options or PixelArtOptions()
        self.model = model or ModelOptions()
        self.spec = spec
        self.source = source
        self.device = resolve_device(self.model.device)
        self.dtype = resolve_dtype(self.model.precision, self.device)
        self.generator: nn.Module | None = None
        self.engine, self.engine_reason = "torch", "classical method"
        self._onnx: OnnxGenerator | None = None
        if generator is not None:
            self.engine, self.engine_reason = choose_engine(self.model.engine, self.device, self.dtype)
            if self.device.type == "cpu" and self.model.threads:
                torch.set_num_threads(self.model.threads)
            net = with_shared_stats_norm(generator).eval().to(self.device)
            self.generator = net.to(memory_format=torch.channels_last) if self.device.type != "cpu" else net
            if self.engine in ONNX_ENGINES:
                # exported lazily from this private copy (its norms in live mode = plain InstanceNorm)
                self._onnx = OnnxGenerator(net, self.model.threads, self.model.onnx_cache, int8=self.engine == "int8")

    # -- construction ------------------------------------------------------------------
    @staticmethod
    def _split(kwargs: dict) -> tuple[PixelArtOptions, ModelOptions]:
        art = {f.name for f in fields(PixelArtOptions)}
        mod = {f.name for f in fields(ModelOptions)}
        unknown = set(kwargs) - art - mod
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return (
            PixelArtOptions(**{k: v for k, v in kwargs.items() if k in art}),
            ModelOptions(**{k: v for k, v in kwargs.items() if k in mod}),
        )

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, which: str = "G_A", spec: GeneratorSpec | None = None, **options: object
    ) -> Pixelator:
        """Load a run folder, checkpoint folder, ``G_A.safetensors``, reference ``latest_net_G_A.pth``, or a
        model repo on the Hub written with its scheme, ``hf://OWNER/NAME[@REVISION]`` (safetensors only).

        A ``.pth`` without ``spec`` is read with the reference defaults (ngf 64, 9 blocks).
        Without ``pixels_per_cell`` the model runs at the resolution its publisher recorded, else 1; without
        ``model_input``, with the input it was trained on (its file's ``input`` metadata, else "lines"); without
        ``anchor_within`` or ``keep_features``, with the one its publisher recorded, else 0 and off.
        Raises :class:`pixelforge.model.checkpoint.CheckpointError` with a clear message otherwise.
        """
        local = resolve_checkpoint(path, which=which)  # hf:// -> the downloaded files; a local path stays itself
        options = dict(options)
        if options.get("pixels_per_cell") is None:
            options.pop("pixels_per_cell", None)
            recommended = recommended_pixels_per_cell(local, which)
            if recommended is not None:
                options["pixels_per_cell"] = recommended
        if options.get("model_input") is None:
            options["model_input"] = recorded_input(local, which) or "lines"
        if options.get("anchor_within") is None:
            options.pop("anchor_within", None)
            recorded = recorded_anchor_within(local, which)
            if recorded is not None:
                options["anchor_within"] = recorded
        if options.get("keep_features") is None:
            options["keep_features"] = bool(recorded_keep_features(local, which))
        art, model = cls._split(options)
        with warnings.catch_warnings():
            # torch's safe unpickler warns about pickle protocols even for the plain state dicts it accepts
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            net, spec = load_generator(local, which=which, spec=spec, map_location="cpu")
        return cls(net, spec, art, model, source=str(path))

    @classmethod
    def shipped(cls, **options: object) -> Pixelator:
        """The model shipped with pixelforge (``inference/models/``; its card says what it was trained on)."""
        from inference.shipped import SHIPPED_NAME, shipped_weights

        pix = cls.from_checkpoint(shipped_weights(), **options)
        pix.source = f"the shipped model {SHIPPED_NAME}"
        return pix

    @classmethod
    def default(cls, **options: object) -> Pixelator:
        """What ``pixelate`` runs without a checkpoint: :data:`inference.shipped.DEFAULT_METHOD`."""
        from inference.shipped import DEFAULT_METHOD

        return cls.shipped(**options) if DEFAULT_METHOD == "shipped" else cls.classic(**options)

    @classmethod
    def classic(cls, **options: object) -> Pixelator:
        """The no-ML method with the same options and API."""
        art, model = cls._split(dict(options))
        return cls(None, None, art, model)

    def with_options(self, **changes: object) -> Pixelator:
        """The same loaded model with other output options (cell size, palette, ...), no reload; ``views`` and
        ``margin`` too, since they change how the loaded generator is run, not what is loaded."""
        run = {name: value for name in ("views", "margin") if (value := changes.pop(name, None)) is not None}
        clone = copy.copy(self)
        clone.options = replace(self.options, **changes)
        if run:
            clone.model = replace(self.model, **run)
        return clone

    @property
    def is_classic(self) -> bool:
        return self.generator is None

    def describe(self) -> str:
        if self.generator is None:
            return "classical method (no ML)"
        ppc = self.effective_pixels_per_cell()
        res = "full resolution" if ppc == 0 else f"{ppc}x{ppc} generator pixels per cell"
        engine = {"onnx": "ONNX Runtime (tiled inputs: torch)", "int8": "ONNX Runtime int8 residual blocks (tiled inputs: torch)"
                  }.get(self.engine, "torch eager")
        sigma = self.options.anchor_colors
        anchor = f"the picture's colours above {sigma:g} cells" if sigma else "the generator's own colours"
        if sigma and self.options.anchor_within:
            anchor += f" (within areas it draws alike, {self.options.anchor_within:g} OKLab x100)"
        if self.options.snaps:
            anchor += f", palette colours within {self.options.snap_colors:g} OKLab x100 of the picture's fills snapped to them"
        if self.options.settle_flats:
            anchor += f", its mottle in the picture's flat areas averaged out (within {self.options.settle_flats:g} OKLab x100)"
        if self.options.holds_lines:
            anchor += ", the picture's thin lines held"
        if self.keeps_features:
            anchor += ", the feature cells it was shown kept as dark as shown"
        if self.options.keeps_highlights:
            anchor += ", the picture's highlights it drew over put back"
        if self.model.model_input != "lines":
            kind = {"dark-cells": "dark ", "classic-dark-cells": "dark (where the classical method has a dark line) ",
                    "classic-line-cells": "dark (where the classical method has a line) ",
                    "classic-thin-cells": "dark (where the classical method has a line, none beside a dark one) "}
            res += f", the picture's {kind.get(self.model.model_input, '')}feature cells drawn into its input"
        if self.model.margin:
            res += f", shown with {self.model.margin} white pixels round it (--margin)"
        if self.model.views == AUTO:
            res += f", up to 8 orientations averaged (as many as fit a {VIEW_BUDGET_SIDE}² pass: --views auto)"
        elif self.model.views > 1:
            res += f", {self.model.views} orientations averaged"
        return (
            f"CycleGAN generator {self.spec} from {self.source} on {self.device} ({self.dtype}), {res}, {anchor}; "
            f"engine {engine} [{self.engine_reason}]"
        )

    # -- pipeline ----------------------------------------------------------------------
    def effective_pixels_per_cell(self) -> int:
        """Generator pixels per cell side: the largest divisor of the cell size not above the request (0 = full)."""
        ppc, cell = self.model.pixels_per_cell, self.options.cell_size
        if ppc == 0 or ppc >= cell:
            return 0
        return max(d for d in range(1, ppc + 1) if cell % d == 0)

    def cells(self, img: Image.Image) -> Cells:
        """One colour per cell (before palette and dither), from the model or the classical method."""
        return self.cells_many([img])[0]

    def cells_many(self, images: Sequence[Image.Image]) -> list[Cells]:
        """Cells of several pictures; same-sized ones (video frames, tiles) share batched generator passes."""
        if self.generator is None:
            return [classic_cells(img, self.options) for img in images]
        cell = self.options.cell_size
        ppc = self.effective_pixels_per_cell()
        working, opaque, pictures, shown = [], [], [], []
        for img in images:
            opaque.append(image_cells(img, cell, self.options.alpha_threshold).opaque if has_alpha(img) else None)
            pictures.append(rgb_on_white(img))
            work, cells = self._generator_input(pictures[-1], opaque[-1])
            working.append(work)
            shown.append(cells)
        translated = self.translate_many(working)
        found = []
        for out, work, alpha, rgb, cells in zip(translated, working, opaque, pictures, shown):
            colors, own = drawn_cells(out, work, ppc or cell, self.options, rgb, alpha, cells, self.keeps_features)
            # the picture's own cells only where the palette will be snapped to them
            found.append(Cells(colors, alpha, rgb.size, cell, own if self.options.snaps else None))
        return found

    @property
    def shows_features(self) -> bool:
        """Whether :meth:`generator_input` draws feature cells in: an input other than "lines", the picture reduced to
        fewer pixels than it has."""
        return self.model.model_input != "lines" and self.effective_pixels_per_cell() != 0

    @property
    def keeps_features(self) -> bool:
        """Whether ``keep_features`` applies: asked for, and a generator is shown feature cells."""
        return self.options.keep_features and self.generator is not None and self.shows_features

    def generator_input(self, rgb: Image.Image, opaque: np.ndarray | None = None) -> np.ndarray:
        """The picture (RGB, on white) as the generator is shown it: reduced to its resolution keeping thin lines
        (box-averaged without ``outlines``), and with the feature cells among the ``opaque`` ones drawn in for a
        model trained so (``model_input``)."""
        return self._generator_input(rgb, opaque)[0]

    def _generator_input(self, rgb: Image.Image, opaque: np.ndarray | None) -> tuple[np.ndarray, tuple | None]:
        """:meth:`generator_input`, and the feature cells drawn into it with their colours (None when none are), which
        ``keep_features`` holds the drawing to: found once per picture."""
        cell, ppc = self.options.cell_size, self.effective_pixels_per_cell()
        factor = 1 if ppc == 0 else cell // ppc
        work = reduce_keeping_lines(rgb, factor) if self.options.outlines else box_average(rgb, factor)
        if not self.shows_features:
            return work, None
        shown = shown_feature_cells(rgb, cell, self.model.model_input, opaque)
        return draw_feature_cells(work, *shown), shown

    def palette_cells(self, img: Image.Image, cells: Cells | None = None) -> Cells:
        """The cells a fitted palette is fitted on: the picture's own (classical) cells when the model draws and
        ``palette_from`` is "picture", else the output cells (``cells``, computed when not given)."""
        if self.generator is not None and self.options.palette_from == "picture":
            return classic_cells(img, self.options)
        return cells if cells is not None else self.cells(img)

    def _render(self, img: Image.Image, cells: Cells, palette: np.ndarray | None) -> Image.Image:
        if palette is None:
            palette = palette_for(self.palette_cells(img, cells), self.options)
        return render(cells, self.options, palette)

    def pixelate(self, img: Image.Image, palette: np.ndarray | None = None) -> Image.Image:
        """Pixel art from one picture; ``palette`` fixes the colours (the video path shares one across frames)."""
        return self._render(img, self.cells(img), palette)

    def pixelate_many(self, images: Sequence[Image.Image], palette: np.ndarray | None = None) -> list[Image.Image]:
        """Pixel art from several pictures, batched through the generator where sizes match."""
        return [self._render(img, c, palette) for img, c in zip(images, self.cells_many(images))]

    # -- the generator -----------------------------------------------------------------
    def _onnx_ready(self) -> bool:
        """Whether this pass runs through ONNX Runtime (never while norms gather or replay tile statistics)."""
        assert self.generator is not None
        if self._onnx is None or any(m.mode != "live" for m in shared_norms(self.generator)):
            return False
        if self._onnx.ready(strict=self.model.engine in ONNX_ENGINES):
            return True
        self.engine, self.engine_reason = "torch", f"auto: {self._onnx.failure}"
        return False

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """Generator on a ``(B, H, W, 3)`` float 0..255 batch (H, W multiples of 4) -> same shape."""
        assert self.generator is not None
        if self._onnx_ready():
            assert self._onnx is not None
            x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32) / 127.5 - 1.0
            y = self._onnx(x)
            return ((y.clip(-1, 1) + 1.0) * 127.5).transpose(0, 2, 3, 1)
        x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).to(self.device)
        x = x / 127.5 - 1.0
        if self.device.type != "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self.dtype != torch.float32:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    y = self.generator(x)
            else:
                y = self.generator(x)
        y = (y.float().clamp(-1, 1) + 1.0) * 127.5
        return y.permute(0, 2, 3, 1).cpu().numpy()

    def translate(self, rgb: np.ndarray) -> np.ndarray:
        """The generator applied to an ``(H, W, 3)`` float 0..255 picture of any size; same shape out."""
        return self.translate_many([rgb])[0]

    def translate_many(self, pictures: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The generator on several ``(H, W, 3)`` float 0..255 pictures, batched by size, large ones tiled
        (:func:`inference.tiling.translate_pictures`), each in ``views`` orientations averaged; each comes back at
        its own size. Each is shown with ``margin`` white pixels around it, as figures on white were in training,
        and the drawing of the margin is cropped off."""
        assert self.generator is not None
        net, model, m = self.generator, self.model, self.model.margin
        shown = [np.pad(p, ((m, m), (m, m), (0, 0)), constant_values=255.0) for p in pictures] if m else pictures
        drawn = translate_views(lambda batch: translate_pictures(self._run, net, batch, model.tile, model.overlap,
                                                                 model.batch_pixels), shown, model.views, m)
        return [d[m : d.shape[0] - m, m : d.shape[1] - m] for d in drawn] if m else drawn

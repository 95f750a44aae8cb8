"""How the generator runs (:class:`ModelOptions`): resolution, tiles, device, precision, engine, input, views, margin.

Kept apart from :mod:`inference.pixelator` so the options are a small, typed record with its own checks;
``Pixelator`` and the CLI take them as keyword arguments of the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.onnx_engine import ENGINES
from inference.views import AUTO, checked_views
from pixelforge.model.recorded import MODEL_INPUTS

#: White border, in generator pixels, the generator is shown around a picture: it learnt from figures on white placed on
#: 48 px crops (a 16-48 px figure, so 0-16 px of white on a side, 8 on average). Shown a picture that fills its frame,
#: it draws glows and odd colours where the figure meets the border; with this margin the shipped model's faults on
#: the 23 held-out cartoons fall from 14 cells to 6 and ΔE2000 from 1.54 to 1.38 (docs/model-log.md).
MARGIN = 8
MAX_MARGIN = 256


@dataclass(frozen=True)
class ModelOptions:
    """How the generator runs. ``pixels_per_cell=0`` means full resolution (the slow reference)."""

    pixels_per_cell: int = 1
    tile: int = 1024  # largest tile side, in generator pixels (1024² needs ~1.5 GB at ngf 64)
    overlap: int = 64  # blended band between tiles, in generator pixels (at most a quarter tile)
    batch_pixels: int = 1 << 20  # generator pixels per forward pass: tiles are batched up to this
    device: str = "auto"  # auto, cpu, cuda, cuda:1, mps
    precision: str = "auto"  # auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16
    threads: int = 0  # intra-op threads on CPU (torch and ONNX Runtime); 0 = their default (all cores)
    engine: str = "auto"  # auto (ONNX Runtime for fp32 on CPU when installed, else torch), torch, onnx, int8 (opt-in)
    onnx_cache: bool = True  # keep exported ONNX graphs under the user cache dir, keyed by the weights' hash
    model_input: str = "lines"  # the generator's input: the picture halved keeping thin lines; "cells"/"dark-cells"/"classic-dark-cells"/"classic-line-cells"/"classic-thin-cells" also draw in its feature cells as blocks (all; dark; dark where the classical method has a dark line; dark where it has a line; as the last, none beside a dark line cell: inference.classic.feature_cells)
    views: int = AUTO  # the picture drawn in 1, 2, 4 or 8 orientations and the drawings averaged (inference.views), each a pass; AUTO (0): as many as fit one 512² pass
    margin: int = MARGIN  # white generator pixels shown around the picture and cropped off the drawing; 0 = none

    def __post_init__(self) -> None:
        if self.pixels_per_cell < 0:
            raise ValueError("pixels_per_cell must be >= 0 (0 = full resolution)")
        if self.tile < 64 or self.tile % 4:
            raise ValueError("tile must be a multiple of 4 and at least 64")
        if self.overlap < 0:
            raise ValueError("overlap must be >= 0")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.model_input not in MODEL_INPUTS:
            raise ValueError(f"model_input must be one of {', '.join(MODEL_INPUTS)}, got {self.model_input!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        checked_views(self.views)
        if not 0 <= self.margin <= MAX_MARGIN:
            raise ValueError(f"margin must be from 0 to {MAX_MARGIN} generator pixels, got {self.margin}")

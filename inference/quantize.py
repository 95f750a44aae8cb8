"""int8 generator graphs: ONNX Runtime static quantization of the residual blocks' convolutions.

The residual blocks hold most of a ResnetGenerator's arithmetic at the lowest resolution; their
convolutions (all but the very first) take int8 weights (per output channel) and uint8 activations
(ranges calibrated on generated pictures, at the 99.999th percentile), while the first 7x7 convolution, the strided
downsampling, the upsampling and the output layer stay fp32: quantizing those too moved the output
picture by 2-4 ΔE×100, where the blocks alone stay under 1 (``benchmarks/pixelate.py --generator``).

Calibration uses pictures made here (flat cartoon shapes on white, gradients, textured photo-like
scenes, fixed seeds), not user data, so the same weights always give the same int8 graph.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

#: Bump when the quantization recipe or calibration set changes, so cached int8 graphs are rebuilt.
QUANT_VERSION = 2
CALIBRATION_SIZE = 128
#: Activation ranges end at this percentile of the calibration values, not at their extremes. The
#: error is the uint8 step, not clipping (weights alone in int8 move the output by 0.04 ΔE×100, and
#: ranges taken from the corpus photos themselves, wider, doubled it), so trimming the rarest 0.001%
#: narrows the step: with v7's weights the corpus photos' mean went 0.91 -> 0.76 ΔE×100 and the
#: worst cartoon 0.64 -> 0.49. Trimming more (99.99) clips highlights on a few photos (worst 1.72).
CALIBRATION_PERCENTILE = 99.999
CALIBRATION_SEEDS = range(16)
#: A child process quantizes (see :func:`quantize_int8`); ngf 64 at 9 blocks takes well under a minute.
QUANTIZE_TIMEOUT_S = 600


def calibration_picture(seed: int, size: int = CALIBRATION_SIZE) -> np.ndarray:
    """One generated ``(size, size, 3)`` uint8 picture, by ``seed % 4``: flat cartoon shapes with
    outlines on white; a photo-like scene (sky, textured hills, noise); multi-scale coloured noise
    with hard-edged blocks, dark to bright (the detail and contrast of real photos); a night sky."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if seed % 4 == 3:  # night: near black with small bright spots (what sets the dark ranges)
        img = rng.normal(12, 4, (size, size, 3))
        for _ in range(40):
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.002, 0.02)
            img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.integers(120, 256, 3)
    elif seed % 4 == 0:  # what domain A looks like
        img = np.full((size, size, 3), 255.0, np.float32)
        for _ in range(6):
            cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.08, 0.25)
            d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
            img[d < r + 0.02] = (30, 25, 35)
            img[d < r] = rng.integers(0, 256, 3)
            img[(d < r * 0.5) & (y < cy)] = np.clip(img[(d < r * 0.5) & (y < cy)] + 40, 0, 255)
    elif seed % 4 == 1:
        img = np.stack([90 + 120 * y, 140 + 80 * y, 230 - 40 * y], -1)
        hill = y > 0.55 + 0.08 * np.sin(x * rng.uniform(5, 12)) + 0.04 * np.sin(x * 23)
        tex = 20 * np.sin(x * size / 5.0) * np.cos(y * size / 7.0)
        base = rng.integers(40, 200, 3).astype(np.float32)
        img[hill] = (base + tex[..., None])[hill]
        img += rng.normal(0, 6, img.shape)
    else:
        img = np.zeros((size, size, 3), np.float32)
        for cells in (2, 4, 8, 16, 32, 64):  # octaves of blocky noise, nearest-upscaled: edges at every scale
            octave = rng.normal(0, 90 / np.sqrt(cells), (cells, cells, 3)).repeat(size // cells, 0).repeat(size // cells, 1)
            img += octave
        img += rng.uniform(30, 225) + rng.normal(0, 12, img.shape)  # dark to bright scenes
    return np.clip(img, 0, 255).astype(np.uint8)


def to_input(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 as the generator's ``(1, 3, H, W)`` float32 input in -1..1."""
    return (rgb.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None].copy()


def fp32_convs(model: bytes) -> list[str]:
    """Names of the convolutions to keep fp32: every one outside the residual blocks, and the first
    block's first one, where quantization error would enter the residual stream first (keeping it
    fp32 took the worst corpus cartoon from 1.03 to 0.96 ΔE×100 at no measurable cost)."""
    import onnx

    graph = onnx.load_from_string(model).graph
    convs = [n.name for n in graph.node if n.op_type in ("Conv", "ConvTranspose")]
    blocks = [name for name in convs if "conv_block" in name]
    return [name for name in convs if "conv_block" not in name] + blocks[:1]


def quantize_int8(model: bytes, blocks_only: bool = True) -> bytes:
    """The fp32 generator graph with its residual blocks' convolutions in int8 (QDQ, per channel, percentile ranges).

    ``blocks_only=False`` quantizes every convolution (what the benchmark compares against).

    The quantizer runs in a child process (``python -m inference.quantize``): its histogram calibrator
    prints progress to stdout (where a pipeline may read pictures) and it logs through the root logger,
    and silencing either in this process would be process-wide, swallowing other threads' output too.
    """
    exclude = fp32_convs(model) if blocks_only else []
    package_root = str(Path(__file__).resolve().parents[1])  # the child imports this same inference package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p))
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        done = subprocess.run(
            [sys.executable, "-m", "inference.quantize", str(src), str(dst), json.dumps(exclude)],
            env=env, capture_output=True, text=True, timeout=QUANTIZE_TIMEOUT_S,
        )
        if done.returncode != 0 or not dst.exists():
            lines = (done.stderr or done.stdout).strip().splitlines()  # the child's exception is its last line
            raise RuntimeError(f"int8 quantization failed: {lines[-1] if lines else f'exit status {done.returncode}'}")
        return dst.read_bytes()


def _quantize_file(src: Path, dst: Path, exclude: list[str]) -> None:
    """The child's work: ``src`` (fp32 ONNX) -> ``dst`` (int8 QDQ), its prints and logs muted (only this process)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"x": to_input(calibration_picture(s))} for s in CALIBRATION_SEEDS])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    logging.disable(logging.WARNING)  # "consider pre-processing" and the like: not the user's business
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        quantize_static(
            str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
            op_types_to_quantize=["Conv", "ConvTranspose"], calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": CALIBRATION_PERCENTILE},
        )


if __name__ == "__main__":
    _quantize_file(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]))

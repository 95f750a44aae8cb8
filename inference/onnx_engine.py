"""The generator through ONNX Runtime: same weights, same fp32 maths, faster than torch eager on CPU.

torch's eager CPU pass spends a third of its time outside the convolutions (InstanceNorm through
the batch-norm kernel, reflection padding, ReLU, per-call weight reorders); ONNX Runtime's
optimised graph runs the convolutions in blocked (NCHWc) layout with fused ReLUs and spends
over 80% of its time in them. ``benchmarks/pixelate.py --generator`` measures both in the same
run (about 3x for an ngf-32 generator at 256²; less, and load-dependent, for the ngf-64 reference).

The graph is exported once per :class:`OnnxGenerator` (dynamic batch, height and width), kept
in memory, and cached on disk under the user cache directory keyed by a hash of the weights,
the architecture and the exporter's version, so a second process skips the export (seconds).
A cached file is only used when its stored checksum matches; anything else is exported again.
An ONNX file is a protobuf of tensors and operators (no code), and sessions are created with
the default CPU provider only: no custom-op libraries are ever loaded.

Only the plain pass runs here. The tiled path's shared InstanceNorm statistics
(:class:`inference.tiling.SharedStatsNorm` gather/replay) stay in torch.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ENGINES = ("auto", "torch", "onnx", "int8")
#: The engines that run through ONNX Runtime (``int8``: residual blocks quantized, :mod:`inference.quantize`).
ONNX_ENGINES = ("onnx", "int8")
#: Bump when the export changes (opset, graph rewrites) so stale cached graphs are not reused.
EXPORT_VERSION = 1
OPSET = 17


class EngineUnavailable(ValueError):
    """``engine='onnx'`` or ``'int8'`` asked for where it cannot run (a usage error); the message says why and what to do."""


def onnxruntime_missing() -> str | None:
    """Why ONNX Runtime cannot be used here, or None when it can."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return f"onnxruntime is not installed ({exc}); pip install onnxruntime"
    return None


def choose_engine(requested: str, device: torch.device, dtype: torch.dtype) -> tuple[str, str]:
    """The engine to run and a one-line reason. ``auto`` takes ONNX Runtime for fp32 on CPU.

    That is where it was measured faster (``benchmarks/pixelate.py``); on a GPU, or in bf16/fp16,
    torch runs. ``int8`` is never chosen for you: it changes the output slightly (under 1 ΔE×100
    on the benchmark's pictures). An explicit ``onnx`` or ``int8`` that cannot run raises
    :class:`EngineUnavailable`.
    """
    if requested not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {requested!r}")
    if requested == "torch":
        return "torch", "asked for"
    problem = None
    if device.type != "cpu":
        problem = f"the ONNX engines run on CPU only, the device is {device}"
    elif dtype != torch.float32:
        problem = f"the ONNX engines take fp32 weights, precision is {str(dtype).removeprefix('torch.')}"
    else:
        problem = onnxruntime_missing()
    if problem is None:
        return ("onnx", "auto: fastest exact engine measured on CPU") if requested == "auto" else (requested, "asked for")
    if requested in ONNX_ENGINES:
        raise EngineUnavailable(f"engine {requested!r} cannot run: {problem}")
    return "torch", f"auto: {problem}"


def weights_key(net: nn.Module) -> str:
    """sha256 over parameter names, shapes and bytes, the architecture repr and the export version."""
    h = hashlib.sha256(f"{EXPORT_VERSION}|{OPSET}|{torch.__version__}|{net!r}".encode())
    for name, tensor in net.state_dict().items():
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        h.update(f"{name}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def cache_dir() -> Path:
    """``$PIXELFORGE_CACHE`` or ``$XDG_CACHE_HOME/pixelforge`` (default ``~/.cache/pixelforge``), then ``onnx/``."""
    root = os.environ.get("PIXELFORGE_CACHE")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pixelforge")
    return Path(root) / "onnx"


def export_onnx(net: nn.Module) -> bytes:
    """The generator as an ONNX graph with dynamic batch, height and width (fp32, CPU)."""
    model = copy.deepcopy(net).to("cpu", torch.float32).eval()
    axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter warns about InstanceNorm's training flag and deprecations
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.zeros(1, 3, 64, 64),),
            buf,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": axes, "y": axes},
            opset_version=OPSET,
            dynamo=False,
        )
    return buf.getvalue()


def _read_cached(path: Path) -> bytes | None:
    """The cached graph when it is complete and matches its checksum file, else None."""
    try:
        data = path.read_bytes()
        digest = path.with_suffix(".sha256").read_text().strip()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


def _write_cached(path: Path, data: bytes) -> None:
    """Atomic write of the graph and its checksum; a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, payload in ((path, data), (path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest().encode())):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, target)
    except OSError:
        pass


def load_or_export(net: nn.Module, disk_cache: bool = True, int8: bool = False) -> tuple[bytes, str]:
    """The graph bytes and where they came from (``exported``, ``exported+int8`` or ``cache:PATH``)."""
    from inference.quantize import QUANT_VERSION, quantize_int8

    name = f"{weights_key(net)}.int8-v{QUANT_VERSION}.onnx" if int8 else f"{weights_key(net)}.onnx"
    path = cache_dir() / name if disk_cache else None
    if path is not None and (data := _read_cached(path)) is not None:
        return data, f"cache:{path}"
    data = export_onnx(net)
    if int8:
        data = quantize_int8(data)
    if path is not None:
        _write_cached(path, data)
    return data, "exported+int8" if int8 else "exported"


def make_session(model: bytes, threads: int = 0) -> Any:
    """An ONNX Runtime session on the CPU provider with every graph optimisation on."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads  # 0 = one per physical core
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


class OnnxGenerator:
    """A generator's forward pass through ONNX Runtime, exported on first use and shared by copies.

    ``net`` must hold plain InstanceNorm maths (ordinary ``InstanceNorm2d``, or
    ``SharedStatsNorm`` in its live mode). ``__call__`` takes and returns ``(B, 3, H, W)`` float32
    numpy arrays in the generator's -1..1 range.
    """

    def __init__(self, net: nn.Module, threads: int = 0, disk_cache: bool = True, int8: bool = False) -> None:
        self._net = net
        self.int8 = int8
        self.threads = threads
        self.disk_cache = disk_cache
        self.origin: str | None = None
        self.failure: str | None = None  # why the export or session failed, once it has
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                if self.failure is not None:
                    raise EngineUnavailable(self.failure)
                try:
                    model, self.origin = load_or_export(self._net, self.disk_cache, self.int8)
                    self._session = make_session(model, self.threads)
                except Exception as exc:
                    self.failure = f"ONNX export or session failed: {type(exc).__name__}: {exc}"
                    raise EngineUnavailable(self.failure) from exc
                self._net = None  # the graph holds the weights now
            return self._session

    def ready(self, strict: bool) -> bool:
        """Export and open the session if not done yet; False (warning once) when that failed.

        ``strict`` (``engine='onnx'`` or ``'int8'`` asked for) raises :class:`EngineUnavailable` instead.
        """
        first = self.failure is None
        try:
            return self.session is not None
        except EngineUnavailable:
            if strict:
                raise
            if first:
                warnings.warn(f"{self.failure}; running torch instead", RuntimeWarning, stacklevel=4)
            return False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]

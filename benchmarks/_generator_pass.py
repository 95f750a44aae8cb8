"""The generator pass alone, at equal work: one resolution, one set of weights, every engine in one run.

Used by ``benchmarks/pixelate.py --generator`` (and its default run). Each candidate computes the
same ResnetGenerator on the same ``(1, 3, H, W)`` input; the reference is the plain fp32 eager
torch pass, measured in the same run. Repeats are interleaved (one of each candidate per round)
so that load from other processes on a shared machine hits every candidate alike, and the median
is reported. Quality is the mean OKLab ΔE×100 of each output against the eager fp32 output.
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inference.onnx_engine import export_onnx, make_session
from inference.quantize import quantize_int8
from pixelforge.color import mean_delta_e_ok
from pixelforge.model.networks import GeneratorSpec, init_weights

SPECS = {"small": GeneratorSpec(ngf=32, n_blocks=6), "small9": GeneratorSpec(ngf=32, n_blocks=9), "reference": GeneratorSpec(),
         "shipped": GeneratorSpec(ngf=32, n_blocks=6)}  # the shipped model's trained weights (same speed as small)
BOUND = 1.0  # mean OKLab ΔE×100 against the fp32 eager pass
TARGET = 2.0  # speed-up over the fp32 eager pass
CORPUS = Path(os.environ.get("PIXELFORGE_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


@dataclass
class Candidate:
    name: str
    run: Callable[[np.ndarray], np.ndarray]
    warmups: int = 1


def to_rgb(y: np.ndarray) -> np.ndarray:
    return ((np.asarray(y, np.float32)[0].transpose(1, 2, 0) + 1.0) * 127.5).clip(0, 255)


def candidates(
    net: torch.nn.Module, threads: int, int8: bool, compiled: bool
) -> list[Candidate]:
    """The reference first, then every lever tried; each maps a (1, 3, H, W) -1..1 array to the output."""

    def eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(x)).numpy()

    cl_net = init_like(net).to(memory_format=torch.channels_last)

    def channels_last(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return cl_net(torch.from_numpy(x).contiguous(memory_format=torch.channels_last)).contiguous().numpy()

    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.freeze(torch.jit.trace(init_like(net), torch.zeros(1, 3, 64, 64)))

    def jit(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return frozen(torch.from_numpy(x)).numpy()

    fp32 = export_onnx(net)
    ort32 = make_session(fp32, threads)
    found = [
        Candidate("torch eager fp32 (reference)", eager),
        Candidate("torch channels_last", channels_last),
        Candidate("torch.jit.trace + freeze", jit, warmups=2),
        Candidate("ONNX Runtime fp32 (engine=onnx)", lambda x: ort32.run(None, {"x": x})[0]),
    ]
    if compiled:
        inductor = torch.compile(init_like(net), dynamic=False)  # compiles again for every new input size

        def compile_run(x: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return inductor(torch.from_numpy(x)).numpy()

        found.append(Candidate("torch.compile (inductor)", compile_run))
    if int8:
        for blocks_only, label in ((True, "int8 residual blocks (engine=int8)"), (False, "int8 every conv")):
            sess = make_session(quantize_int8(fp32, blocks_only), threads)
            found.append(Candidate(f"ONNX Runtime {label}", lambda x, s=sess: s.run(None, {"x": x})[0]))
    return found


def generator(key: str) -> torch.nn.Module:
    """The spec's network: the shipped model's trained weights for ``shipped``, else random (seed 0).

    Speed does not depend on the weights; int8 error does (random weights have wider activations).
    """
    if key == "shipped":
        from inference.shipped import shipped_weights
        from pixelforge.model.loading import load_generator

        return load_generator(shipped_weights())[0].float().eval()
    torch.manual_seed(0)
    return init_weights(SPECS[key].build()).eval()


def int8_on_corpus(corpus: Path, size: int = 256) -> list[str]:
    """int8 (engine=int8) against fp32 ONNX Runtime, shipped weights, on the corpus photos and every 50th cartoon:
    mean and worst picture's OKLab ΔE×100 per store. The calibration never saw them (it uses generated pictures)."""
    from PIL import Image

    from pixelforge.imaging import composite_on_white

    net = generator("shipped")
    fp32 = export_onnx(net)
    ref, q = make_session(fp32), make_session(quantize_int8(fp32))
    lines = []
    for store, step in (("photos", 1), ("cartoons", 50)):
        manifest = corpus / store / "manifest.jsonl"
        if not manifest.is_file():
            lines.append(f"  int8 on corpus {store}: skipped ({manifest} missing)")
            continue
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()][::step]
        des = []
        for r in rows:
            img = composite_on_white(Image.open(corpus / store / r["path"]))
            side = min(img.size)
            x = np.asarray(img.crop((0, 0, side, side)).resize((size, size), Image.Resampling.BOX), np.float32)
            x = (x / 127.5 - 1.0).transpose(2, 0, 1)[None].copy()
            des.append(mean_delta_e_ok(to_rgb(q.run(None, {"x": x})[0]), to_rgb(ref.run(None, {"x": x})[0])))
        lines.append(f"  int8 (engine=int8, shipped weights) on {len(des)} corpus {store} at {size}²: dE*100 mean "
                     f"{np.mean(des):.3f}, worst picture {np.max(des):.3f}, over 1: {sum(d > BOUND for d in des)}")
    return lines


def init_like(net: torch.nn.Module) -> torch.nn.Module:
    """A separate copy of the same weights (channels_last and freezing change the module)."""
    import copy

    return copy.deepcopy(net).eval()


def op_profile(model: bytes, x: np.ndarray, threads: int) -> list[tuple[str, float]]:
    """Share of ONNX Runtime kernel time per operator type over one run (after a warm-up)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "prof")
        so.log_severity_level = 3
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        sess.run(None, {"x": x})
        sess.run(None, {"x": x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_op: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) or 1
    return [(op, dur / total) for op, dur in per_op.most_common()]


def compare(
    photo: Callable[..., object], sizes: list[int], specs: list[str], repeat: int, int8: bool, profile: bool,
    compiled: bool = False, threads: int = 0,
) -> list[str]:
    """Time every candidate per spec and size; returns the table's lines (printed as they come)."""
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    lines: list[str] = []

    def emit(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    cores = "all cores" if threads == os.cpu_count() else f"of {os.cpu_count()} cores"
    emit(f"generator pass at equal work: {threads} threads ({cores}) for torch and ONNX Runtime, "
         f"median of {repeat} interleaved repeats, load average {os.getloadavg()[0]:.1f} at start")
    header = f"{'spec':<22}{'size':>6}  {'engine':<50}{'time':>9}{'speed-up':>10}{'dE*100':>9}  {'bound<=1':<9}{'>=2x':<5}"
    emit(header)
    emit("-" * len(header))
    arr = lambda img: (np.asarray(img, np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None].copy()  # noqa: E731
    for key in specs:
        spec = SPECS[key]
        net = generator(key)
        cands = candidates(net, threads, int8, compiled)
        for size in sizes:
            x = arr(photo(size, size))
            for c in cands:
                for _ in range(c.warmups):
                    t = time.perf_counter()
                    c.run(x)
                    if "compile" in c.name and c.warmups:
                        emit(f"  {c.name}: first call at {size}² (compiling) took {time.perf_counter() - t:.1f} s")
            times: dict[str, list[float]] = {c.name: [] for c in cands}
            outs: dict[str, np.ndarray] = {}
            for _ in range(repeat):
                for c in cands:
                    t = time.perf_counter()
                    outs[c.name] = c.run(x)
                    times[c.name].append(time.perf_counter() - t)
            ref_name = cands[0].name
            ref_t, ref_rgb = statistics.median(times[ref_name]), to_rgb(outs[ref_name])
            for c in cands:
                t = statistics.median(times[c.name])
                de = mean_delta_e_ok(to_rgb(outs[c.name]), ref_rgb)
                ok = de <= BOUND
                label = f"ngf {spec.ngf}, {spec.n_blocks} blocks"
                emit(f"{label:<22}{size:>5}²  {c.name:<50}{t:8.3f}s{ref_t / t:9.2f}x{de:9.3f}  {'yes' if ok else 'NO':<9}"
                     f"{'' if c.name == ref_name else ('PASS' if ok and ref_t / t >= TARGET else 'MISS'):<5}")
            if profile:
                shares = op_profile(export_onnx(net), x, threads)
                emit("  ONNX Runtime fp32 kernel time: " + ", ".join(f"{op} {share:.0%}" for op, share in shares[:6]))
    if int8 and "shipped" in specs:
        for line in int8_on_corpus(CORPUS):
            emit(line)
    emit(f"load average {os.getloadavg()[0]:.1f} at the end; dE*100 = mean OKLab distance x100 of the output picture "
         "vs the fp32 eager output (bound <= 1); >=2x PASS needs both the speed-up and the bound")
    return lines

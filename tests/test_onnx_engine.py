"""The ONNX Runtime engine: a real exported graph that matches torch eager, and clear behaviour without it."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from inference import onnx_engine
from inference.cli import main
from inference.onnx_engine import EngineUnavailable, cache_dir, choose_engine
from inference.pixelator import ModelOptions, Pixelator
from inference.tiling import with_shared_stats_norm
from pixelforge.color import mean_delta_e_ok
from pixelforge.model.checkpoint import generator_metadata, save_network
from pixelforge.model.networks import GeneratorSpec, init_weights

SMALL = GeneratorSpec(ngf=16, n_blocks=2)


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(1)
    return init_weights(SMALL.build()).eval()


def picture(h, w, seed=0):
    """0..255 float picture with gradients, texture and noise (a flat one would hide layout bugs)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x / w * 255, y / h * 255, 128 + 100 * np.sin(x / 5) * np.cos(y / 9)], -1)
    return np.clip(arr + rng.normal(0, 12, arr.shape), 0, 255).astype(np.float32)


def engines(net, **model):
    return (
        Pixelator(net, SMALL, model=ModelOptions(engine="onnx", **model)),
        Pixelator(net, SMALL, model=ModelOptions(engine="torch", **model)),
    )


@pytest.mark.parametrize("size", [(64, 96), (37, 53), (7, 5), (130, 18)])
def test_onnx_matches_torch_eager_within_the_bound(small_net, size):
    """Multiples of 4, odd sizes (reflect padding, cropped back) and a picture too small to reflect."""
    onnx_px, torch_px = engines(small_net)
    rgb = picture(*size, seed=size[0])
    ours, ref = onnx_px.translate(rgb), torch_px.translate(rgb)
    assert onnx_px._onnx is not None and onnx_px._onnx.origin is not None  # ORT really ran
    assert ours.shape == ref.shape == (*size, 3)
    assert mean_delta_e_ok(ours, ref) <= 1.0  # the bound
    assert np.abs(ours - ref).max() < 0.05  # in fact the same fp32 maths, up to summation order
    assert ref.std() > 1.0  # the generator's output has structure, so a layout bug would show


def test_batched_pictures_match_one_by_one(small_net):
    onnx_px, torch_px = engines(small_net)
    pics = [picture(40, 28, seed=s) for s in range(3)]
    batched = onnx_px.translate_many(pics)
    for pic, ours in zip(pics, batched):
        np.testing.assert_allclose(ours, torch_px.translate(pic), atol=0.05)


def test_the_graph_is_a_valid_onnx_model_with_dynamic_size(small_net):
    graph = onnx.load_from_string(onnx_engine.export_onnx(small_net))
    onnx.checker.check_model(graph)
    ops = {n.op_type for n in graph.graph.node}
    assert {"Conv", "ConvTranspose", "InstanceNormalization", "Pad", "Tanh"} <= ops
    dims = [d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "", "height", "width"]


def test_tiled_inputs_keep_torch_and_its_shared_statistics(small_net):
    onnx_px, torch_px = engines(small_net, tile=64, overlap=16, pixels_per_cell=0)
    rgb = picture(100, 90)
    np.testing.assert_array_equal(onnx_px.translate(rgb), torch_px.translate(rgb))
    assert onnx_px._onnx is not None and onnx_px._onnx.origin is None  # never exported: nothing ran through ORT
    assert "tiled inputs: torch" in onnx_px.describe()


def test_disk_cache_is_reused_keyed_by_weights_and_rejects_a_damaged_file(small_net):
    rgb = picture(32, 32)
    first, _ = engines(small_net)
    expected = first.translate(rgb)
    path = cache_dir() / f"{onnx_engine.weights_key(first.generator)}.onnx"
    assert first._onnx.origin in ("exported", f"cache:{path}") and path.is_file()
    again, _ = engines(small_net)
    np.testing.assert_array_equal(again.translate(rgb), expected)
    assert again._onnx.origin == f"cache:{path}"
    path.write_bytes(path.read_bytes()[:-100])  # truncated: checksum mismatch, exported again
    third, _ = engines(small_net)
    np.testing.assert_array_equal(third.translate(rgb), expected)
    assert third._onnx.origin == "exported"
    other = init_weights(SMALL.build()).eval()
    assert onnx_engine.weights_key(with_shared_stats_norm(other)) != onnx_engine.weights_key(first.generator)


def test_auto_picks_onnx_on_cpu_fp32_and_torch_elsewhere():
    cpu = torch.device("cpu")
    assert choose_engine("auto", cpu, torch.float32)[0] == "onnx"
    engine, reason = choose_engine("auto", cpu, torch.bfloat16)
    assert engine == "torch" and "fp32" in reason
    engine, reason = choose_engine("auto", torch.device("cuda"), torch.float16)
    assert engine == "torch" and "CPU only" in reason
    with pytest.raises(EngineUnavailable, match="CPU only"):
        choose_engine("onnx", torch.device("cuda"), torch.float32)
    with pytest.raises(ValueError, match="engine must be"):
        ModelOptions(engine="tensorrt")


def test_without_onnxruntime_onnx_is_a_clear_error_and_auto_falls_back(monkeypatch, small_net, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    with pytest.raises(EngineUnavailable, match="onnxruntime is not installed.*pip install onnxruntime"):
        Pixelator(small_net, SMALL, model=ModelOptions(engine="onnx"))
    auto = Pixelator(small_net, SMALL)
    assert auto.engine == "torch" and "onnxruntime is not installed" in auto.describe()
    rgb = picture(24, 24)
    eager = Pixelator(small_net, SMALL, model=ModelOptions(engine="torch"))
    np.testing.assert_array_equal(auto.translate(rgb), eager.translate(rgb))
    weights = tmp_path / "G_A.safetensors"
    save_network(small_net, weights, generator_metadata(SMALL, "AtoB", 64))
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "in.png")
    code = main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--checkpoint", str(weights), "--engine", "onnx"])
    assert code == 2 and "engine 'onnx' cannot run: onnxruntime is not installed" in capsys.readouterr().err
    assert main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--checkpoint", str(weights)]) == 0
    assert "engine torch eager [auto: onnxruntime is not installed" in capsys.readouterr().err


def test_an_export_failure_warns_and_runs_torch_under_auto_but_fails_when_asked(monkeypatch, small_net):
    def broken(net):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(onnx_engine, "export_onnx", broken)
    rgb = picture(20, 20)
    auto = Pixelator(small_net, SMALL, model=ModelOptions(onnx_cache=False))
    with pytest.warns(RuntimeWarning, match="exporter broke"):
        out = auto.translate(rgb)
    np.testing.assert_array_equal(out, engines(small_net)[1].translate(rgb))
    assert auto.engine == "torch" and "exporter broke" in auto.describe()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto.translate(rgb)  # warned once, torch from then on
    asked = Pixelator(small_net, SMALL, model=ModelOptions(engine="onnx", onnx_cache=False))
    with pytest.raises(EngineUnavailable, match="exporter broke"):
        asked.translate(rgb)


def test_a_generator_with_the_long_skip_exports_and_matches_torch():
    spec = GeneratorSpec(ngf=16, n_blocks=2, skip=1)
    torch.manual_seed(2)
    net = init_weights(spec.build()).eval()
    onnx_px = Pixelator(net, spec, model=ModelOptions(engine="onnx"))
    torch_px = Pixelator(net, spec, model=ModelOptions(engine="torch"))
    rgb = picture(37, 53, seed=5)
    ours, ref = onnx_px.translate(rgb), torch_px.translate(rgb)
    assert onnx_px._onnx is not None and onnx_px._onnx.origin is not None
    assert np.abs(ours - ref).max() < 0.05 and ref.std() > 1.0
    graph = onnx.load_from_string(onnx_engine.export_onnx(net))
    assert any("skip" in name for node in graph.graph.node if node.op_type == "Conv" for name in node.input)

"""The int8 engine: the shipped model's residual blocks quantized by ONNX Runtime, close to fp32, opt-in only."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from inference.cli import main
from inference.onnx_engine import EngineUnavailable, cache_dir, choose_engine, export_onnx, weights_key
from inference.pixelator import Pixelator
from inference.quantize import CALIBRATION_SEEDS, QUANT_VERSION, calibration_picture, quantize_int8
from pixelforge.color import mean_delta_e_ok


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """Real photos the calibration never saw (scikit-image's chelsea and coffee, CC0), 96² crops."""
    return [np.asarray(Image.fromarray(img[:288, :288]).resize((96, 96), Image.Resampling.BOX), np.float32)
            for img in (skdata.chelsea(), skdata.coffee())]


def shipped(engine: str, **options: object) -> Pixelator:
    return Pixelator.shipped(engine=engine, pixels_per_cell=0, **options)


def test_int8_stays_within_the_bound_of_fp32_on_real_photos(photos):
    int8, fp32 = shipped("int8"), shipped("torch")
    for rgb in photos:
        ours, ref = int8.translate(rgb), fp32.translate(rgb)
        assert int8._onnx is not None and int8._onnx.origin is not None and "int8" in int8._onnx.origin
        assert ours.shape == ref.shape == rgb.shape
        assert 0 < np.abs(ours - ref).max()  # really quantized: not the fp32 maths
        assert mean_delta_e_ok(ours, ref) <= 1.0  # the bound (0.4-0.8 on the corpus photos)
    assert "int8 residual blocks" in int8.describe()


def test_only_the_residual_block_convolutions_are_quantized_and_the_graph_is_cached():
    first = shipped("int8")
    first.translate(np.full((32, 32, 3), 200, np.float32))
    path = cache_dir() / f"{weights_key(first.generator)}.int8-v{QUANT_VERSION}.onnx"
    assert path.is_file() and first._onnx.origin in ("exported+int8", f"cache:{path}")
    graph = onnx.load(str(path)).graph
    onnx.checker.check_model(onnx.load(str(path)))
    produced = {out: n for n in graph.node for out in n.output}
    quantized, kept = [], []
    for conv in (n for n in graph.node if n.op_type in ("Conv", "ConvTranspose")):
        feeds = [produced.get(i) for i in conv.input[:2]]
        (quantized if all(f is not None and f.op_type == "DequantizeLinear" for f in feeds) else kept).append(conv.name)
    assert quantized and all("conv_block" in name for name in quantized)
    assert len(quantized) == 2 * first.spec.n_blocks - 1  # two 3x3 convolutions per block, but the first
    # ONNX names the nodes by module path, which a skip model nests one level less ("/model.10/...")
    block = [name for name in kept if "conv_block" in name]
    assert len(block) == 1 and block[0].endswith("model.10/conv_block/conv_block.1/Conv")
    skip = 1 if first.spec.skip else 0  # the long skip's 3x3 convolution runs at full resolution, fp32
    assert len(kept) == 1 + 2 + 2 + 1 + 1 + skip  # and the stem, downsampling, upsampling, output: fp32
    again = shipped("int8")
    again.translate(np.full((32, 32, 3), 200, np.float32))
    assert again._onnx.origin == f"cache:{path}"


def test_quantizing_prints_nothing_and_mutes_no_one_else(capsys, caplog):
    """ONNX Runtime's histogram calibrator prints progress; stdout may be a pipe of pictures. Muting it must not
    mute the rest of the process: another thread's prints and logs while it quantizes all arrive."""
    net = Pixelator.shipped(pixels_per_cell=0).generator
    model = export_onnx(net)
    stop, sent = threading.Event(), []

    def chatter() -> None:
        while not stop.is_set():
            sent.append(len(sent))
            print(f"frame {sent[-1]}")
            logging.getLogger("pixelforge.test").warning("log %d", sent[-1])
            time.sleep(0.002)

    other = threading.Thread(target=chatter)
    with caplog.at_level(logging.WARNING, logger="pixelforge.test"):
        other.start()
        try:
            graph = quantize_int8(model)
        finally:
            stop.set()
            other.join()
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load_from_string(graph).graph.node)
    out = capsys.readouterr().out
    assert len(sent) > 50 and out == "".join(f"frame {i}\n" for i in sent)  # every line of the other thread, nothing else
    assert [r.getMessage() for r in caplog.records if r.name == "pixelforge.test"] == [f"log {i}" for i in sent]


def test_int8_is_never_picked_for_you_and_needs_the_cpu():
    cpu = torch.device("cpu")
    assert choose_engine("auto", cpu, torch.float32)[0] == "onnx"
    assert choose_engine("int8", cpu, torch.float32) == ("int8", "asked for")
    with pytest.raises(EngineUnavailable, match="'int8' cannot run.*CPU only"):
        choose_engine("int8", torch.device("cuda"), torch.float32)
    with pytest.raises(EngineUnavailable, match="'int8' cannot run.*fp32"):
        choose_engine("int8", cpu, torch.bfloat16)


def test_calibration_pictures_are_fixed_and_varied():
    a, b = calibration_picture(0), calibration_picture(0)
    np.testing.assert_array_equal(a, b)  # same weights, same int8 graph
    kinds = [calibration_picture(s) for s in list(CALIBRATION_SEEDS)[:4]]
    means = [k.mean() for k in kinds]
    assert max(means) - min(means) > 100  # white cartoons to a night sky
    assert all(k.shape == (128, 128, 3) and k.dtype == np.uint8 for k in kinds)


def test_cli_engine_int8(tmp_path, capsys):
    Image.fromarray(skdata.coffee()[:64, :64]).save(tmp_path / "in.png")
    code = main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--shipped", "--engine", "int8"])
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "engine ONNX Runtime int8 residual blocks" in err and "[asked for]" in err
    assert Image.open(tmp_path / "out.png").size == (64, 64)


def test_a_failed_quantization_says_why():
    with pytest.raises(RuntimeError, match="int8 quantization failed: .+"):
        quantize_int8(b"not an onnx graph", blocks_only=False)

"""rembg for complex backgrounds: a tiny ONNX graph built here runs through a real
``rembg.new_session("u2net_custom", model_path=...)``; a missing model is a clear error, never a download."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

onnx = pytest.importorskip("onnx")
if importlib.util.find_spec("rembg") is None:  # imported by the code under test, which keeps pymatting cold
    pytest.skip("rembg is not installed (the [rembg] extra)", allow_module_level=True)

from onnx import TensorProto, helper  # noqa: E402

from curation.cli import main  # noqa: E402
from curation.config import BackgroundConfig, load_config  # noqa: E402
from curation.pipeline import run  # noqa: E402
from curation.stages.background import RembgModelMissing, load_rembg_session, to_white  # noqa: E402

FG = (250, 20, 200)


def corner_distance_model(path):
    """u2net's interface (1x3x320x320 in, 1x1x320x320 out); saliency = distance from the top-left pixel."""
    starts = helper.make_tensor("starts", TensorProto.INT64, [4], [0, 0, 0, 0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [4], [1, 3, 1, 1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    nodes = [
        helper.make_node("Slice", ["input", "starts", "ends"], ["corner"]),
        helper.make_node("Sub", ["input", "corner"], ["diff"]),
        helper.make_node("Abs", ["diff"], ["absdiff"]),
        helper.make_node("ReduceSum", ["absdiff", "axes"], ["mask"], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes, "corner_distance",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, 320, 320])],
        initializer=[starts, ends, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def gradient_scene():
    """A sprite on a noisy green background: the border is not one colour, so flood fill can't help."""
    noise = np.random.default_rng(0).integers(-25, 26, (320, 320, 3))
    arr = np.clip(np.array([60, 170, 90]) + noise, 0, 255).astype(np.uint8)
    fg = np.zeros((320, 320), bool)
    fg[100:220, 120:200] = True
    fg[60:100, 140:180] = True
    arr[fg] = FG
    return Image.fromarray(arr, "RGB"), fg


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return corner_distance_model(tmp_path_factory.mktemp("models") / "tiny_u2net.onnx")


def test_rembg_session_runs_a_real_onnx_graph(model_path):
    config = BackgroundConfig(rembg_model_path=str(model_path))
    session = load_rembg_session(config)
    assert type(session).__name__ == "U2netCustomSession"
    img, fg = gradient_scene()
    assert to_white(img, BackgroundConfig()).kind == "complex"  # no model: kept as it is
    out = to_white(img, config, session)
    assert out.kind == "rembg"
    arr = np.asarray(out.image)
    assert (arr[fg] == FG).all()  # the sprite is untouched
    assert (arr[~fg] == 255).all()  # the whole gradient is white
    assert out.filled == int((~fg).sum())


def test_missing_model_is_a_clear_error_and_never_a_download(tmp_path, monkeypatch):
    import pooch

    def no_download(*args, **kwargs):
        raise AssertionError("a model download was attempted")

    monkeypatch.setattr(pooch, "retrieve", no_download)
    missing = tmp_path / "nowhere" / "u2net.onnx"
    with pytest.raises(RembgModelMissing, match="u2net.onnx") as e:
        load_rembg_session(BackgroundConfig(rembg_model_path=str(missing)))
    assert str(missing) in str(e.value) and "Download" in str(e.value)
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "empty_home"))
    with pytest.raises(RembgModelMissing, match="u2netp.onnx") as e:
        load_rembg_session(BackgroundConfig(rembg_model="u2netp"))
    assert "empty_home" in str(e.value)


def test_curate_run_with_missing_model_exits_with_the_file_to_download(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "in" / "a.png")
    code = main(["run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--no-progress",
                 "--set", f"background.rembg_model_path={tmp_path / 'u2netp.onnx'}"])
    assert code == 2
    assert "u2netp.onnx" in capsys.readouterr().err


def test_pipeline_cuts_complex_backgrounds_with_rembg(tmp_path, model_path):
    src = tmp_path / "in"
    src.mkdir()
    img, fg = gradient_scene()
    img.save(src / "scene.png")
    config = load_config(None, ["workers=1", "native.enabled=false", "filters.pixel_art_threshold=0",
                                f"background.rembg_model_path={model_path}"])
    res = run(src, tmp_path / "out", config, progress=False)
    assert res.report["counts"]["kept"] == 1
    import datasets

    row = datasets.load_dataset(str(tmp_path / "out"))["train"][0]
    native = np.asarray(row["native"])
    assert (native[fg] == FG).all() and (native[~fg] == 255).all()

"""--views: the generator draws the picture in several orientations and the drawings, turned back, are averaged."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli import main as cli_main
from inference.pixelator import ModelOptions, Pixelator
from inference.views import AUTO, VIEW_BUDGET, VIEWS, auto_views, oriented, restored, translate_views
from pixelforge.model.networks import GeneratorSpec, init_weights

TINY = GeneratorSpec(ngf=8, n_blocks=1)


def picture(h: int = 20, w: int = 28, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (h, w, 3)).astype(np.float32)


def test_every_view_is_turned_back_exactly_and_the_eight_differ():
    p = picture()
    seen = set()
    for k in range(8):
        v = oriented(p, k)
        assert v.shape == (p.shape if k < 4 else (p.shape[1], p.shape[0], 3))
        np.testing.assert_array_equal(restored(v, k), p)
        seen.add(v.tobytes())
    assert len(seen) == 8


def test_all_views_share_one_call_and_a_faithful_generator_is_unchanged():
    calls = []

    def identity(batch):
        calls.append(len(batch))
        return [b.copy() for b in batch]

    pictures = [picture(seed=1), picture(12, 12, seed=2)]
    for views in VIEWS:
        calls.clear()
        out = translate_views(identity, pictures, views)
        assert calls == [views * len(pictures)]
        for got, want in zip(out, pictures):
            np.testing.assert_allclose(got, want, atol=1e-4)
    with pytest.raises(ValueError, match=r"views must be auto \(0\) or one of 1, 2, 4, 8"):
        translate_views(identity, pictures, 3)


def test_auto_gives_each_picture_the_views_its_size_affords_within_one_pass_of_work():
    assert [auto_views(h, w) for h, w in ((512, 512), (362, 362), (256, 256), (180, 180), (64, 64), (2000, 2000))] == [
        1, 2, 4, 8, 8, 1]
    assert all(auto_views(h, w) * h * w <= VIEW_BUDGET for h, w in ((64, 64), (256, 256), (181, 181), (300, 200)))
    calls = []

    def identity(batch):
        calls.append(sorted(b.shape[:2] for b in batch))
        return [b.copy() for b in batch]

    big, small, mid = picture(520, 520, seed=3), picture(40, 40, seed=4), picture(300, 300, seed=5)
    out = translate_views(identity, [big, small, mid], AUTO)
    assert [o.shape for o in out] == [big.shape, small.shape, mid.shape]  # the order kept
    assert calls == [[(520, 520)], [(300, 300)] * 2, [(40, 40)] * 8]  # one call per number of views
    for got, want in zip(out, (big, small, mid)):
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_stray_cell_drawn_one_way_only_is_thinned_to_its_share():
    def stray(batch):  # a generator that always darkens the top-left pixel of what it is shown
        out = [b.copy() for b in batch]
        for o in out:
            o[0, 0] = 0.0
        return out

    white = np.full((6, 8, 3), 255.0, np.float32)
    for views in (2, 4, 8):
        out = translate_views(stray, [white], views)[0]
        # each view's top-left is one of the four corners (transposed views too): views/4 of them, or 1 of 2
        corners = [out[0, 0, 0], out[0, -1, 0], out[-1, 0, 0], out[-1, -1, 0]]
        darkened = 255.0 * (1 - (1 if views == 2 else views // 4) / views)
        assert sorted(corners)[: min(views, 4)] == pytest.approx([darkened] * min(views, 4))
        assert out[2:4, 2:6].min() == 255.0  # nothing it did not draw


def test_with_eight_views_the_model_draws_a_mirrored_picture_mirrored():
    torch.manual_seed(0)
    net = init_weights(TINY.build()).eval()
    p = picture(32, 32, seed=3)
    gaps = {}
    for views in (1, 8):
        px = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=0, engine="torch", views=views))
        gaps[views] = np.abs(px.translate(p[:, ::-1].copy())[:, ::-1] - px.translate(p)).max()
    assert gaps[1] > 5  # an untrained generator is far from symmetric
    assert gaps[8] < 0.05  # the average over the symmetries of the square is symmetric, up to float rounding
    px = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=2, engine="torch", views=8, tile=64, overlap=8))
    assert "8 orientations averaged" in px.describe()
    tall = picture(100, 72, seed=4)  # tiled, and its transposed views are 72x100
    out = px.translate(tall)
    assert out.shape == tall.shape and np.isfinite(out).all()
    with pytest.raises(ValueError, match="views must be auto"):
        ModelOptions(views=3)
    # auto is the default: this 32x32 pass costs 8 x 1,024 generator pixels, well within one 512² pass
    auto = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=0, engine="torch"))
    assert auto.model.views == AUTO and "--views auto" in auto.describe()
    np.testing.assert_allclose(auto.translate(p), Pixelator(net, TINY, model=ModelOptions(
        pixels_per_cell=0, engine="torch", views=8)).translate(p), atol=1e-3)


def test_pixelate_and_the_benchmark_take_it(tmp_path):
    Image.fromarray(picture(48, 48).astype(np.uint8)).save(tmp_path / "in.png")
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--shipped", "--views", "2", "-q"]) == 0
    assert Image.open(tmp_path / "out.png").size == (48, 48)
    with pytest.raises(SystemExit):
        cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "bad.png"), "--shipped", "--views", "3"])
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "auto.png"), "--shipped", "--views", "auto", "-q"]) == 0
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "default.png"), "--shipped", "-q"]) == 0
    assert (tmp_path / "auto.png").read_bytes() == (tmp_path / "default.png").read_bytes()
    sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
    from quality import methods  # benchmarks/ is a folder of scripts, not a package

    found, notes = methods(views=4)
    for name in ("shipped model", "untrained net"):
        assert found[name].__self__.model.views == 4
    assert "model rows and untrained net: --views 4" in notes

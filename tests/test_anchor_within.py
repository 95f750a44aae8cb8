"""--anchor-within: the colour anchoring's correction spreads only over what the drawing paints alike, so a figure's
colour fix no longer glows onto the white beside it, and the picture's edges come through only where the drawing has one."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference import postprocess
from inference.cli import main as cli_main
from inference.model_colors import anchor_colors
from inference.pixelator import ModelOptions, Pixelator
from pixelforge.color import srgb_to_oklab
from pixelforge.model import recorded
from pixelforge.model.networks import GeneratorSpec, init_weights

TINY = GeneratorSpec(ngf=8, n_blocks=1)
WHITE, RED, PINK = (255, 255, 255), (200, 40, 40), (235, 110, 130)


def figure(color: tuple[int, int, int]) -> np.ndarray:
    """A 24x24 white picture with an 8x8 square of ``color`` in the middle."""
    img = np.full((24, 24, 3), WHITE, np.float32)
    img[8:16, 8:16] = color
    return img


def distance(a: np.ndarray, b) -> np.ndarray:
    """OKLab distance x100 per pixel."""
    return np.linalg.norm(srgb_to_oklab(np.clip(a, 0, 255)) - srgb_to_oklab(np.asarray(b, np.float32)), axis=-1) * 100


def test_the_red_figures_fix_stays_on_the_figure():
    picture, drawn = figure(RED), figure(PINK)  # the generator drew the red figure pink, the white as white
    plain = anchor_colors(drawn, picture, sigma=2.0)
    within = anchor_colors(drawn, picture, sigma=2.0, within=10.0)
    beside = (slice(8, 16), slice(5, 7))  # the white one and two pixels left of the figure
    assert distance(plain[beside], WHITE).max() > 3  # a plain blur carries the fix onto the white: the pink glow
    assert distance(within[beside], WHITE).max() < 1  # within the drawing's areas it stays on the figure
    assert distance(within[10:14, 10:14], RED).max() < 1  # and the figure gets the picture's red back
    assert distance(within[10:14, 10:14], RED).max() < distance(plain[10:14, 10:14], RED).max()


def test_a_drawing_without_edges_gets_none_of_the_pictures():
    """The guide is the drawing: where it is flat the correction is a plain blur, whatever edges the picture has."""
    picture = np.full((24, 24, 3), 235, np.float32)
    picture[:, 11] = 20  # a 1 px dark line the generator did not draw
    drawn = np.full_like(picture, 200)
    near, far = (anchor_colors(drawn, picture, 2.0, within=w, grid=2) for w in (10.0, 100.0))
    np.testing.assert_allclose(near, far, atol=0.5)  # the range weights never came into it
    line, beside = srgb_to_oklab(near[:, 11])[:, 0], srgb_to_oklab(near[:, 6])[:, 0]
    assert (beside - line).max() < 0.25 * (srgb_to_oklab(picture[0, 6])[0] - srgb_to_oklab(picture[0, 11])[0])


def test_the_model_path_takes_it_as_an_option(monkeypatch, tmp_path):
    torch.manual_seed(0)
    net = init_weights(TINY.build()).eval()
    picture = figure(RED).repeat(2, 0).repeat(2, 1)  # 48x48 px: 12x12 cells of 4 px, the figure 4x4 cells
    drawn = figure(PINK)  # the generator's 24x24 output at 2 pixels per cell
    found = {}
    for within in (0.0, 10.0):
        px = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(anchor_within=within, settle_flats=0)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        found[within] = px.cells(Image.fromarray(picture.astype(np.uint8))).colors
        assert ("draws alike" in px.describe()) == bool(within)
    assert distance(found[0.0][4:8, 2:4], WHITE).max() > 4  # the glow, a cell wide
    assert distance(found[10.0][4:8, 2:4], WHITE).max() < 1
    with pytest.raises(ValueError, match="--anchor-within -1: must be between 0"):
        Pixelator.classic(anchor_within=-1)
    assert postprocess.MAX_ANCHOR_WITHIN == recorded.MAX_ANCHOR_WITHIN  # what publish records, pixelate accepts
    Image.fromarray(picture.astype(np.uint8)).save(tmp_path / "in.png")
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--shipped", "--anchor-within", "10", "-q"]) == 0
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "bad.png"), "--shipped", "--anchor-within", "-1"]) == 2


def test_the_quality_benchmark_gives_the_untrained_net_the_models_pipeline():
    sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
    from quality import methods  # benchmarks/ is a folder of scripts, not a package

    found, notes = methods(anchor_within=10.0, settle_flats=None)
    for name in ("shipped model", "untrained net"):
        assert found[name].__self__.options.anchor_within == 10.0
    assert found["shipped model, own colours"].__self__.options.anchor_colors == 0
    assert "model rows: --anchor-within 10" in notes and not any("settle" in n for n in notes)
    with pytest.raises(TypeError, match="anchor_witin"):
        methods(anchor_witin=10.0)

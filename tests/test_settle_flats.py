"""--settle-flats: the model's mottle where the picture is flat is averaged out; its strokes and the picture's edges stay."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli import main as cli_main
from inference.model_colors import settle_flats
from inference.pixelator import ModelOptions, Pixelator
from inference.postprocess import SETTLE_DE
from pixelforge.model.networks import GeneratorSpec, init_weights
from pixelforge.testing.art_metrics import flat_noise

TINY = GeneratorSpec(ngf=8, n_blocks=1)


def two_regions() -> np.ndarray:
    """A 16x16 cell picture: cream on the left, red on the right."""
    grid = np.full((16, 16, 3), (240, 230, 200), np.float32)
    grid[:, 8:] = (200, 40, 40)
    return grid


def mottled(picture: np.ndarray) -> np.ndarray:
    """The picture as a noisy generator draws it: a faint checker of two shades, and one dark stroke the picture lacks."""
    drawn = picture + np.where((np.indices(picture.shape[:2]).sum(0) % 2)[..., None] == 1, 5.0, -5.0)
    drawn[2:14, 3] = (25, 25, 35)  # an outline drawn in the middle of the cream area
    return drawn.astype(np.float32)


def test_the_mottle_goes_the_stroke_and_the_edge_stay():
    picture = two_regions()
    drawn = mottled(picture)
    settled = settle_flats(drawn, picture, SETTLE_DE)
    assert flat_noise(picture, drawn)[0] > 300 and flat_noise(picture, np.round(settled))[0] < flat_noise(picture, np.round(drawn))[0] // 5
    np.testing.assert_array_equal(settled[2:14, 3], drawn[2:14, 3])  # the stroke is far from its neighbours: kept whole
    assert np.abs(settled[:, 9:] - (200, 40, 40)).max() <= 3  # the red side averaged to its own colour ...
    assert np.abs(settled[:, :3] - (240, 230, 200)).max() <= 3  # ... and the cream side to its own: never mixed across the edge
    assert settle_flats(drawn, picture, 0) is drawn  # 0 = off


def test_the_model_path_settles_by_default_and_the_flag_turns_it_off(monkeypatch, tmp_path):
    torch.manual_seed(0)
    net = init_weights(TINY.build()).eval()
    picture = np.asarray(Image.fromarray(two_regions().astype(np.uint8)).resize((64, 64), Image.Resampling.NEAREST))
    drawn = mottled(two_regions()).repeat(2, 0).repeat(2, 1)  # at 2 generator pixels per 4 px cell
    found = {}
    for settle in (SETTLE_DE, 0.0):
        px = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(settle_flats=settle)
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        found[settle] = px.cells(Image.fromarray(picture)).colors
        assert ("mottle" in px.describe()) == bool(settle)
    assert flat_noise(two_regions(), found[SETTLE_DE])[0] * 5 < flat_noise(two_regions(), found[0.0])[0]
    with pytest.raises(ValueError, match="--settle-flats -1: must be between 0"):
        Pixelator.classic(settle_flats=-1)
    Image.fromarray(picture).save(tmp_path / "in.png")
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--shipped", "--settle-flats", "0", "-q"]) == 0
    assert cli_main([str(tmp_path / "in.png"), "-o", str(tmp_path / "bad.png"), "--shipped", "--settle-flats", "-1"]) == 2

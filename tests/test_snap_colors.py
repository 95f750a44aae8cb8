"""Palette snapping on the model path: colours a just-noticeable shade off the picture's take the picture's exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inference.cli import main
from inference.pixelator import ModelOptions, Pixelator
from inference.postprocess import SNAP_DE, Cells, PixelArtOptions, palette_for, snap_palette
from pixelforge.color import srgb_to_oklab
from pixelforge.imaging import composite_on_white
from pixelforge.model.networks import GeneratorSpec, init_weights

TINY = GeneratorSpec(ngf=8, n_blocks=2)
FIXTURES = "tests/fixtures/art/cartoon"


def colours(img: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in np.asarray(img.convert("RGB")).reshape(-1, 3)}


def ok_distance(a, b) -> float:
    return float(np.sqrt(((srgb_to_oklab(np.asarray([a], np.uint8)) - srgb_to_oklab(np.asarray([b], np.uint8))) ** 2).sum()) * 100)


def test_only_entries_within_the_threshold_move_and_each_reference_colour_is_taken_once():
    reference = np.array([[200, 40, 40], [40, 40, 200]], np.uint8)
    palette = np.array([[202, 41, 40], [205, 43, 40], [40, 41, 203], [20, 20, 20]], np.uint8)
    assert ok_distance(palette[0], reference[0]) < ok_distance(palette[1], reference[0]) < SNAP_DE
    out = snap_palette(palette, reference, SNAP_DE)
    assert out.tolist() == [[200, 40, 40], [205, 43, 40], [40, 40, 200], [20, 20, 20]]  # the closer red takes it
    assert snap_palette(palette, reference, 0).tolist() == palette.tolist()  # 0 = off
    wide = snap_palette(palette, reference, 100)
    assert len(wide) == len(palette)  # one to one: the second red and the black keep their own colours
    assert {tuple(c) for c in wide} >= {(200, 40, 40), (40, 40, 200)}


def test_palette_for_snaps_only_cells_that_carry_the_picture():
    picture = np.zeros((8, 8, 3), np.float32)
    picture[:, :4] = (200, 40, 40)
    picture[:, 4:] = (240, 240, 240)
    drawn = picture + np.array([2, 1, 0], np.float32)  # the model's shade of each, one step off
    drawn[:, 3] = (20, 20, 30)  # and an outline the picture lacks
    options = PixelArtOptions(palette="3")
    snapped = palette_for(Cells(drawn, None, (32, 32), 4, picture), options)
    assert {tuple(c) for c in snapped} == {(200, 40, 40), (240, 240, 240), (20, 20, 30)}
    # frames of a video: a list of cells, one palette
    assert {tuple(c) for c in palette_for([Cells(drawn, None, (32, 32), 4, picture)] * 2, options)} == {tuple(c) for c in snapped}
    plain = palette_for(Cells(drawn, None, (32, 32), 4), options)  # no picture (classical cells): nothing to snap to
    assert (202, 41, 40) in {tuple(c) for c in plain}
    off = palette_for(Cells(drawn, None, (32, 32), 4, picture), PixelArtOptions(palette="3", snap_colors=0))
    assert {tuple(c) for c in off} == {tuple(c) for c in plain}
    fixed = palette_for(Cells(drawn, None, (32, 32), 4, picture), PixelArtOptions(palette="gameboy"))
    assert fixed.tolist() == PixelArtOptions(palette="gameboy").palette_spec.colors.tolist()  # a named palette stays exact


def test_the_model_path_paints_flat_areas_in_the_pictures_colours_and_keeps_its_outline(monkeypatch):
    torch.manual_seed(0)
    net = init_weights(TINY.build()).eval()
    arr = np.full((64, 64, 3), 240, np.uint8)
    arr[16:48, 16:48] = (200, 40, 40)
    img = Image.fromarray(arr)
    drawn = np.asarray(img.reduce(2), np.float32) + np.array([3, 1, -2], np.float32)  # a slight tint everywhere ...
    drawn[8:24, 6:8] = (20, 20, 30)  # ... and a dark outline one cell wide down the square's left edge
    seen = {}
    for snap in (0.0, SNAP_DE):
        px = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(snap_colors=snap, palette="4")
        monkeypatch.setattr(px, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
        seen[snap] = colours(px.pixelate(img))
        assert ("snapped" in px.describe()) == bool(snap)
    assert (200, 40, 40) in seen[SNAP_DE] and (240, 240, 240) in seen[SNAP_DE]
    assert (200, 40, 40) not in seen[0.0] and (240, 240, 240) not in seen[0.0]
    assert any(max(c) < 80 for c in seen[SNAP_DE])  # the outline the picture lacks keeps its own dark colour
    picture = Pixelator(net, TINY, model=ModelOptions(pixels_per_cell=2)).with_options(palette="4", palette_from="picture")
    monkeypatch.setattr(picture, "translate_many", lambda pictures: [drawn.copy() for _ in pictures])
    assert "snapped" not in picture.describe()  # the picture's palette needs no snapping
    assert "snapped" not in picture.with_options(palette_from="output", palette="gameboy").describe()  # nor a named one


@pytest.mark.parametrize("name", ["keyRed", "coinGold", "gemBlue", "frog", "bee", "ladybug", "fishPink"])
def test_the_shipped_model_keeps_a_real_cartoons_fill_colours(name):
    """Kenney's sprites (CC0): the shipped model's flat fills come out in the sprite's own exact colours."""
    img = composite_on_white(Image.open(f"{FIXTURES}/{name}.png"))
    source = colours(img)
    model = Pixelator.shipped()
    on, off = colours(model.pixelate(img)), colours(model.with_options(snap_colors=0).pixelate(img))
    assert len(on & source) >= 2 and len(on & source) > len(off & source)
    # no colour merged away: the snapped palette keeps 16 distinct entries (a cell map may leave one unused: gemBlue's
    # 45 181 233 beside the snapped 47 178 233)
    assert len(np.unique(palette_for(model.palette_cells(img), model.options), axis=0)) == 16


def test_a_photo_has_no_fills_to_snap_to():
    """A photo's exact cell colours are noise: fewer than 1% of the cells share any one, so nothing moves."""
    rng = np.random.default_rng(0)
    picture = np.clip(rng.normal(128, 30, (64, 64, 3)), 0, 255).astype(np.float32)
    drawn = picture + 1.0
    options = PixelArtOptions(palette="8")
    assert palette_for(Cells(drawn, None, (256, 256), 4, picture), options).tolist() == \
        palette_for(Cells(drawn, None, (256, 256), 4), options).tolist()


def test_cli_flag(tmp_path, capsys):
    src = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(src)
    assert main([str(src), "-o", str(tmp_path / "out.png"), "--shipped", "--snap-colors", "-1"]) == 2
    assert "--snap-colors -1: must be between 0 (off) and 100" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--snap-colors" in capsys.readouterr().out

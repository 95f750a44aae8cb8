"""The pixel-art rules of `pixelate`: grid, palette, dithering, transparency (classical path)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inference.classic import pixelate_classic
from inference.dither import bayer_matrix, dither
from inference.grid import cell_means, cell_purity, expand_cells, grid_shape
from inference.palette import NAMED_PALETTES, PaletteError, fit_palette, parse_gpl, parse_hex, resolve_palette
from inference.postprocess import PixelArtOptions
from pixelforge.color import srgb_to_oklab
from pixelforge.imaging import count_colors
from pixelforge.testing.sprites import make_sprite, render


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like picture: smooth gradients, texture and noise (many thousands of colours)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack(
        [x / width * 255, y / height * 255, 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)], axis=-1
    ) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- grid


@pytest.mark.parametrize(("size", "cell"), [((64, 48), 4), ((37, 23), 4), ((50, 31), 5), ((9, 7), 8), ((20, 20), 1)])
def test_every_cell_is_one_colour_and_size_is_kept(size, cell):
    out = pixelate_classic(photo(*size), PixelArtOptions(cell_size=cell))
    assert out.size == size
    assert cell_purity(out, cell) == 1.0
    assert count_colors(out) <= 16
    # cells are aligned to the top-left corner: cell-wide stripes starting at x=0 are visible
    arr = np.asarray(out).astype(int)
    for x in range(1, size[0]):
        if x % cell:
            assert (arr[:, x] == arr[:, x - 1]).all()


def test_native_writes_one_pixel_per_cell():
    out = pixelate_classic(photo(37, 23), PixelArtOptions(cell_size=4, native=True))
    assert out.size == grid_shape(37, 23, 4) == (10, 6)


def test_cell_purity_detects_a_broken_cell():
    arr = np.zeros((8, 12, 3), np.uint8)
    assert cell_purity(arr, 4) == 1.0
    arr[5, 9] = 1
    assert cell_purity(arr, 4) == pytest.approx(1 - 1 / 6)
    arr[7, 11] = 1  # same cell: still one bad cell; a ragged grid counts its partial cells
    assert cell_purity(arr, 4) == pytest.approx(1 - 1 / 6)
    assert cell_purity(np.zeros((9, 9, 3), np.uint8), 4) == 1.0


def test_cell_means_is_an_area_average_and_ignores_rgb_under_transparency():
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, 3:] = 255  # the right cell of a 3x3 grid is white... with a ragged last column
    colors, opaque = cell_means(rgb, 3)
    assert colors.shape == (2, 2, 3) and opaque is None
    assert colors[0, 0, 0] == 0 and colors[0, 1, 0] == 255
    alpha = np.full((4, 6), 255, np.uint8)
    alpha[:, 3:] = 0
    garbage = rgb.copy()
    garbage[:, 3:] = (255, 0, 0)
    _, opaque = cell_means(garbage, 3, alpha)
    assert opaque.tolist() == [[True, False], [True, False]]
    assert expand_cells(colors, 3, (6, 4)).shape == (4, 6, 3)


def test_pixel_art_on_its_own_grid_comes_back_unchanged():
    """A sprite upscaled 4x with at most 16 colours is already pixel art: the classical path keeps it."""
    for seed in range(3):
        case = render(make_sprite(seed, (20, 14), n_colors=6), scale=4, background="solid")
        out = pixelate_classic(case.image, PixelArtOptions(cell_size=4))
        assert np.array_equal(np.asarray(out), np.asarray(case.image.convert("RGB"))), seed


# --------------------------------------------------------------------------- palette


def test_kmeans_palette_has_at_most_k_colours_and_follows_the_picture():
    img = photo(96, 64)
    for k in (2, 5, 16):
        out = pixelate_classic(img, PixelArtOptions(palette=str(k)))
        assert count_colors(out) <= k
    # a picture made of 3 flat colours gets exactly those 3 back
    arr = np.zeros((24, 24, 3), np.uint8)
    arr[:, :8] = (200, 30, 40)
    arr[:, 8:16] = (20, 90, 200)
    arr[:, 16:] = (250, 240, 200)
    pal = fit_palette(arr, 16)
    assert {tuple(c) for c in pal.tolist()} == {(200, 30, 40), (20, 90, 200), (250, 240, 200)}


def test_kmeans_works_in_a_perceptual_space():
    """Two dark blues that look alike share an entry; a small but visible yellow keeps its own."""
    arr = np.zeros((40, 40, 3), np.uint8)
    arr[:20] = (0, 0, 40)
    arr[20:36] = (0, 0, 48)
    arr[36:] = (250, 220, 30)
    pal = fit_palette(arr, 2)
    lab = srgb_to_oklab(pal)
    assert len(pal) == 2
    assert lab[:, 0].max() > 0.8  # the yellow survived


@pytest.mark.parametrize("name", ["ega", "cga", "pico8", "gameboy", "nes", "PICO-8", "gb"])
def test_named_palettes_are_respected(name):
    spec = resolve_palette(name)
    out = pixelate_classic(photo(64, 48), PixelArtOptions(palette=name))
    used = {tuple(c) for c in np.asarray(out).reshape(-1, 3).tolist()}
    assert used <= {tuple(c) for c in spec.colors.tolist()}
    assert len(used) >= 2


def test_named_palette_sizes():
    assert len(NAMED_PALETTES["ega"]) == 16
    assert len(NAMED_PALETTES["pico8"]) == 16
    assert len(NAMED_PALETTES["gameboy"]) == 4
    assert 50 <= len(NAMED_PALETTES["nes"]) <= 56


def test_palette_files(tmp_path):
    hexfile = tmp_path / "lospec.hex"
    hexfile.write_text("ff0000\n00ff00\n\n#0000ff\nffffff\n")
    gpl = tmp_path / "lospec.gpl"
    gpl.write_text("GIMP Palette\nName: test\nColumns: 4\n#\n255   0   0\tred\n  0 255   0\tgreen\n  0   0 255\tblue\n")
    assert resolve_palette(str(hexfile)).colors.tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]
    assert resolve_palette(str(gpl)).colors.tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    out = pixelate_classic(photo(40, 40), PixelArtOptions(palette=str(gpl)))
    assert {tuple(c) for c in np.asarray(out).reshape(-1, 3).tolist()} <= {(255, 0, 0), (0, 255, 0), (0, 0, 255)}


@pytest.mark.parametrize(
    ("text", "parser", "message"),
    [
        ("ff0000\nnot-a-colour\n", parse_hex, "line 2"),
        ("", parse_hex, "no colours"),
        ("JASC-PAL\n", parse_gpl, "not a GIMP palette"),
        ("GIMP Palette\n300 0 0 too-bright\n", parse_gpl, "0-255"),
    ],
)
def test_bad_palette_files_say_why(text, parser, message):
    with pytest.raises(PaletteError, match=message):
        parser(text)


@pytest.mark.parametrize("arg", ["1", "999", "rainbow", "/nonexistent/pal.hex"])
def test_bad_palette_arguments(arg):
    with pytest.raises(PaletteError):
        PixelArtOptions(palette=arg)


# --------------------------------------------------------------------------- dithering


def test_bayer_matrix_is_a_permutation_of_thresholds():
    m = bayer_matrix(8)
    assert m.shape == (8, 8)
    assert sorted(((m + 0.5) * 64 - 0.5).round().astype(int).ravel().tolist()) == list(range(64))


@pytest.mark.parametrize("method", ["ordered", "floyd"])
def test_dithering_keeps_the_average_tone(method):
    bw = np.array([[0, 0, 0], [255, 255, 255]], np.uint8)
    grey = np.full((16, 16, 3), 128.0)
    flat = dither(grey, bw, "none")
    assert len(np.unique(flat.reshape(-1, 3), axis=0)) == 1  # no dithering: one flat colour
    out = dither(grey, bw, method)
    white = (out[..., 0] == 255).mean()
    assert 0.35 <= white <= 0.65
    # a smooth ramp keeps its ramp: the share of white grows from left to right
    ramp = np.repeat(np.linspace(0, 255, 32)[None, :, None], 16, axis=0).repeat(3, axis=2)
    share = (dither(ramp, bw, method)[..., 0] == 255).mean(axis=0)
    assert share[:8].mean() < 0.3 < 0.7 < share[-8:].mean()


def test_dithered_output_keeps_pure_cells_and_the_palette():
    for method in ("ordered", "floyd"):
        out = pixelate_classic(photo(48, 40), PixelArtOptions(palette="pico8", dither=method))
        assert cell_purity(out, 4) == 1.0
        assert {tuple(c) for c in np.asarray(out).reshape(-1, 3).tolist()} <= {
            tuple(c) for c in NAMED_PALETTES["pico8"].tolist()
        }


def test_bad_dither_method():
    with pytest.raises(ValueError, match="dither"):
        PixelArtOptions(dither="atkinson")


# --------------------------------------------------------------------------- transparency


def test_rgba_input_keeps_a_binary_alpha(cartoon_files):
    img = Image.open(cartoon_files[0])
    img.load()
    assert img.mode == "RGBA"
    out = pixelate_classic(img)
    assert out.mode == "RGBA" and out.size == img.size
    alpha = np.asarray(out)[..., 3]
    assert set(np.unique(alpha).tolist()) <= {0, 255}
    assert cell_purity(out, 4) == 1.0
    # where the input is fully opaque (or fully transparent) over a whole cell, so is the output
    src_alpha = np.asarray(img)[..., 3].astype(int)
    h, w = src_alpha.shape
    cells = src_alpha[: h // 4 * 4, : w // 4 * 4].reshape(h // 4, 4, w // 4, 4)
    full = cells.min(axis=(1, 3)) == 255
    empty = cells.max(axis=(1, 3)) == 0
    assert (alpha[::4, ::4][: h // 4, : w // 4][full] == 255).all()
    assert (alpha[::4, ::4][: h // 4, : w // 4][empty] == 0).all()
    # transparent pixels are white underneath, so dropping alpha later still composites on white
    assert (np.asarray(out)[alpha == 0][:, :3] == 255).all()


def test_transparent_garbage_does_not_leak_into_colours():
    case = render(make_sprite(3, (16, 16), n_colors=4), scale=4, background="transparent")
    out = pixelate_classic(case.image, PixelArtOptions(cell_size=4))
    arr = np.asarray(out)
    visible = {tuple(c) for c in arr[arr[..., 3] == 255][:, :3].tolist()}
    truth = {tuple(c) for c in case.native_truth[case.native_truth.sum(-1) < 765].reshape(-1, 3).tolist()}
    assert visible <= truth | {(255, 255, 255)}


def test_unusual_modes_are_read_correctly():
    """16-bit greyscale and palette images go through the shared decoder's conversions."""
    ramp = (np.linspace(0, 65535, 32)[None, :].repeat(8, 0)).astype(np.uint16)
    img16 = Image.fromarray(ramp)
    assert img16.mode.startswith("I")
    out = pixelate_classic(img16, PixelArtOptions(palette="16"))
    grey = np.asarray(out)[0, :, 0].astype(int)
    assert grey[0] < 40 and grey[-1] > 215 and (np.diff(grey) >= 0).all()
    pal = photo(40, 32).quantize(8)
    assert pal.mode == "P" and pixelate_classic(pal).mode == "RGB"

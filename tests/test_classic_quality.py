"""The classical path looks like pixel art: thin lines and key colours survive, the rules still hold.

Each property test runs the same input through main's behaviour (``outlines=False,
key_colors=False``: box average, k-means by pixel count) and asserts that it fails there, so the
test measures the improvement rather than restating what any output would do.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from inference.classic import hold_lines, line_cells, pixelate_classic
from inference.grid import cell_means, cell_purity
from inference.palette import NAMED_PALETTES, fit_palette
from inference.postprocess import PixelArtOptions
from pixelforge.color import srgb_to_oklab
from pixelforge.imaging import count_colors
from pixelforge.testing.art_cases import INK, accent_case, figure_case, outline_case, salient_case
from pixelforge.testing.art_metrics import de2000

OLD = {"outlines": False, "key_colors": False}


def lightness(rgb: np.ndarray) -> np.ndarray:
    return srgb_to_oklab(np.asarray(rgb, np.float64))[..., 0]


def line_kept_share(case_img: Image.Image, lines: np.ndarray, out: Image.Image, cell: int = 4) -> float:
    """Share of cells holding >= 2 line pixels whose output cell (or a neighbour) is darker than mid-way."""
    out_l = lightness(cell_means(np.asarray(out.convert("RGB")), cell)[0])
    count = cell_means(lines[..., None].astype(np.float64), cell)[0][..., 0] * cell * cell
    p = np.pad(out_l, 1, mode="edge")
    rows, cols = out_l.shape
    darkest = np.min([p[dy : dy + rows, dx : dx + cols] for dy in range(3) for dx in range(3)], axis=0)
    bg = lightness(np.asarray(case_img)).max()
    half = (lightness(np.array(INK)) + bg) / 2
    on = count >= 2
    return float((darkest[on] <= half).mean())


@pytest.mark.parametrize("width", [1, 2])
def test_a_thin_ink_line_becomes_a_one_cell_outline(width):
    img = np.full((32, 32, 3), 235, np.uint8)
    img[13 : 13 + width, 2:30] = INK  # inside cell row 3
    img[2:30, 22 : 22 + width] = INK  # inside cell column 5
    out = np.asarray(pixelate_classic(Image.fromarray(img), PixelArtOptions(native=True)))
    dark = lightness(out) < 0.5
    expected = np.zeros((8, 8), bool)
    expected[3, :] = expected[:, 5] = True  # the ends cover 2 px of the edge cells: enough
    assert (dark == expected).all()  # the whole line, one cell thick, nothing else
    old = np.asarray(pixelate_classic(Image.fromarray(img), PixelArtOptions(native=True, **OLD)))
    assert (lightness(old) < 0.5).sum() <= 1  # main averages both lines to pale grey (but where they cross)


def test_a_line_across_two_cells_is_drawn_in_one_of_them():
    img = np.full((32, 32, 3), 235, np.uint8)
    img[15:17, :] = INK  # rows 15 and 16: one pixel in each of two cell rows
    out = np.asarray(pixelate_classic(Image.fromarray(img), PixelArtOptions(native=True)))
    dark_rows = np.flatnonzero((lightness(out) < 0.5).all(axis=1))
    assert dark_rows.tolist() == [3]


def test_large_dark_regions_do_not_grow():
    img = np.full((40, 40, 3), 235, np.uint8)
    img[:, :18] = INK  # edge inside cell column 4 (x = 16..19)
    new = np.asarray(pixelate_classic(Image.fromarray(img), PixelArtOptions(native=True)))
    old = np.asarray(pixelate_classic(Image.fromarray(img), PixelArtOptions(native=True, **OLD)))
    assert np.array_equal(new, old)
    chosen, _ = line_cells(Image.fromarray(img), 4)
    assert not chosen.any()


def test_texture_is_not_turned_into_speckle():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    chosen, _ = line_cells(Image.fromarray(noise), 4)
    assert chosen.mean() < 0.05


@pytest.mark.parametrize("make", [outline_case, figure_case])
def test_thin_lines_of_generated_cases_survive(make):
    case = make()
    new = pixelate_classic(case.image)
    old = pixelate_classic(case.image, PixelArtOptions(**OLD))
    assert line_kept_share(case.image, case.lines, new) >= 0.9
    assert line_kept_share(case.image, case.lines, old) < 0.7


def key_errors(case, out: Image.Image) -> dict[str, float]:
    """OKLab distance from each region's colour to the nearest output colour inside the region."""
    arr = np.asarray(out)
    return {
        name: float(np.sqrt(((srgb_to_oklab(arr[mask]) - srgb_to_oklab(np.array(colour))) ** 2).sum(-1)).min())
        for name, mask, colour in case.regions
    }


def test_small_key_colours_keep_their_own_palette_entry():
    case = accent_case()
    new, old = key_errors(case, pixelate_classic(case.image)), key_errors(case, pixelate_classic(case.image, PixelArtOptions(**OLD)))
    assert max(new.values()) <= 0.05, new
    assert max(old.values()) > 0.08, old  # main merges the yellow disc into a beige


def test_key_colours_on_flat_colours_and_the_colour_count():
    """A tiny saturated patch in a big smooth gradient gets an entry; the palette never exceeds k."""
    y, x = np.mgrid[0:96, 0:96]
    grad = np.stack([60 + x * 1.5, 90 + y, 200 - x * 0.5], -1).astype(np.uint8)
    grad[40:44, 40:44] = (250, 220, 30)  # 16 px of yellow in 9216
    for k in (4, 8, 16):
        pal = fit_palette(grad, k)
        assert len(pal) <= k
        dist = np.sqrt(((srgb_to_oklab(pal) - srgb_to_oklab(np.array([250, 220, 30]))) ** 2).sum(-1)).min()
        old = fit_palette(grad, k, key_colors=False)
        old_dist = np.sqrt(((srgb_to_oklab(old) - srgb_to_oklab(np.array([250, 220, 30]))) ** 2).sum(-1)).min()
        assert dist <= 0.03 < old_dist, (k, dist, old_dist)


def grid_key_errors(case, out: Image.Image, cell: int = 4) -> list[float]:
    """As the quality benchmark: per region, the CIEDE2000 from its colour to the nearest output cell colour inside it."""
    grid = cell_means(np.asarray(out.convert("RGB")), cell)[0]
    errors = []
    for _, mask, colour in case.regions:
        share = cell_means(mask[..., None].astype(np.float64), cell)[0][..., 0]
        cells = share >= 0.5 if (share >= 0.5).any() else share > 0
        de = de2000(np.array(colour, np.float64)[None], grid[cells])
        errors.append(float(de.min()))
    return errors


def test_small_salient_regions_in_busy_scenes_keep_their_colour():
    """Random busy scenes with six small key regions (2-6 cells, flat or shaded): every one keeps its colour.

    Main's k-means by pixel count loses at least one region in most of these scenes; the fitted
    palette must keep all of them within CIEDE2000 10 without giving up fidelity elsewhere.
    """
    from skimage.metrics import structural_similarity

    lost_by_main, ssim = 0, []
    for seed in range(10):
        case = salient_case(seed)
        new = pixelate_classic(case.image)
        assert max(grid_key_errors(case, new)) <= 10, seed
        old = pixelate_classic(case.image, PixelArtOptions(**OLD))
        lost_by_main += max(grid_key_errors(case, old)) > 10
        ref, got = (cell_means(np.asarray(im), 4)[0] for im in (case.image, new))
        ssim.append(structural_similarity(ref, got, channel_axis=2, data_range=255, win_size=7))
        assert count_colors(new) <= 16 and cell_purity(new, 4) == 1.0
    assert lost_by_main >= 5
    assert np.mean(ssim) >= 0.85, ssim


def test_key_colours_are_found_without_being_told_where():
    """The regions' masks never reach the palette: the same scene with the regions moved keeps them too."""
    case = salient_case(5)
    arr = np.asarray(case.image)
    moved = np.roll(arr, (41, -58), axis=(0, 1))  # everything elsewhere, at another grid phase
    rolled = [(n, np.roll(m, (41, -58), axis=(0, 1)), c) for n, m, c in case.regions]
    out = pixelate_classic(Image.fromarray(moved))
    assert max(grid_key_errors(type(case)(case.name, Image.fromarray(moved), case.lines, rolled), out)) <= 10


@pytest.mark.parametrize("make", [outline_case, accent_case, figure_case])
@pytest.mark.parametrize("palette", ["16", "5", "pico8", "gameboy"])
@pytest.mark.parametrize("dither", ["none", "ordered"])
def test_the_rules_still_hold(make, palette, dither):
    case = make()
    img = case.image.crop((0, 0, 254, 250))  # ragged grid edge
    out = pixelate_classic(img, PixelArtOptions(palette=palette, dither=dither))
    assert out.size == img.size and cell_purity(out, 4) == 1.0
    used = {tuple(c) for c in np.asarray(out).reshape(-1, 3).tolist()}
    if palette.isdigit():
        assert count_colors(out) <= int(palette)
    else:
        assert used <= {tuple(c) for c in NAMED_PALETTES[palette].tolist()}


def test_transparent_sprites_keep_their_outline_only_where_opaque():
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (200, 80, 60, 255)
    rgba[8:24, 8] = (*INK, 255)  # 1 px ink outline on the left edge of the sprite
    out = np.asarray(pixelate_classic(Image.fromarray(rgba, "RGBA"), PixelArtOptions(native=True)))
    assert set(np.unique(out[..., 3]).tolist()) <= {0, 255}
    assert (out[out[..., 3] == 0][:, :3] == 255).all()
    assert (lightness(out[2:6, 2, :3]) < 0.5).all()


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(3, 40), width=st.integers(3, 40), cell=st.integers(1, 8), seed=st.integers(0, 2**16),
    lines=st.lists(st.tuples(st.booleans(), st.integers(0, 39)), max_size=4),
)
def test_held_lines_change_only_line_cells_and_their_neighbours(height, width, cell, seed, lines):
    """Any picture, any cell size: a held cell is a line cell (in the line's colour) or beside one (in the picture's
    average), every other cell is the drawing's, and the grid keeps its shape."""
    rng = np.random.default_rng(seed)
    arr = np.full((height, width, 3), rng.integers(150, 256), np.uint8)
    for across, at in lines:  # 1 px dark lines, where they fit
        if across and at < height:
            arr[at] = rng.integers(0, 80, 3)
        elif not across and at < width:
            arr[:, at] = rng.integers(0, 80, 3)
    rgb = Image.fromarray(arr)
    rows, cols = -(-height // cell), -(-width // cell)
    drawn = rng.uniform(0, 255, (rows, cols, 3)).astype(np.float32)
    opaque = rng.random((rows, cols)) > 0.2
    held = hold_lines(drawn, rgb, cell, opaque)
    assert held.shape == drawn.shape
    if cell < 2:
        assert np.array_equal(held, drawn)
        return
    chosen, colour = line_cells(rgb, cell)
    chosen &= opaque
    beside = ndimage.binary_dilation(chosen, np.ones((3, 3), bool)) & ~chosen
    np.testing.assert_allclose(held[chosen], colour[chosen], atol=1e-3)
    np.testing.assert_allclose(held[beside], cell_means(arr.astype(np.float32), cell)[0][beside], atol=1)  # Pillow's 8-bit box average
    untouched = ~(chosen | beside)
    assert np.array_equal(held[untouched], drawn[untouched])

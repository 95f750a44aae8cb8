"""The quality benchmark's line and small-feature measures (pixelforge.testing.art_metrics)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixelforge.testing.art_metrics import (
    detect_lines,
    feature_contrast,
    features_kept,
    line_survival,
    small_features,
)

CELL = 4
SKIN, EYE = (232, 178, 140), (60, 30, 20)


def face() -> np.ndarray:
    """A 32x32 skin square with one 2x2 eye inside cell (3, 3) and a 12x12 dark patch (a region, not a feature)."""
    a = np.full((32, 32, 3), SKIN, np.uint8)
    a[13:15, 13:15] = EYE
    a[0:12, 20:32] = EYE
    return a


def grid(a: np.ndarray) -> np.ndarray:
    n = a.shape[0] // CELL
    return a.reshape(n, CELL, n, CELL, 3).mean(axis=(1, 3))


def test_feature_contrast_tells_a_bold_eye_from_a_pale_one_and_a_lost_one():
    a = face()
    img = Image.fromarray(a)
    averaged = grid(a.astype(np.float64))
    bold = averaged.copy()
    bold[3, 3] = EYE
    painted_over = averaged.copy()
    painted_over[3, 3] = SKIN
    assert len(feature_contrast(img, bold, CELL)) == 1  # the eye; the large patch is a region
    assert feature_contrast(img, bold, CELL)[0] == pytest.approx(1.0)
    pale = feature_contrast(img, averaged, CELL)[0]  # a quarter of the cell is eye
    assert 0.15 < pale < 0.45
    assert feature_contrast(img, painted_over, CELL)[0] == pytest.approx(0.0, abs=1e-6)


def test_features_found_once_score_every_output_alike():
    """The benchmark finds a picture's features once and scores each method's output with them."""
    a = face()
    img = Image.fromarray(a)
    found = small_features(img, CELL)
    assert len(found.features) == 1 and (found.rows, found.cols) == (8, 8)
    averaged = grid(a.astype(np.float64))
    bold = averaged.copy()
    bold[3, 3] = EYE
    for out in (averaged, bold):
        assert features_kept(found, out) == feature_contrast(img, out, CELL)
    assert features_kept(found, bold[:3, :3]) == []  # an output grid that stops before the eye has nothing to score


def test_feature_contrast_is_empty_without_small_dark_features():
    a = np.full((16, 16, 3), SKIN, np.uint8)
    assert feature_contrast(Image.fromarray(a), grid(a.astype(np.float64)), CELL) == []


def test_a_one_pixel_line_is_found_and_survives_only_where_the_output_shows_it():
    a = np.full((32, 32, 3), 240, np.uint8)
    a[16, 2:30] = 20  # a 1 px dark line across eight cells
    img = Image.fromarray(a)
    lines = detect_lines(img)
    assert lines[16, 2:30].all() and lines.sum() == 28
    kept = grid(a.astype(np.float64))
    kept[4, :] = 20  # drawn one cell wide
    lost = np.full((8, 8, 3), 240.0)
    visible, total = line_survival(img, lines, kept, CELL)
    assert total > 0 and visible == total
    assert line_survival(img, lines, lost, CELL) == (0, total)


def test_blended_edges_count_the_in_between_colours_an_average_puts_on_an_edge():
    from pixelforge.testing.art_metrics import blended_edges

    a = np.full((8, 8, 3), 255, np.uint8)
    a[:, 4:] = (20, 40, 160)  # a hard vertical edge: no cell in between
    blends, edges = blended_edges(a)
    assert blends == 0 and edges == 16  # the two columns beside the edge, 8 rows each
    mixed = a.astype(np.float64)
    mixed[:, 4] = (mixed[:, 3] + mixed[:, 5]) / 2  # what a cell straddling the edge averages to
    blends, edges = blended_edges(mixed)
    assert blends == 8 and edges >= 8
    # an off-line colour between two others is a new colour, not a blend (an outline drawn on an edge)
    outlined = a.copy()
    outlined[:, 4] = (0, 0, 0)
    assert blended_edges(outlined)[0] == 0


def test_lone_cells_count_specks_not_small_shapes():
    from pixelforge.testing.art_metrics import lone_cells

    a = np.full((8, 8, 3), 200, np.uint8)
    assert lone_cells(a) == (0, 64)
    a[2, 2] = (30, 30, 30)  # a one-cell speck
    a[5:7, 5:7] = (30, 30, 30)  # a 2x2 shape: each cell has a same-coloured neighbour
    assert lone_cells(a) == (1, 64)
    noise = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    assert lone_cells(noise)[0] > 200


def test_foreign_cells_are_colours_no_nearby_pixel_has():
    from pixelforge.testing.art_metrics import cell_pixels_lab, foreign_cells

    blue, red, mauve = (40, 80, 220), (220, 40, 50), (130, 60, 135)
    pic = np.zeros((32, 32, 3), np.uint8)
    pic[:, :14], pic[:, 14:] = blue, red  # the edge falls inside the fourth column of 4 px cells
    img = Image.fromarray(pic)
    grid = np.zeros((8, 8, 3), np.uint8)
    grid[:, :4], grid[:, 4:] = blue, red
    assert foreign_cells(img, grid, 4) == (0, 64)  # each cell one of the picture's colours there
    grid[2, 3] = mauve  # the blend of the two sides: no pixel of the picture has it
    grid[6, 0] = red  # red, but three cells from any red pixel
    assert foreign_cells(img, grid, 4) == (2, 64)
    soft = pic.copy()
    soft[:, 14] = mauve  # a straight anti-aliased edge: a column of the blend, so the blend is the picture's
    assert foreign_cells(Image.fromarray(soft), grid, 4) == (1, 64)
    clear = Image.fromarray(np.dstack([pic, np.zeros((32, 32), np.uint8)]), "RGBA")  # all transparent: white
    assert foreign_cells(clear, np.full((8, 8, 3), 255, np.uint8), 4) == (0, 64)
    # the picture's cell Lab, found once (quality.py's Case.cell_lab), counts the same; a grid it does not fit is refused
    lab = cell_pixels_lab(img, 8, 8, 4)
    assert foreign_cells(lab, grid, 4) == foreign_cells(img, grid, 4) == (2, 64)
    with pytest.raises(ValueError, match="does not fit"):
        foreign_cells(lab, grid[:6], 4)


def test_flat_noise_counts_a_flat_area_split_in_two_colours():
    from pixelforge.testing.art_metrics import flat_noise

    flat = np.full((6, 8, 3), 120.0)
    assert flat_noise(flat, flat) == (0, 6 * 7 + 5 * 8)  # every side-by-side pair is flat, none broken
    mottle = flat.copy()
    mottle[::2, ::2] += 6  # a faint checker of two shades: no lone cells, every pair beside one broken
    broken, pairs = flat_noise(flat, mottle)
    assert pairs == 82 and broken == 3 * 4 * 4 - 3 - 4  # each brighter cell splits its in-grid right and down pairs, and its left and up
    ramp = np.repeat(np.linspace(0, 255, 8)[None, :, None], 6, 0).repeat(3, 2)  # a steep ramp: no pair across it is flat
    assert flat_noise(ramp, mottle) == (int((np.abs(np.diff(mottle[..., 0], axis=0)) > 0).sum()), 5 * 8)

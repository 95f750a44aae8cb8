"""content_lines' target (training.outlines) agrees with the classical path's outline cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inference.classic import with_lines
from inference.postprocess import box_average
from pixelforge.model.recorded import FEATURE_INPUTS
from training.outlines import outline_target


def drawing(seed: int = 0) -> np.ndarray:
    """A 48x48 cartoon-like picture: flat areas, a 1 px outline, 1 px eyes, a light line on a dark band."""
    rng = np.random.default_rng(seed)
    a = np.full((48, 48, 3), 250, np.uint8)
    a[8:40, 10:38] = (232, 178, 140)  # a face
    a[8, 10:38] = a[39, 10:38] = 30  # its outline, top and bottom
    a[8:40, 10] = a[8:40, 37] = 30
    a[18:20, 17] = a[18:20, 29] = (60, 30, 20)  # eyes, 1 px wide
    a[30, 16:31] = (150, 40, 40)  # a mouth
    a[42:47, 4:44] = (40, 40, 90)  # a dark band with a light line through it
    a[44, 6:42] = (240, 240, 200)
    a[2:6, 40:46] = rng.integers(0, 255, (4, 6, 3))  # a patch of noise
    return a


def as_tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_outline_target_matches_the_classical_outline_cells():
    for seed in range(3):
        a = drawing(seed)
        img = Image.fromarray(a)
        want = with_lines(box_average(img, 2), img, 2)  # (24, 24, 3) 0..255
        got = (outline_target(as_tensor(a), 2)[0].permute(1, 2, 0).numpy() + 1) * 127.5
        plain = box_average(img, 2)
        assert (np.abs(want - plain).max(-1) > 1).sum() >= 30  # the outline, eyes and the light line changed cells
        assert np.abs(got - want).max() < 1.0


def test_outline_target_darkens_an_eye_a_plain_average_pales():
    a = drawing()
    t = as_tensor(a)
    target = outline_target(t, 2)
    average = torch.nn.functional.avg_pool2d(t, 2)
    eye = (9, 8)  # the block holding the left eye's pixels (rows 18-19, column 17 at full size)
    assert target[0, :, eye[0], eye[1]].mean() < average[0, :, eye[0], eye[1]].mean() - 0.3
    assert torch.equal(outline_target(t, 1), torch.nn.functional.avg_pool2d(t, 1))


def test_content_loss_with_lines_is_zero_for_an_output_drawn_as_the_outline_target():
    from training.cyclegan import content_loss

    t = as_tensor(drawing())
    drawn = torch.nn.functional.interpolate(outline_target(t, 2), scale_factor=2, mode="nearest")
    assert content_loss(drawn, t, 2, lines=True) < 1e-6
    assert content_loss(drawn, t, 2) > 1e-3  # the plain target wants the pale average back
    assert content_loss(drawn, t, 2, salience=24.0, lines=True) < 1e-6


def test_a_lower_contrast_catches_a_paler_feature():
    """content_lines_contrast: an eye 25 levels darker than the face is texture-free but under the classical 40."""
    a = np.full((32, 32, 3), 200, np.uint8)
    a[15, 15] = 170  # a faint 1 px dot: about 25 lightness levels of 255 below the face
    t = as_tensor(a)
    average = torch.nn.functional.avg_pool2d(t, 2)
    assert torch.equal(outline_target(t, 2), average)  # the classical threshold leaves it averaged
    low = outline_target(t, 2, contrast=20)
    assert low[0, 0, 7, 7] < average[0, 0, 7, 7] - 0.05  # its block now takes the dot's colour
    assert torch.equal(low[..., :6, :], average[..., :6, :])  # and nothing else moves


def test_block_medoids_ask_an_edge_block_for_one_side_not_the_blend():
    from training.cyclegan import content_loss
    from training.outlines import block_medoids

    a = np.full((8, 8, 3), 250, np.uint8)
    a[:, 3:] = (30, 60, 160)  # a vertical edge through the second 2x2 column of blocks (x 2..3)
    t = as_tensor(a)
    med = block_medoids(t, 2)
    mean = torch.nn.functional.avg_pool2d(t, 2)
    edge = med[0, :, :, 1]  # the blocks straddling the edge
    assert not torch.allclose(mean[0, :, :, 1], edge)  # the mean is the blend ...
    assert all(any(torch.equal(edge[:, r], side) for side in (t[0, :, 0, 0], t[0, :, 0, 7])) for r in range(4))  # ... the medoid a side
    rng = np.random.default_rng(1)
    x = as_tensor(rng.integers(0, 256, (12, 16, 3)).astype(np.uint8))
    got = block_medoids(x, 2)
    pixels = x.unfold(2, 2, 2).unfold(3, 2, 2).reshape(1, 3, 6, 8, 4)
    assert ((pixels - got[..., None]).abs().sum(1) < 1e-6).any(-1).all()  # every medoid is one of its block's pixels
    # the loss: zero for an output drawn in the medoids, not for one drawn in the means (and the other way round)
    drawn = torch.nn.functional.interpolate(med, scale_factor=2, mode="nearest")
    assert content_loss(drawn, t, 2, reduce="medoid") < 1e-6
    assert content_loss(drawn, t, 2) > 1e-3
    assert content_loss(drawn, t, 2, lines=True, reduce="medoid") < 1e-6  # no thin feature here: the medoids stay


def eyes_picture() -> np.ndarray:
    """96x96: a face with 3 px eyes, which halving (2 px blocks) pales and a 4 px cell keeps."""
    a = np.full((96, 96, 3), 250, np.uint8)
    a[16:80, 16:80] = (232, 178, 140)
    a[33:36, 29:32] = a[33:36, 61:64] = (40, 25, 20)  # eyes, 3x3 px, straddling 2 px blocks
    return a


def test_feature_cells_input_draws_the_picture_eyes_as_whole_blocks_and_agrees_with_pixelate():
    from inference.classic import reduce_keeping_lines
    from inference.classic import with_feature_cells as cells_np
    from training.outlines import with_feature_cells

    a = eyes_picture()
    t = as_tensor(a)
    halved = outline_target(t, 2)  # the "lines" input: 48x48
    drawn = with_feature_cells(halved, t, 4)
    changed = (drawn - halved).abs().amax(1)[0] > 0.05
    assert 4 <= int(changed.sum()) <= 16  # the eyes' cells, nothing else
    ys, xs = np.nonzero(changed.numpy())
    eye = drawn[0, :, ys[0], xs[0]]
    assert eye.max() < -0.6  # dark: the eye's own colour, not the pale blend halving made
    assert halved[0, :, ys, xs].mean() > eye.mean() + 0.2
    for y, x in zip(ys, xs):  # whole 2x2 blocks of one colour on the 4 px cell grid
        block = drawn[0, :, y // 2 * 2 : y // 2 * 2 + 2, x // 2 * 2 : x // 2 * 2 + 2].reshape(3, 4)
        assert bool((block == block[:, :1]).all())
    # pixelate builds the same input for a model that asks for feature cells, all or dark ones only
    for a in (eyes_picture(), drawing(0), drawing(1)):
        img, t = Image.fromarray(a), as_tensor(a)
        for kind in FEATURE_INPUTS:
            want = cells_np(reduce_keeping_lines(img, 2), img, 4, kind=kind)
            got = with_feature_cells(outline_target(t, 2), t, 4, kind=kind)
            assert np.abs((got[0].permute(1, 2, 0).numpy() + 1) * 127.5 - want).max() < 1.0


def test_dark_feature_cells_leave_out_the_highlights():
    """dark-cells: on the generated cartoon head, "cells" also draws in the bright rims of the eye whites (the
    classical method's highlight cells); "dark-cells" draws in only cells darker than the halved picture there."""
    from inference.classic import reduce_keeping_lines, with_feature_cells
    from pixelforge.imaging import rgb_on_white
    from pixelforge.testing.art_cases import figure_case

    rgb = rgb_on_white(figure_case(256).image)
    halved = reduce_keeping_lines(rgb, 2)
    change = {}
    for dark_only in (False, True):
        drawn = with_feature_cells(halved, rgb, 4, kind="dark-cells" if dark_only else "cells")
        change[dark_only] = (drawn - halved).mean(-1)  # + brighter, - darker
    assert (change[False] > 20).sum() >= 20  # eye-white rims drawn in as white blocks (41 pixels)
    assert (change[True] > 1).sum() == 0
    assert (change[True] < -20).sum() >= 300  # outlines, brows, irises: still drawn in (449 pixels)


def test_preprocess_cells_input_keeps_the_target_and_changes_only_feature_cells():
    from training.data import Preprocess, to_tensor

    img = Image.fromarray(eyes_picture())
    out = {}
    for mode in ("lines", "cells", "dark-cells"):
        pre = Preprocess(48, 48, False, mode, 1, 0, 0, 2)
        inp, target = pre.a_pair(img, np.random.default_rng(0))
        out[mode] = (to_tensor(inp), target)
    for mode in ("cells", "dark-cells"):  # the eyes are dark: both draw them in
        assert torch.equal(out["lines"][1], out[mode][1])
        diff = (out[mode][0] - out["lines"][0]).abs().amax(0) > 0.05
        assert 4 <= int(diff.sum()) <= 16


def test_classic_dark_cells_are_the_dark_feature_cells_the_classical_method_draws_dark_too():
    """classic-dark-cells: of the dark feature cells, only those where the classical output also has a dark line
    cell. On the cartoon head that is most of them; none is added, and each one drawn in is one of the classical
    method's line cells with the dark line's colour."""
    from inference.classic import line_cells, reduce_keeping_lines, with_feature_cells
    from pixelforge.imaging import rgb_on_white
    from pixelforge.testing.art_cases import figure_case

    rgb = rgb_on_white(figure_case(256).image)
    halved = reduce_keeping_lines(rgb, 2)
    dark = np.abs(with_feature_cells(halved, rgb, 4, kind="dark-cells") - halved).max(-1) > 0
    shared = np.abs(with_feature_cells(halved, rgb, 4, kind="classic-dark-cells") - halved).max(-1) > 0
    assert not (shared & ~dark).any() and 0.5 * dark.sum() <= shared.sum() < dark.sum()
    classic, colour = line_cells(rgb, 4)
    cells = shared.reshape(64, 2, 64, 2).any(axis=(1, 3))
    assert classic[cells].all()
    drawn = with_feature_cells(halved, rgb, 4, kind="classic-dark-cells")[::2, ::2]
    assert np.abs(drawn[cells] - colour[cells]).max() < 1.0


def test_classic_line_cells_also_draw_a_dark_line_where_the_classical_method_draws_a_highlight_beside_it():
    """classic-line-cells: the dark feature cells in any of the classical method's line cells. Where a 2 px highlight
    runs beside a 1 px dark line in one cell, the classical method draws the highlight; this input draws the dark
    line there (classic-dark-cells leaves the cell out). A dark line alone in texture stays out of both."""
    from inference.classic import (
        feature_cells,
        lightness,
        line_cells,
        line_masks,
        reduce_keeping_lines,
        with_feature_cells,
    )

    a = np.full((64, 64, 3), 128, np.uint8)
    a[8:56, 17:19] = 250  # the highlight: two columns of cell column 4 (x 16-19)
    a[8:56, 19] = 20  # the dark line beside it, in the same cells
    a[8:56, 40] = 20  # a dark line alone
    rgb = Image.fromarray(a)
    dark, bright = line_masks(lightness(rgb), 4)
    drawn = {kind: feature_cells(dark, bright, 4, kind)[0] for kind in ("dark-cells", "classic-dark-cells", "classic-line-cells")}
    classic, colour = line_cells(rgb, 4)
    lit = (colour.mean(-1) > 200) & classic  # the cells the classical method gives the highlight
    assert lit[2:14, 4].all() and not drawn["classic-dark-cells"][:, 4].any()
    assert drawn["classic-line-cells"][2:14, 4].all()
    out = with_feature_cells(reduce_keeping_lines(rgb, 2), rgb, 4, kind="classic-line-cells")[::2, ::2]
    assert out[2:14, 4].max() < 60  # dark: the line's colour, not the highlight's
    assert drawn["classic-line-cells"][2:14, 10].all() and drawn["classic-dark-cells"][2:14, 10].all()
    for kind in drawn:  # dark-cells holds them all; the two classic inputs only classical line cells
        assert not (drawn[kind] & ~drawn["dark-cells"]).any()
        if kind != "dark-cells":
            assert classic[drawn[kind]].all()
    for typo in ("classic-line-cell", "lines"):  # a misspelt input or one without feature cells is an error, not "cells"
        with pytest.raises(ValueError, match="no feature cells for the generator input"):
            feature_cells(dark, bright, 4, typo)
    from training.outlines import with_feature_cells as cells_torch  # and training builds the same input

    t = as_tensor(a)
    for kind in drawn:
        want = with_feature_cells(reduce_keeping_lines(rgb, 2), rgb, 4, kind=kind)
        got = cells_torch(outline_target(t, 2), t, 4, kind=kind)
        assert np.abs((got[0].permute(1, 2, 0).numpy() + 1) * 127.5 - want).max() < 1.0

        with pytest.raises(ValueError, match="no feature cells for the generator input"):
            cells_torch(outline_target(t, 2), t, 4, kind=kind.removesuffix("s"))


def test_classic_thin_cells_leave_out_the_highlight_beside_a_dark_line_already_drawn():
    """classic-thin-cells: classic-line-cells less the cells the classical method lights that lie above, below, left or
    right of a cell it draws as a dark line. On Kenney's femalePerson (CC0, tests/fixtures/art) the tops of both eyes
    and an edge of the headband are such cells: v74's input drew them dark beside the line, a line two cells thick. A dark line whose cell the classical
    method lights and that has no dark cell beside it is still drawn (the synthetic rail of the test above), and numpy
    and torch agree."""
    from inference.classic import (
        _choose_cells,
        feature_cells,
        lightness,
        line_masks,
        reduce_keeping_lines,
        with_feature_cells,
    )
    from pixelforge.imaging import rgb_on_white
    from training.outlines import with_feature_cells as cells_torch

    rgb = rgb_on_white(Image.open(Path(__file__).parent / "fixtures" / "art" / "cartoon" / "femalePerson_idle.png"))
    dark, bright = line_masks(lightness(rgb), 4)
    line = feature_cells(dark, bright, 4, "classic-line-cells")[0]
    thin = feature_cells(dark, bright, 4, "classic-thin-cells")[0]
    classic, lit, _ = _choose_cells(dark, bright, 4, False)  # the classical method's line cells; lit: a highlight
    drawn_dark = classic & ~lit
    beside = np.zeros_like(drawn_dark)
    beside[1:] |= drawn_dark[:-1]
    beside[:-1] |= drawn_dark[1:]
    beside[:, 1:] |= drawn_dark[:, :-1]
    beside[:, :-1] |= drawn_dark[:, 1:]
    left_out = line & ~thin
    assert not (thin & ~line).any() and left_out.sum() == 3
    assert (lit & beside)[left_out].all()  # each one lit by the classical method, beside one it draws dark
    assert not (line & lit & beside & thin).any()
    a = np.full((64, 64, 3), 128, np.uint8)  # the rail: a highlight and a dark line in one cell column, none beside
    a[8:56, 17:19], a[8:56, 19] = 250, 20
    rail = Image.fromarray(a)
    assert feature_cells(*line_masks(lightness(rail), 4), 4, "classic-thin-cells")[0][2:14, 4].all()
    for picture in (rgb, rail):  # numpy and torch build the same input, on the real picture too
        t = as_tensor(np.array(picture))
        want = with_feature_cells(reduce_keeping_lines(picture, 2), picture, 4, kind="classic-thin-cells")
        got = cells_torch(outline_target(t, 2), t, 4, kind="classic-thin-cells")
        assert np.abs((got[0].permute(1, 2, 0).numpy() + 1) * 127.5 - want).max() < 1.0


def test_training_reads_lightness_exactly_as_the_classical_path():
    """Feature pixels are found on lightness in whole levels from Pillow's integer luma, in numpy and in torch alike: a
    continuous formula put 2 of femalePerson's pixels on the other side of the contrast threshold, so training chose
    other feature cells than pixelate does. On every cartoon fixture the levels and both masks now agree exactly."""
    from inference.classic import lightness, line_masks
    from pixelforge.imaging import rgb_on_white
    from training.outlines import _feature_masks
    from training.outlines import lightness as lightness_torch

    for path in sorted((Path(__file__).parent / "fixtures" / "art" / "cartoon").glob("*.png")):
        rgb = rgb_on_white(Image.open(path))
        t = as_tensor(np.array(rgb))
        assert np.array_equal(lightness_torch(t)[0, 0].numpy(), lightness(rgb).astype(np.float32)), path.name
        dark, bright = _feature_masks(t, 4, 40.0)
        want = line_masks(lightness(rgb), 4)
        assert np.array_equal(dark[0, 0].numpy() > 0, want[0]) and np.array_equal(bright[0, 0].numpy() > 0, want[1]), path.name

"""benchmarks/feature_stages.py pins each step of the model path on the right grid."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from torch import nn

from inference.classic import reduce_keeping_lines
from inference.grid import cell_means
from inference.pixelator import ModelOptions, Pixelator
from pixelforge.imaging import rgb_on_white
from pixelforge.testing.art_cases import outline_case
from pixelforge.testing.art_metrics import features_kept, small_features

sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
import feature_stages  # noqa: E402 - benchmarks/ is a folder of scripts, not a package


def test_an_identity_generator_changes_nothing_between_input_and_anchored_cells():
    """With a generator that returns its input, the generator and anchored rows are the input's cells: whatever
    the model path loses before the generator shows in the first row, not in the generator's."""
    img = outline_case(256).image
    px = Pixelator(nn.Identity(), model=ModelOptions(pixels_per_cell=2, engine="torch")).with_options(cell_size=4)
    grids = feature_stages.step_grids(px, Pixelator.classic(cell_size=4), img)
    want = cell_means(reduce_keeping_lines(rgb_on_white(img), 2), 2)[0]
    assert set(grids) == {"input cells", "generator", "anchored", "settled", "anchored, lines kept", "output", "classical"}
    assert all(g.shape[:2] == (64, 64) for g in grids.values())
    assert np.abs(grids["input cells"] - want).max() == 0
    assert np.abs(grids["generator"] - want).max() < 0.6  # the -1..1 round trip
    assert np.abs(grids["anchored"] - want).max() < 1.0  # anchoring a drawing onto itself: the OKLab round trip
    assert np.array_equal(grids["settled"], px.cells(img).colors)  # the steps restated here are pixelate's own
    # reduced keeping lines, the 1 px ink lines (one generator pixel of a 2x2 cell) keep their ink
    ink = np.asarray(rgb_on_white(img), np.float64)[18, 20]  # the 1 px line at y = 18, in cell row 4
    assert ink.max() < 60
    assert np.abs(grids["anchored, lines kept"][4, 5] - ink).max() < 10 < np.abs(grids["anchored"][4, 5] - ink).max()


def test_a_model_on_feature_cells_is_measured_on_the_input_pixelate_gives_it():
    """model_input cells: the input row is pixelate's own input for such a model (the feature cells drawn in), and it
    keeps more of the small features than the halved picture alone (2 px brows at 4 px cells)."""
    from pixelforge.testing.art_cases import figure_case

    case = figure_case(256)
    classic = Pixelator.classic(cell_size=4)
    kept = {}
    for on in (False, True):
        px = Pixelator(nn.Identity(), model=ModelOptions(pixels_per_cell=2, engine="torch", model_input="cells" if on else "lines"))
        grids = feature_stages.step_grids(px.with_options(cell_size=4), classic, case.image)
        assert np.array_equal(grids["settled"], px.with_options(cell_size=4).cells(case.image).colors)
        grid = np.clip(grids["input cells"], 0, 255).round().astype(np.uint8)
        kept[on] = float(np.mean(features_kept(small_features(case.image, 4), grid)))
    assert kept[True] > kept[False] + 0.05


def test_feature_target_share_is_zero_for_the_input_and_one_for_the_target():
    import feature_target
    import torch

    rng = torch.Generator().manual_seed(0)
    inputs = torch.rand(2, 3, 8, 8, generator=rng) * 2 - 1
    base = torch.nn.functional.avg_pool2d(inputs, 2)
    target = base.clone()
    target[:, :, 1, 1] = -1.0  # a dark feature cell
    target[0, :, 0, 0] = base[0, :, 0, 0] + 0.05  # a small move: not counted
    half = base.clone()
    half[:, :, 1, 1] = (base[:, :, 1, 1] - 1.0) / 2
    assert feature_target.toward(base, inputs, target)[0] == 0.0
    assert abs(feature_target.toward(target, inputs, target)[0] - 1.0) < 1e-6
    assert abs(feature_target.toward(half, inputs, target)[0] - 0.5) < 1e-6
    assert feature_target.toward(target, inputs, target)[1] < 0.05 / 3  # the small move is the only other error

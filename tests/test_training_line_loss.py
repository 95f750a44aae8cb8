"""lambda_line: the loss that asks G_A's drawing for the colour-keeping target's thin lines by their contrast."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from pixelforge.config import ConfigError
from tests.test_training import tiny
from training import ddp
from training.cyclegan import build_model, content_loss, train_step
from training.loop import train
from training.outlines import lightness, line_loss, perceptual_lightness, top_hats

GREY = 0.2  # a fill on the -1..1 scale


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def seamed(contrast_levels: float, bright: bool = False) -> torch.Tensor:
    """A 1x3x12x12 target (cells): a grey fill with a one-cell seam down column 6, ``contrast_levels`` darker (or brighter)."""
    target = torch.full((1, 3, 12, 12), GREY)
    light = perceptual_lightness(target)[0, 0, 0, 0].item()
    want = light + (contrast_levels if bright else -contrast_levels)
    grey = torch.linspace(-1, 1, 2001)[:, None, None, None].expand(-1, 3, 1, 1)  # the grey with that lightness
    level = grey[(perceptual_lightness(grey)[:, 0, 0, 0] - want).abs().argmin(), 0, 0, 0]
    target[:, :, :, 6] = level
    return target


def drawn(cells: torch.Tensor, pool: int = 2) -> torch.Tensor:
    """Each cell as a pool x pool block of generator pixels: the drawing that is the target exactly."""
    return cells.repeat_interleave(pool, 2).repeat_interleave(pool, 3)


def test_the_lightness_is_the_classical_paths_to_within_a_level_or_two():
    rgb = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 64, 64))).float() / 127.5 - 1
    assert (perceptual_lightness(rgb) - lightness(rgb).float()).abs().max() <= 2.5


def test_top_hats_score_a_thin_line_and_nothing_in_a_fill_or_a_wide_region():
    target = seamed(30)
    hats = top_hats(perceptual_lightness(target))
    assert hats[0, 0, :, 6].min() == pytest.approx(30, abs=1.5) and hats[0, 1].abs().max() < 1e-3
    assert hats[0, 0, :, :5].abs().max() < 1e-3  # the fill beside it is no line
    wide = torch.full((1, 3, 12, 12), GREY)
    wide[:, :, :, 3:9] = -0.6  # six cells wide: a region, not a line
    assert top_hats(perceptual_lightness(wide))[0, 0].max() < 1e-3


def test_the_loss_is_the_contrast_the_drawing_lacks_per_line_cell():
    target = seamed(30)
    assert line_loss(drawn(target), target, 2) == 0  # drawn as the target: nothing lacking
    flat = drawn(torch.full_like(target, GREY))  # the seam smoothed away, as v74 draws the praying hands
    assert line_loss(flat, target, 2).item() * 127.5 == pytest.approx(30, abs=1.5)
    half = drawn(seamed(15))
    assert line_loss(half, target, 2).item() * 127.5 == pytest.approx(15, abs=1.5)
    darker = drawn(seamed(60))  # standing out more than asked costs nothing here (the colour-keeping loss holds it)
    assert line_loss(darker, target, 2) == 0
    # a bright line counts as a dark one does
    bright = seamed(30, bright=True)
    assert line_loss(flat, bright, 2).item() * 127.5 == pytest.approx(30, abs=1.5)


def test_a_line_fainter_than_the_contrast_is_not_asked_for_and_texture_in_a_fill_costs_nothing():
    faint = seamed(12)
    flat = drawn(torch.full_like(faint, GREY))
    assert line_loss(flat, faint, 2) == 0
    assert line_loss(flat, faint, 2, contrast=10).item() * 127.5 == pytest.approx(12, abs=1.5)
    fill = torch.full((1, 3, 12, 12), GREY)
    speckled = drawn(fill) + torch.rand(1, 3, 24, 24) * 0.4
    assert line_loss(speckled, fill, 2) == 0


def test_its_gradient_darkens_the_seam_where_the_colour_keeping_loss_barely_asks():
    target = seamed(30)
    out = drawn(torch.full_like(target, GREY)).requires_grad_(True)
    line_loss(out, target, 2).backward()
    grad = out.grad.sum(1)[0]
    on_seam = grad[:, 12:14]
    assert (on_seam > 0).all()  # a descent step lowers the seam's pixels, making it darker
    assert grad[:, :8].abs().max() == 0 and grad[:, 18:].abs().max() == 0  # nothing far from the seam moves
    out.grad = None
    content_loss(out, target, 2, target=target).backward()
    # one column in twelve is seam here: per seam pixel the line loss pulls ten times harder than the L1 over all cells
    assert on_seam.abs().mean() > 5 * out.grad.sum(1)[0][:, 12:14].abs().mean()


def test_train_step_records_the_line_loss_only_when_it_is_on(tmp_path):
    for lambda_line in (0.0, 20.0):
        cfg = tiny(tmp_path, pool_size=0, lambda_content=10.0, content_pool=2, lambda_line=lambda_line, seed=3)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        g = torch.Generator().manual_seed(0)
        real_A = torch.full((2, 3, 32, 32), GREY)
        real_A[:, :, :, 15] = -0.8  # a dark seam the untrained net does not draw
        losses = train_step(model, real_A, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1)
        assert (losses.line_A > 0) == (lambda_line > 0)


def test_a_run_with_the_line_loss_logs_it_and_its_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="lambda_line needs lambda_content"):
        tiny(tmp_path, lambda_line=5.0).validate()
    with pytest.raises(ConfigError, match="lambda_line must be a finite number >= 0"):
        tiny(tmp_path, lambda_line=-1.0, lambda_content=1.0).validate()
    with pytest.raises(ConfigError, match="line_contrast must be in"):
        tiny(tmp_path, line_contrast=0.0).validate()
    run = train(tiny(tmp_path, lambda_content=10.0, content_pool=2, lambda_line=20.0, max_steps=2), progress=False).run
    with (run / "losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(float(r["line_A"]) >= 0 for r in rows)

"""lambda_speck: no cell of G_A's drawing stands alone where its colour-keeping target has a neighbour like it."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from pixelforge.color import srgb_to_oklab
from pixelforge.config import ConfigError
from tests.test_training import tiny
from training import ddp
from training.cyclegan import build_model, train_step
from training.loop import train
from training.specks import nearest_neighbour, oklab, speck_loss

FILL, INK = (0.4, -0.2, -0.6), (-0.9, -0.9, -0.8)  # a tan fill and a dark ink, on the -1..1 scale


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def cells(colour: tuple[float, float, float] = FILL, size: int = 10) -> torch.Tensor:
    return torch.tensor(colour).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


def drawn(grid: torch.Tensor, pool: int = 2) -> torch.Tensor:
    return grid.repeat_interleave(pool, 2).repeat_interleave(pool, 3)


def distance(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return float((oklab(cells(a, 1)) - oklab(cells(b, 1))).norm())


def test_oklab_is_the_kernels_oklab():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    assert np.allclose(oklab(x)[0].permute(1, 2, 0).numpy(), srgb_to_oklab(rgb), atol=1e-4)


def test_a_speck_is_far_from_every_neighbour_and_its_neighbours_are_not():
    grid = cells()
    assert nearest_neighbour(oklab(grid)).abs().max() < 1e-3
    grid[:, :, 4, 4] = torch.tensor(INK)
    near = nearest_neighbour(oklab(grid))[0, 0]
    assert near[4, 4].item() == pytest.approx(distance(FILL, INK), abs=1e-3)
    near[4, 4] = 0
    assert near.abs().max() < 1e-3  # the fill around it still has fill beside it


def test_the_loss_costs_specks_and_blends_the_target_lacks_but_not_its_lines_or_its_dots():
    target = cells()
    assert speck_loss(drawn(target), target, 2) < 1e-3
    speckled = target.clone()
    speckled[:, :, 4, 4] = torch.tensor(INK)
    assert speck_loss(drawn(speckled), target, 2).item() == pytest.approx(distance(FILL, INK) / 100, rel=1e-2)
    assert speck_loss(drawn(speckled), speckled, 2) < 1e-3  # a pupil the picture has is the drawing's to keep
    lined = target.clone()
    lined[:, :, :, 5] = torch.tensor(INK).view(1, 3, 1)  # a seam down the picture, drawn: each of its cells has its line beside it
    assert speck_loss(drawn(lined), lined, 2) < 1e-3
    two = target.clone()
    two[:, :, :, 5:] = torch.tensor(INK).view(1, 3, 1, 1)
    blend = two.clone()
    blend[:, :, 4, 5] = (torch.tensor(FILL) + torch.tensor(INK)) / 2  # a stray blend on a crisp edge
    assert speck_loss(drawn(blend), two, 2) > 0.2 * distance(FILL, INK) / 100


def test_its_gradient_pulls_a_speck_towards_the_fill():
    target = cells()
    speckled = target.clone()
    speckled[:, :, 4, 4] = torch.tensor(INK)
    out = drawn(speckled).requires_grad_(True)
    speck_loss(out, target, 2).backward()
    step = -out.grad[0, :, 8:10, 8:10].mean((1, 2))  # descent direction on the speck's pixels
    assert (step * (torch.tensor(FILL) - torch.tensor(INK))).sum() > 0
    far = out.grad[0].abs().sum(0)
    far[6:12, 6:12] = 0
    assert far.max() == 0  # only the speck and the cells beside it move


def test_train_step_records_the_speck_loss_only_when_it_is_on_and_the_settings_are_checked(tmp_path):
    for lambda_speck in (0.0, 300.0):
        cfg = tiny(tmp_path, pool_size=0, lambda_content=10.0, content_pool=2, lambda_speck=lambda_speck, seed=3)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        g = torch.Generator().manual_seed(0)
        real_A = torch.full((2, 3, 32, 32), 0.2)  # a flat fill: any speck the untrained net draws is unasked for
        losses = train_step(model, real_A, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1)
        assert (losses.speck_A > 0) == (lambda_speck > 0)
    with pytest.raises(ConfigError, match="lambda_speck needs lambda_content"):
        tiny(tmp_path, lambda_speck=5.0).validate()
    with pytest.raises(ConfigError, match="lambda_speck must be a finite number >= 0"):
        tiny(tmp_path, lambda_speck=-1.0, lambda_content=1.0).validate()
    run = train(tiny(tmp_path, lambda_content=10.0, content_pool=2, lambda_speck=300.0, max_steps=2), progress=False).run
    with (run / "losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(float(r["speck_A"]) > 0 for r in rows)

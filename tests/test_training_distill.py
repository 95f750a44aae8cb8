"""lambda_distill: one pass of G_A learns what a frozen teacher draws averaged over eight views."""

from __future__ import annotations

import copy
import csv
from dataclasses import replace

import pytest
import torch

from pixelforge.config import ConfigError
from tests.test_training import NETS, tiny, weights
from training import ddp
from training.cyclegan import build_model, train_step
from training.loop import train
from training.views import oriented, restored, views_mean


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _lopsided() -> torch.nn.Conv2d:
    """A convolution that no view but the identity maps onto itself."""
    conv = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[:, :, 0, 1] = torch.eye(3)
        conv.weight[:, :, 1, 0] = 0.5 * torch.eye(3)
    return conv


def test_views_mean_is_the_mean_of_the_eight_drawings_turned_back():
    x = torch.rand(2, 3, 6, 6) * 2 - 1
    symmetric = torch.nn.Conv2d(3, 3, 1)
    with torch.no_grad():
        assert torch.allclose(views_mean(symmetric, x), symmetric(x), atol=1e-6)
        lopsided = _lopsided()
        by_hand = sum(restored(lopsided(oriented(x, k)), k) for k in range(8)) / 8
        assert torch.allclose(views_mean(lopsided, x), by_hand, atol=1e-6)
        assert (views_mean(lopsided, x) - lopsided(x)).abs().mean() > 0.1
        wide = torch.rand(1, 3, 6, 8) * 2 - 1  # not square: the four views that keep the shape
        assert torch.allclose(views_mean(lopsided, wide), sum(restored(lopsided(oriented(wide, k)), k)
                                                              for k in range(4)) / 4, atol=1e-6)


def test_the_distillation_loss_draws_g_a_towards_the_teachers_views(tmp_path):
    def distance(lambda_distill: float) -> float:
        cfg = tiny(tmp_path, pool_size=0, lambda_distill=lambda_distill, lr=1e-3, seed=5)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        teacher = copy.deepcopy(model.G_A).eval().requires_grad_(False)
        model.teacher = teacher
        g = torch.Generator().manual_seed(0)
        for _ in range(40):
            real_A, real_B = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
            losses = train_step(model, real_A, real_B)
            assert (losses.distill_A > 0) == (lambda_distill > 0)
        assert all(not p.requires_grad for p in teacher.parameters())
        test = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
        with torch.no_grad():
            return (model.G_A.eval()(test) - views_mean(teacher, test)).abs().mean().item()

    plain, distilled = distance(0.0), distance(200.0)
    assert distilled < 0.5 * plain, (plain, distilled)


def test_a_distilled_run_needs_its_teacher_and_resumes_bitwise(tmp_path):
    with pytest.raises(ConfigError, match="lambda_distill needs init_from"):
        tiny(tmp_path, lambda_distill=1.0).validate()
    with pytest.raises(ConfigError, match="lambda_distill must be a finite number >= 0"):
        tiny(tmp_path, lambda_distill=-1.0, init_from="x").validate()

    teacher = train(tiny(tmp_path, output=str(tmp_path / "teacher"), max_steps=2), progress=False).run
    cfg = tiny(tmp_path, init_from=str(teacher), lambda_distill=5.0)
    train(replace(cfg, output=str(tmp_path / "straight"), max_steps=4), progress=False)
    train(replace(cfg, output=str(tmp_path / "parts"), max_steps=2), progress=False)
    train(replace(cfg, output=str(tmp_path / "parts"), max_steps=4, resume=str(tmp_path / "parts")), progress=False)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "parts")
    for name in NETS:
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key}"
    with (tmp_path / "straight/losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and all(float(r["distill_A"]) > 0 for r in rows)
    # the teacher stays init_from's G_A: it is not the student, which has moved
    assert any(not torch.equal(weights(teacher)["G_A"][k], a["G_A"][k]) for k in a["G_A"])

"""The training loop end to end on tiny configs (ngf 8, 2 blocks, 32 px, CPU)."""

from __future__ import annotations

import copy
import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import training.cyclegan as cyclegan
import training.views as training_views
from pixelforge.model.checkpoint import CheckpointError
from pixelforge.model.loading import init_networks, load_generator
from pixelforge.model.networks import GeneratorSpec
from pixelforge.model.recorded import MODEL_INPUTS
from pixelforge.model.state import load_state
from pixelforge.testing.sprites import make_sprite
from training.cli import build_parser, main, resolve_config
from training.config import ConfigError, TrainConfig
from training.cyclegan import CycleGAN, Weights, build_model, train_step
from training.loop import train
from training.pool import ImagePool
from training.report import LOSS_COLORS, plot_losses, read_losses

NETS = ("G_A", "G_B", "D_A", "D_B")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    torch.set_num_threads(1)


def make_domains(root: Path, n_a: int = 3, n_b: int = 3) -> tuple[Path, Path]:
    """A: small non-square RGB/grey/RGBA pictures; B: procedural sprites, some upscaled x2."""
    a, b = root / "A", root / "B"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    rng = np.random.default_rng(0)
    modes = ["RGB", "L", "RGBA"]
    for i in range(n_a):
        arr = rng.integers(0, 256, (36, 44, 4), dtype=np.uint8)
        img = Image.fromarray(arr, "RGBA").convert(modes[i % 3])
        img.save(a / f"pic{i}.png")
    for i in range(n_b):
        sprite = make_sprite(seed=i, size=(12, 12), n_colors=4).on_white()
        factor = 2 if i % 2 else 1
        sprite.resize((12 * factor, 12 * factor), Image.Resampling.NEAREST).save(b / f"sprite{i}.png")
    return a, b


def tiny(root: Path, **kw) -> TrainConfig:
    a, b = (root / "A", root / "B") if (root / "A").exists() else make_domains(root)
    base = TrainConfig(
        domain_a=str(a), domain_b=str(b), output=str(root / "run"), size=32, load_size=36, ngf=8, n_blocks=2,
        ndf=8, epochs=1, epochs_decay=1, workers=0, device="cpu", pool_size=2, n_samples=2, save_epoch_freq=1,
    )
    return replace(base, **kw)


def weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    return {n: load_file(str(run / "checkpoints/latest" / f"{n}.safetensors")) for n in NETS}


def test_few_iterations_have_finite_losses_and_a_complete_run_folder(tmp_path):
    result = train(tiny(tmp_path, max_steps=4), progress=False)
    run = tmp_path / "run"
    assert result.status == "max_steps" and result.counters.step == 4
    with (run / "losses.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"))
    assert float(rows[0]["cycle_A"]) > 0 and float(rows[0]["D_A"]) > 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["ngf"] == 8 and saved["max_steps"] == 4
    # 3 pairs per epoch: epoch 1 ended at step 3 (epoch_0001 kept), step 4 is in epoch 2
    assert load_state(run / "checkpoints/latest")["counters"] == {"epoch": 1, "iteration": 1, "step": 4, "seconds": 0, "planned_steps": 0, "decay_start": 0}
    assert (run / "checkpoints/epoch_0001/G_A.safetensors").is_file()
    html = (run / "index.html").read_text()
    for src in ("loss.png", "samples/epoch_0001_A.png", "samples/epoch_0001_B.png"):
        assert src in html and (run / src).is_file()
    sample = Image.open(run / "samples/epoch_0001_A.png")
    assert sample.size == (3 * 32, 2 * 32)  # real, fake, reconstruction x n_samples
    net, spec = load_generator(run)
    assert spec == GeneratorSpec(ngf=8, n_blocks=2)
    with torch.no_grad():
        assert torch.isfinite(net(torch.zeros(1, 3, 32, 32))).all()


def test_resume_equals_an_uninterrupted_run_bitwise(tmp_path):
    """Interrupted at step 2 (mid epoch 1), resumed to step 5 (mid epoch 2, after the lr decay started).

    Also loads with 2 worker processes in the resumed half: the data stream does not depend on workers.
    """
    straight = tmp_path / "straight"
    train(tiny(straight, max_steps=5), progress=False)
    parts = tmp_path / "parts"
    make_domains(parts)
    train(tiny(parts, max_steps=2), progress=False)
    first_half = weights(parts / "run")
    cfg = replace(tiny(parts, max_steps=5, workers=2), resume=str(parts / "run"))
    result = train(cfg, progress=False)
    assert result.counters.step == 5 and result.steps_this_session == 3
    a, b = weights(straight / "run"), weights(parts / "run")
    for name in NETS:
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key}"
            assert not torch.equal(first_half[name][key], b[name][key]) or "bias" in key
    sa, sb = load_state(straight / "run/checkpoints/latest"), load_state(parts / "run/checkpoints/latest")
    assert sa["counters"] == sb["counters"] == {"epoch": 1, "iteration": 2, "step": 5, "seconds": 0, "planned_steps": 0, "decay_start": 0}
    assert sa["lr"] == sb["lr"] == pytest.approx(2e-4 * (1 - 1 / 2))
    for opt in ("opt_G", "opt_D"):
        for s1, s2 in zip(sa[opt]["state"].values(), sb[opt]["state"].values()):
            assert all(torch.equal(s1[k], s2[k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    pa, pb = sa["pools"][0], sb["pools"][0]
    assert len(pa["A"]["images"]) == 2 and all(torch.equal(x, y) for x, y in zip(pa["A"]["images"], pb["A"]["images"]))
    # the loss log reads as one run
    la = (straight / "run/losses.csv").read_text().splitlines()
    lb = (parts / "run/losses.csv").read_text().splitlines()
    assert la == lb


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    real = cyclegan.lsgan_loss
    calls = {"n": 0}

    def poisoned(prediction, target_is_real):
        calls["n"] += 1
        loss = real(prediction, target_is_real)
        # 6 calls per step (2 in the G loss, 4 in the D loss): step 4 is the first of epoch 2
        return loss * float("nan") if calls["n"] > 3 * 6 else loss

    monkeypatch.setattr(cyclegan, "lsgan_loss", poisoned)
    cfg = tiny(tmp_path)
    args = ["--domain-a", cfg.domain_a, "--domain-b", cfg.domain_b, "--output", cfg.output, "--size", "32",
            "--load-size", "36", "--ngf", "8", "--n-blocks", "2", "--ndf", "8", "--epochs", "1", "--epochs-decay", "1",
            "--workers", "0", "--device", "cpu", "--pool-size", "2", "--n-samples", "1"]
    good = tmp_path / "epoch1"
    code = main(args)
    err = capsys.readouterr().err
    assert code == 3
    assert "non-finite loss (G=nan)" in err and "step 4" in err and "last good checkpoint" in err and "(step 3)" in err
    run = Path(cfg.output)
    assert load_state(run / "checkpoints/latest")["counters"]["step"] == 3
    for tensors in weights(run).values():
        assert all(torch.isfinite(t).all() for t in tensors.values())
    assert not good.exists()
    assert "non-finite" in (run / "index.html").read_text()


def test_empty_or_unreadable_domain_fails_before_training(tmp_path, capsys):
    a, b = make_domains(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (bad / "y.jpg").write_bytes(b"")
    for domain_b, expected in ((empty, "no usable images"), (bad, "2 files rejected"), (tmp_path / "missing", "not found")):
        out = tmp_path / f"run-{domain_b.name}"
        code = main(["--domain-a", str(a), "--domain-b", str(domain_b), "--output", str(out), "--device", "cpu"])
        err = capsys.readouterr().err
        assert code == 2 and expected in err and "domain B" in err, err
        assert not (out / "checkpoints").exists()


def test_existing_run_needs_resume_and_resume_keeps_architecture(tmp_path):
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, progress=False)
    with pytest.raises(ConfigError, match="ngf: 8 -> 16"):
        train(replace(cfg, ngf=16, resume=cfg.output), progress=False)


def test_config_precedence_toml_then_resume_then_command_line(tmp_path):
    toml = tmp_path / "train.toml"
    toml.write_text('[train]\nngf = 16\nlr = 0.001\nepochs-decay = 3\ndomain_a = "pics"\ndomain_b = "art"\n')
    args = build_parser().parse_args(["--config", str(toml), "--lr", "0.0005", "--output", "runs/x", "--amp"])
    cfg = resolve_config(args)
    assert (cfg.ngf, cfg.lr, cfg.epochs_decay, cfg.amp, cfg.n_blocks) == (16, 0.0005, 3, True, 9)
    assert cfg.domain_a == "pics" and cfg.output == "runs/x"
    toml.write_text("ngf = 'wide'\n")
    with pytest.raises(ConfigError, match="ngf must be an integer"):
        resolve_config(build_parser().parse_args(["--config", str(toml)]))
    toml.write_text("learning_rate = 1\n")
    with pytest.raises(ConfigError, match="unknown config key .learning_rate."):
        resolve_config(build_parser().parse_args(["--config", str(toml)]))
    # resume: the run's config.json is the base, but not its max_steps; the command line still wins
    run = tmp_path / "run"
    run.mkdir()
    TrainConfig(domain_a="a", domain_b="b", output=str(run), ngf=8, max_steps=3).save(run / "config.json")
    cfg = resolve_config(build_parser().parse_args(["--resume", str(run)]))
    assert (cfg.ngf, cfg.max_steps, cfg.output, cfg.resume) == (8, None, str(run), str(run))
    cfg = resolve_config(build_parser().parse_args(["--resume", str(run), "--max-steps", "9", "--workers", "0"]))
    assert (cfg.max_steps, cfg.workers) == (9, 0)
    with pytest.raises(ConfigError, match="in place"):
        resolve_config(build_parser().parse_args(["--resume", str(run), "--output", "elsewhere"]))
    # reference layout: --domain-a root/ with trainA/ and trainB/ fills in domain B
    (tmp_path / "h2z/trainA").mkdir(parents=True)
    (tmp_path / "h2z/trainB").mkdir(parents=True)
    cfg = resolve_config(build_parser().parse_args(["--domain-a", str(tmp_path / "h2z"), "--output", "o"]))
    assert cfg.domain_b == str(tmp_path / "h2z")


def test_learning_rate_schedule_is_the_reference_lambda_rule():
    cfg = TrainConfig(epochs=100, epochs_decay=100)
    assert cfg.lr_at(0) == cfg.lr_at(99) == 2e-4
    assert cfg.lr_at(100) == pytest.approx(2e-4 * (1 - 1 / 101))
    assert cfg.lr_at(199) == pytest.approx(2e-4 * (1 - 100 / 101))


def test_step_decay_anneals_a_single_decay_epoch_to_zero_instead_of_running_at_half_the_lr():
    cfg = TrainConfig(epochs=0, epochs_decay=1, lr=1e-4)
    assert cfg.lr_at(0) == pytest.approx(5e-5)  # the reference's rule: flat at half the lr for the whole epoch
    step = replace(cfg, lr_decay="step")
    ramp = [step.lr_at_step(s, 100) for s in range(100)]
    assert ramp[0] == pytest.approx(1e-4 * (1 - 1 / 101)) and ramp[-1] == pytest.approx(1e-4 / 101)
    assert all(a > b for a, b in zip(ramp, ramp[1:]))
    # constant epochs stay constant, then the ramp spans every decay step
    two = replace(step, epochs=1, epochs_decay=1)
    assert two.lr_at_step(0, 100) == two.lr_at_step(99, 100) == 1e-4 and two.lr_at_step(199, 100) == pytest.approx(1e-4 / 101)
    with pytest.raises(ConfigError, match="lr_decay"):
        replace(cfg, domain_a="a", domain_b="b", output="o", lr_decay="cosine").validate()


def test_step_decay_reaches_the_optimizers_logs_and_resumes_bitwise(tmp_path):
    """3 steps per epoch, 1 constant + 1 decay epoch; interrupted at step 4 (in the decay) and resumed."""
    straight = tmp_path / "straight"
    train(tiny(straight, max_steps=6, lr_decay="step"), progress=False)
    with (straight / "run/losses.csv").open() as fh:
        lrs = [float(r["lr"]) for r in csv.DictReader(fh)]
    assert lrs == pytest.approx([2e-4] * 3 + [2e-4 * (1 - k / 4) for k in (1, 2, 3)], rel=1e-5)
    parts = tmp_path / "parts"
    make_domains(parts)
    train(tiny(parts, max_steps=4, lr_decay="step"), progress=False)
    train(replace(tiny(parts, max_steps=6, lr_decay="step"), resume=str(parts / "run")), progress=False)
    a, b = weights(straight / "run"), weights(parts / "run")
    for name in NETS:
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name
    args = build_parser().parse_args(["--domain-a", "a", "--domain-b", "b", "--output", "o", "--lr-decay", "step"])
    assert resolve_config(args).lr_decay == "step"


def test_loss_plot_gives_each_loss_its_own_scale_and_skips_losses_that_are_off(tmp_path):
    """A loss in the tens must not flatten one in the hundredths; a loss that is 0 throughout gets no panel."""
    rows = [{"step": s, "lr": 1e-4 * (1 - s / 400), "D_A": 0.03 - 0.01 * s / 400, "content_A": 20 + 5 * s / 400,
             "content_B": 0.0} for s in range(1, 400)]
    boxes = plot_losses(rows, ["D_A", "content_A", "content_B"], tmp_path / "loss.png")
    assert list(boxes) == ["D_A", "content_A", "lr"]
    img = np.asarray(Image.open(tmp_path / "loss.png").convert("RGB")).astype(int)
    for name in ("D_A", "content_A"):
        x0, y0, x1, y1 = boxes[name]
        inside = img[y0 + 1 : y1, x0 + 1 : x1]
        ys = np.nonzero((np.abs(inside - LOSS_COLORS[name]).sum(-1) < 30).any(1))[0]
        # the bold trend line spans a good part of the panel's height, whatever the loss's magnitude
        assert len(ys) and ys.max() - ys.min() > 0.3 * (y1 - y0), name
    assert plot_losses([], ["D_A"], tmp_path / "empty.png") == {}


def _reference_step(nets, opt_G, opt_D, real_A, real_B, w: Weights):
    """The reference's optimize_parameters, one network call at a time (no batching)."""
    G_A, G_B, D_A, D_B = (nets[n] for n in NETS)
    mse = F.mse_loss
    fake_B, fake_A = G_A(real_A), G_B(real_B)
    rec_A, rec_B = G_B(fake_B), G_A(fake_A)
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(False)
    opt_G.zero_grad()
    idt_A, idt_B = G_A(real_B), G_B(real_A)
    loss_idt_A = F.l1_loss(idt_A, real_B) * w.lambda_b * w.lambda_identity
    loss_idt_B = F.l1_loss(idt_B, real_A) * w.lambda_a * w.lambda_identity
    pa, pb = D_A(fake_B), D_B(fake_A)
    loss_G_A, loss_G_B = mse(pa, torch.ones_like(pa)), mse(pb, torch.ones_like(pb))
    loss_cycle_A = F.l1_loss(rec_A, real_A) * w.lambda_a
    loss_cycle_B = F.l1_loss(rec_B, real_B) * w.lambda_b
    # the colour-keeping addition: block means of each generator's output against its input
    pool = w.content_pool
    loss_content_A = F.l1_loss(F.avg_pool2d(fake_B, pool), F.avg_pool2d(real_A, pool)) * w.lambda_content
    loss_content_B = F.l1_loss(F.avg_pool2d(fake_A, pool), F.avg_pool2d(real_B, pool)) * w.lambda_content
    # the flat-shading addition: G_A's neighbour steps, weighted 1 / (1 + (input step / contrast)^2)
    loss_flat_A = torch.zeros(())
    for dim, size in ((2, fake_B.shape[2]), (3, fake_B.shape[3])):
        step_out = (fake_B.narrow(dim, 1, size - 1) - fake_B.narrow(dim, 0, size - 1)).abs().mean(1)
        step_in = (real_A.narrow(dim, 1, size - 1) - real_A.narrow(dim, 0, size - 1)).abs().amax(1)
        loss_flat_A = loss_flat_A + (step_out / (1 + (step_in / w.flat_contrast) ** 2)).mean()
    loss_flat_A = loss_flat_A * w.lambda_flat
    (loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
     + loss_content_A + loss_content_B + loss_flat_A).backward()
    opt_G.step()
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(True)
    opt_D.zero_grad()

    def d_loss(D, real, fake):
        pr, pf = D(real), D(fake.detach())
        return (mse(pr, torch.ones_like(pr)) + mse(pf, torch.zeros_like(pf))) * 0.5

    loss_D_A = d_loss(D_A, real_B, fake_B)
    loss_D_B = d_loss(D_B, real_A, fake_A)
    loss_D_A.backward()
    loss_D_B.backward()
    opt_D.step()
    return [loss_D_A, loss_G_A, loss_cycle_A, loss_idt_A, loss_D_B, loss_G_B, loss_cycle_B, loss_idt_B,
            loss_content_A, loss_content_B, loss_flat_A, *[torch.zeros(())] * 4]  # sym_A, distill_A, line_A, speck_A: off here


@pytest.mark.parametrize(("lambda_content", "lambda_flat"), [(0.0, 0.0), (5.0, 0.0), (5.0, 3.0)])
def test_batched_step_matches_the_reference_step(tmp_path, lambda_content, lambda_flat):
    from training import ddp

    cfg = tiny(tmp_path, pool_size=0, lambda_content=lambda_content, content_pool=4, lambda_flat=lambda_flat)
    nets, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
    ref = {n: copy.deepcopy(nets[n]) for n in NETS}
    betas = (0.5, 0.999)
    opt_G = torch.optim.Adam(list(ref["G_A"].parameters()) + list(ref["G_B"].parameters()), lr=2e-4, betas=betas)
    opt_D = torch.optim.Adam(list(ref["D_A"].parameters()) + list(ref["D_B"].parameters()), lr=2e-4, betas=betas)
    g = torch.Generator().manual_seed(0)
    for _ in range(2):
        real_A, real_B = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
        ours = train_step(model, real_A, real_B).as_dict()
        theirs = [v.item() for v in _reference_step(ref, opt_G, opt_D, real_A, real_B, model.weights)]
        assert list(ours.values()) == pytest.approx(theirs, rel=1e-4, abs=1e-6)
        assert (ours["content_A"] > 0) == (lambda_content > 0)
        assert (ours["flat_A"] > 0) == (lambda_flat > 0)
    # Conv biases right before an InstanceNorm get a gradient that is zero up to float noise, which Adam
    # turns into +-lr steps of random sign: they differ, and cannot matter. Compare weights and outputs.
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    for n in NETS:
        for (k, a), b in zip(nets[n].state_dict().items(), ref[n].state_dict().values()):
            if k.endswith("weight"):
                torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-5, msg=f"{n}.{k}")
        with torch.no_grad():
            torch.testing.assert_close(nets[n](x), ref[n](x), rtol=1e-3, atol=1e-4, msg=n)


def test_image_pool_follows_the_reference_and_round_trips():
    pool = ImagePool(2, seed=1)
    imgs = [torch.full((1, 3, 2, 2), float(i)) for i in range(12)]
    out = [pool.query(x) for x in imgs[:2]]
    assert all(torch.equal(o, x) for o, x in zip(out, imgs[:2]))  # filling: returned as is
    state = pool.state_dict()
    seen = [float(pool.query(x)[0, 0, 0, 0]) for x in imgs[2:]]
    assert set(seen) - {float(i) for i in range(2, 12)}  # some queries returned an older image
    twin = ImagePool(0)
    twin.load_state_dict(copy.deepcopy(state))
    assert [float(twin.query(x)[0, 0, 0, 0]) for x in imgs[2:]] == seen
    assert torch.equal(ImagePool(0).query(imgs[0]), imgs[0])


def test_export_command_writes_reference_files(tmp_path, capsys):
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    assert main(["export", cfg.output, "--to", str(tmp_path / "ref")]) == 0
    names = sorted(p.name for p in (tmp_path / "ref").iterdir())
    assert names == ["latest_net_D_A.pth", "latest_net_D_B.pth", "latest_net_G.pth", "latest_net_G_A.pth",
                     "latest_net_G_B.pth"]
    spec = GeneratorSpec(ngf=8, n_blocks=2)
    a, _ = load_generator(tmp_path / "ref/latest_net_G_A.pth", spec=spec)
    b, _ = load_generator(cfg.output)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))
    assert main(["export", str(tmp_path / "nowhere"), "--to", str(tmp_path / "x")]) == 2
    # and back in: a new run initialised from the reference files (lr 0, so one step leaves the weights as loaded)
    run2 = tmp_path / "run2"
    result = train(replace(cfg, output=str(run2), init_from=str(tmp_path / "ref"), lr=0.0, max_steps=1), progress=False)
    assert result.counters.step == 1
    first, second = weights(Path(cfg.output)), weights(run2)
    for name in NETS:
        assert all(torch.equal(first[name][k], second[name][k]) for k in first[name])
    with pytest.raises(CheckpointError, match="shape mismatches"):
        init_networks(tmp_path / "ref", {"G_A": GeneratorSpec(ngf=16, n_blocks=2).build()})
    with pytest.raises(CheckpointError, match="no G_A/G_B/D_A/D_B"):
        init_networks(tmp_path, {"G_A": GeneratorSpec(ngf=8, n_blocks=2).build()})


def test_a_skip_run_grows_from_a_plain_one_and_stays_ours(tmp_path, capsys):
    """`skip = true` from plain weights starts exactly at the parent, learns the skip, and is refused as a .pth."""
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    parent, _ = load_generator(cfg.output)
    grown = {"G_A": GeneratorSpec(ngf=8, n_blocks=2, skip=1).build()}
    assert init_networks(cfg.output, grown) == ["G_A"]
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(grown["G_A"].eval()(x), parent(x)) and not grown["G_A"].skip[1].weight.any()
    run2 = tmp_path / "run2"
    train(replace(cfg, output=str(run2), init_from=cfg.output, skip=True, max_steps=3), progress=False)
    net, spec = load_generator(run2)
    assert spec == GeneratorSpec(ngf=8, n_blocks=2, skip=1)
    assert net.skip[1].weight.abs().sum() > 0  # three steps moved it off zero
    assert "with the long skip" in (run2 / "index.html").read_text()
    assert main(["export", str(run2), "--to", str(tmp_path / "ref")]) == 2
    assert "lacks" in capsys.readouterr().err and not (tmp_path / "ref" / "latest_net_G_A.pth").exists()
    with pytest.raises(ConfigError, match="skip"):  # an architecture field: a resume may not change it
        train(replace(cfg, resume=str(run2), output=str(run2), skip=False, max_steps=4), progress=False)


def test_skip_lr_scales_the_skip_and_nothing_else(tmp_path):
    """`skip_lr` gives the skip its own lr: one step from a plain parent moves it by that multiple, the rest alike."""
    cfg = tiny(tmp_path, max_steps=1)
    train(cfg, progress=False)
    grown = {}
    for scale in (1.0, 100.0):
        run = tmp_path / f"skip-lr-{scale:g}"
        train(replace(cfg, output=str(run), init_from=cfg.output, skip=True, skip_lr=scale, max_steps=1), progress=False)
        grown[scale] = load_generator(run)[0].state_dict()
    slow, fast = grown[1.0], grown[100.0]
    # the skip starts at zero, so the first step's gradients are the same in both runs; Adam's first step is ~lr
    ratio = fast["skip.1.weight"].abs().sum() / slow["skip.1.weight"].abs().sum()
    assert 90 < ratio < 110
    assert all(torch.allclose(slow[k], fast[k], atol=1e-6) for k in slow if not k.startswith("skip."))
    run = tmp_path / "skip-lr-100"
    result = train(replace(cfg, resume=str(run), output=str(run), skip=True, skip_lr=100.0, max_steps=2), progress=False)
    assert result.counters.step == 2  # the optimizer's two groups resume as saved
    with pytest.raises(ConfigError, match="skip_lr"):  # its optimizer groups: a resume may not change it
        train(replace(cfg, resume=str(run), output=str(run), skip=True, skip_lr=10.0, max_steps=3), progress=False)


def test_content_lines_reaches_the_colour_keeping_loss(tmp_path):
    """`content_lines` changes G_A's colour-keeping target (training.outlines) and nothing else in the first step."""
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):  # domain A with thin features: a face with a 1 px outline and 1 px eyes
        a = np.full((36, 36, 3), 250, np.uint8)
        a[4:32, 6:30] = (232, 178, 140)
        a[4, 6:30] = a[31, 6:30] = a[4:32, 6] = a[4:32, 29] = 30
        a[12:14, 12 + i] = a[12:14, 22 - i] = (60, 30, 20)
        Image.fromarray(a).save(faces / f"face{i}.png")
    first = {}
    for lines in (False, True):
        cfg = tiny(tmp_path, domain_a=str(faces), output=str(tmp_path / f"run-{lines}"), max_steps=1, lambda_content=10.0,
                   content_pool=2, content_lines=lines)
        train(cfg, progress=False)
        assert json.loads((Path(cfg.output) / "config.json").read_text())["content_lines"] is lines
        first[lines] = read_losses(Path(cfg.output) / "losses.csv")[0]
    assert first[True]["content_A"] != first[False]["content_A"]
    assert first[True]["content_B"] == first[False]["content_B"]  # G_B's target stays the plain average


def test_content_target_from_the_picture_reaches_the_colour_keeping_loss(tmp_path):
    """content_target = picture: G_A's target comes from the data loader (the picture before halving), and only
    G_A's colour-keeping loss differs in the first step from the same run with the target found in its input."""
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):  # 72 px faces with 3 px eyes: halving pales them before the input-side target sees them
        a = np.full((72, 72, 3), 250, np.uint8)
        a[8:64, 12:60] = (232, 178, 140)
        a[24:27, 24 + i : 27 + i] = a[24:27, 44 - i : 47 - i] = (60, 30, 20)
        Image.fromarray(a).save(faces / f"face{i}.png")
    first = {}
    for target in ("input", "picture"):
        cfg = tiny(tmp_path, domain_a=str(faces), output=str(tmp_path / f"run-{target}"), max_steps=1, lambda_content=10.0,
                   content_pool=2, content_lines=True, a_resize="lines", content_target=target)
        train(cfg, progress=False)
        assert json.loads((Path(cfg.output) / "config.json").read_text())["content_target"] == target
        first[target] = read_losses(Path(cfg.output) / "losses.csv")[0]
    assert first["picture"]["content_A"] != first["input"]["content_A"]
    assert first["picture"]["cycle_A"] == first["input"]["cycle_A"]  # the same input, the same step otherwise
    assert first["picture"]["content_B"] == first["input"]["content_B"]
    for bad in ({"a_resize": "box"}, {"content_lines": False}, {"lambda_content": 0.0}):
        kw = {"content_lines": True, "a_resize": "lines", "lambda_content": 10.0, "content_target": "picture", **bad}
        with pytest.raises(ConfigError, match="content_target"):
            tiny(tmp_path, **kw).validate()
    with pytest.raises(ConfigError, match="content_target"):
        tiny(tmp_path, content_target="pixels").validate()


def test_feature_cells_input_changes_only_g_a_input_and_the_model_asks_pixelate_for_it(tmp_path):
    """a_resize = cells: the same first step as "lines" but for G_A's input (3 px eyes drawn in as whole cells),
    and the run's G_A records it, so pixelate builds that input for it; a file recording nonsense is refused."""
    from safetensors.torch import load_file, save_file

    from inference.pixelator import Pixelator
    from pixelforge.model.checkpoint import CheckpointError, read_header

    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):
        a = np.full((72, 72, 3), 250, np.uint8)
        a[8:64, 12:60] = (232, 178, 140)
        a[25:28, 25 + i : 28 + i] = a[25:28, 45 - i : 48 - i] = (60, 30, 20)
        Image.fromarray(a).save(faces / f"face{i}.png")
    first, runs = {}, {}
    for mode in ("lines", "cells"):
        cfg = tiny(tmp_path, domain_a=str(faces), output=str(tmp_path / f"run-{mode}"), max_steps=1, lambda_content=10.0,
                   content_pool=2, content_lines=True, a_resize=mode, content_target="picture")
        train(cfg, progress=False)
        runs[mode] = Path(cfg.output)
        first[mode] = read_losses(runs[mode] / "losses.csv")[0]
    assert first["cells"]["cycle_A"] != first["lines"]["cycle_A"]  # G_A saw other pixels
    assert first["cells"]["content_B"] == first["lines"]["content_B"]  # G_B's side is untouched
    g_a = runs["cells"] / "checkpoints" / "latest" / "G_A.safetensors"
    assert read_header(g_a)[1]["input"] == "cells"
    assert "input" not in read_header(runs["cells"] / "checkpoints" / "latest" / "G_B.safetensors")[1]
    assert "input" not in read_header(runs["lines"] / "checkpoints" / "latest" / "G_A.safetensors")[1]
    px = Pixelator.from_checkpoint(runs["cells"])
    assert px.model.model_input == "cells" and "feature cells drawn into its input" in px.describe()
    assert Pixelator.from_checkpoint(runs["cells"], model_input="lines").model.model_input == "lines"  # the caller's choice wins
    assert Pixelator.from_checkpoint(runs["lines"]).model.model_input == "lines"
    with pytest.raises(ValueError, match="model_input must be one of lines, cells, dark-cells"):
        Pixelator.from_checkpoint(runs["lines"], model_input="eyes")
    # published, it still asks for its input (fp16, as the shipped model is staged)
    from training.cli import main as train_cli

    stage = tmp_path / "staged"
    assert train_cli(["publish", str(runs["cells"]), "--repo", "me/cells", "--dry-run", "--fp16", "--stage", str(stage)]) == 0
    assert read_header(stage / "G_A.safetensors")[1]["input"] == "cells"
    assert Pixelator.from_checkpoint(stage).model.model_input == "cells"
    bad = tmp_path / "bad" / "G_A.safetensors"
    bad.parent.mkdir()
    save_file(load_file(g_a), str(bad), metadata={**read_header(g_a)[1], "input": "eyes"})
    with pytest.raises(CheckpointError, match="input='eyes' must be one of lines, cells, dark-cells"):
        Pixelator.from_checkpoint(bad)


def test_content_reduce_reaches_only_g_a_colour_keeping_loss(tmp_path):
    """content_reduce = medoid changes G_A's colour-keeping loss in the first step and nothing else of it, whether
    the target is found in the input or (by the data loader) in the picture before halving."""
    picture = {"content_lines": True, "a_resize": "lines", "content_target": "picture"}
    for target, extra in (("input", {}), ("picture", picture)):
        first = {}
        for reduce in ("mean", "medoid"):
            cfg = tiny(tmp_path, output=str(tmp_path / f"{target}-{reduce}"), max_steps=1, lambda_content=10.0,
                       content_pool=2, content_reduce=reduce, **extra)
            train(cfg, progress=False)
            assert json.loads((Path(cfg.output) / "config.json").read_text())["content_reduce"] == reduce
            first[reduce] = read_losses(Path(cfg.output) / "losses.csv")[0]
        assert first["medoid"]["content_A"] != first["mean"]["content_A"]
        assert first["medoid"]["cycle_A"] == first["mean"]["cycle_A"]
        assert first["medoid"]["content_B"] == first["mean"]["content_B"]  # G_B's target stays the mean
    with pytest.raises(ConfigError, match="content_reduce must be"):
        tiny(tmp_path, content_reduce="median").validate()


def test_content_lines_contrast_must_be_a_lightness_step(tmp_path):
    for bad in (0.0, -5.0, 300.0, float("inf")):
        with pytest.raises(ConfigError, match="content_lines_contrast"):
            tiny(tmp_path, content_lines_contrast=bad).validate()


def test_skip_lr_needs_the_skip_and_a_positive_value(tmp_path):
    with pytest.raises(ConfigError, match="needs skip"):
        tiny(tmp_path, skip_lr=10.0).validate()
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="skip_lr must be"):
            tiny(tmp_path, skip=True, skip_lr=bad).validate()


def test_step_runs_under_bf16_autocast_on_cpu(tmp_path):
    from training import ddp

    nets, model = build_model(tiny(tmp_path, amp=True), torch.device("cpu"), ddp.Dist())
    assert isinstance(model, CycleGAN) and model.autocast is not None and not model.scaler.is_enabled()
    losses = train_step(model, torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1)
    assert all(math.isfinite(v) for v in losses.as_dict().values())
    assert all(p.dtype == torch.float32 for p in nets["G_A"].parameters())


def test_tensorboard_logs_or_says_what_is_missing(tmp_path):
    cfg = tiny(tmp_path, max_steps=1, tensorboard=True)
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="tensorboard package"):
            train(cfg, progress=False)
        assert not (tmp_path / "run").exists()  # refused before anything was written
    else:
        train(cfg, progress=False)
        assert any((tmp_path / "run" / "tensorboard").iterdir())


def test_every_recipe_in_the_repo_is_a_valid_config_that_ships_under_10_mb():
    """training/recipes/*.toml are what `make model` runs: a typo or an oversize model fails here, not hours in."""
    from pathlib import Path

    from training.config import TrainConfig, load_toml

    recipes = sorted((Path(__file__).parents[1] / "training" / "recipes").glob("*.toml"))
    assert len(recipes) >= 2
    for path in recipes:
        cfg = TrainConfig.from_mapping(load_toml(path), where=str(path)).validate()
        params = sum(p.numel() for p in cfg.generator_spec.build().parameters())
        assert params * 2 <= 10 * 2**20, f"{path.name}: fp16 generator {params * 2 / 2**20:.1f} MB"
        assert cfg.b_max_scale == 1 and cfg.a_resize in ("box", *MODEL_INPUTS)  # the native-resolution recipes (area-reduced A)
        if cfg.init_from and not cfg.init_from.startswith("runs/"):  # weights kept in the repository, not a run to come
            assert (Path(__file__).parents[1] / cfg.init_from / "G_A.safetensors").is_file(), f"{path.name}: {cfg.init_from}"


def test_the_colour_keeping_loss_keeps_a_pictures_colours(tmp_path):
    """Domain A is red-orange, domain B blue: the adversarial loss alone pulls G_A's colours towards blue;
    with lambda_content the block means of its output stay near the input's."""
    from training import ddp

    def drift(lambda_content: float) -> float:
        cfg = tiny(tmp_path, pool_size=0, lambda_content=lambda_content, content_pool=4, lr=1e-3, seed=3)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        g = torch.Generator().manual_seed(0)
        tint_a, tint_b = torch.tensor([0.8, 0.1, -0.6]).view(1, 3, 1, 1), torch.tensor([-0.7, -0.2, 0.8]).view(1, 3, 1, 1)
        for _ in range(60):
            real_A = (tint_a + 0.2 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)
            real_B = (tint_b + 0.2 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)
            train_step(model, real_A, real_B)
        test = (tint_a + 0.2 * torch.randn(4, 3, 32, 32, generator=g)).clamp(-1, 1)
        with torch.no_grad():
            return cyclegan.content_loss(model.G_A.eval()(test), test, 4).item()

    plain, kept = drift(0.0), drift(50.0)
    assert kept < 0.5 * plain, (plain, kept)


def test_the_flat_shading_loss_keeps_flat_areas_flat_and_leaves_edges_free(tmp_path):
    """Domain B is noisy texture: the adversarial loss teaches G_A to texture flat input; lambda_flat stops it."""
    from training import ddp

    # the loss itself: texture on a flat input costs, the same step at an input edge almost nothing
    flat_in, edge_in = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    edge_in[..., 4:] = 1.0
    textured = torch.zeros(1, 3, 8, 8)
    textured[..., ::2] = 0.5
    stepped = edge_in * 0.5
    assert cyclegan.flat_loss(flat_in, flat_in, 0.1).item() == 0.0
    assert cyclegan.flat_loss(stepped, edge_in, 0.1) < 0.02 * cyclegan.flat_loss(stepped, flat_in, 0.1)
    assert cyclegan.flat_loss(textured, flat_in, 0.1) > 0.2

    def texture(lambda_flat: float) -> float:
        cfg = tiny(tmp_path, pool_size=0, lambda_flat=lambda_flat, lr=1e-3, seed=3)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        g = torch.Generator().manual_seed(0)
        for _ in range(60):
            real_A = torch.full((2, 3, 32, 32), 0.2) + 0.3 * torch.rand(2, 3, 1, 1, generator=g)
            real_B = (torch.rand(2, 3, 32, 32, generator=g) * 2 - 1).clamp(-1, 1)
            train_step(model, real_A, real_B)
        test = torch.full((4, 3, 32, 32), 0.3)
        with torch.no_grad():
            return cyclegan.flat_loss(model.G_A.eval()(test), test, 0.1).item()

    plain, flat = texture(0.0), texture(20.0)
    assert flat < 0.5 * plain, (plain, flat)


def test_the_symmetry_loss_teaches_g_a_to_draw_a_mirrored_crop_mirrored(tmp_path):
    """lambda_sym: G_A's drawing of a view of a crop, turned back, should be its drawing of the crop (pixelate --views)."""
    from inference.views import oriented as picture_view
    from training import ddp

    x = torch.rand(2, 3, 6, 6) * 2 - 1
    for k in range(8):  # the same eight views, numbered as pixelate --views numbers them
        view = training_views.oriented(x, k)
        assert torch.equal(training_views.restored(view, k), x)
        assert np.array_equal(view[0].permute(1, 2, 0).numpy(), picture_view(x[0].permute(1, 2, 0).numpy(), k))
    symmetric = torch.nn.Conv2d(3, 3, 1)  # a 1x1 convolution commutes with every view
    lopsided = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    with torch.no_grad():
        lopsided.weight.zero_()
        lopsided.weight[:, :, 0, 1] = torch.eye(3)  # the pixel above, plus half the pixel to the left: no view but the
        lopsided.weight[:, :, 1, 0] = 0.5 * torch.eye(3)  # identity maps these two taps onto themselves
        for k in range(1, 8):
            assert training_views.symmetry_loss(symmetric, x, symmetric(x), k).item() < 1e-6
            assert training_views.symmetry_loss(lopsided, x, lopsided(x), k).item() > 0.1

    def asymmetry(lambda_sym: float) -> float:
        cfg = tiny(tmp_path, pool_size=0, lambda_sym=lambda_sym, lr=1e-3, seed=5)
        _, model = build_model(cfg, torch.device("cpu"), ddp.Dist())
        g = torch.Generator().manual_seed(0)
        for _ in range(40):
            real_A, real_B = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
            losses = train_step(model, real_A, real_B)
            assert (losses.sym_A > 0) == (lambda_sym > 0)
        test = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
        G = model.G_A.eval()
        with torch.no_grad():
            out = G(test)
            return sum(training_views.symmetry_loss(G, test, out, k).item() for k in range(1, 8)) / 7

    plain, sym = asymmetry(0.0), asymmetry(20.0)
    assert sym < 0.5 * plain, (plain, sym)
    with pytest.raises(ConfigError, match="lambda_sym must be a finite number >= 0"):
        tiny(tmp_path, lambda_sym=-1.0).validate()


def test_salience_weights_the_colour_keeping_loss_toward_small_features_that_stand_out(tmp_path):
    """An even L1 lets a generator wash out an eye for almost nothing; content_salience makes it pay."""
    src = torch.full((1, 3, 16, 16), 0.6)
    src[..., 6:8, 6:8] = -0.8  # a dark 2x2 "eye" on a pale face
    washed = src.clone()
    washed[..., 6:8, 6:8] = 0.6  # the eye painted over
    tinted = src.clone()
    tinted[..., :, 12:] -= 1.4 * 4 / 64  # the same total L1, spread over a flat band
    plain = (cyclegan.content_loss(washed, src, 2), cyclegan.content_loss(tinted, src, 2))
    assert plain[0].item() == pytest.approx(plain[1].item(), rel=1e-5)
    weighted = (cyclegan.content_loss(washed, src, 2, 8.0), cyclegan.content_loss(tinted, src, 2, 8.0))
    assert weighted[0] > 4 * weighted[1], weighted
    assert weighted[1].item() == pytest.approx(plain[1].item(), rel=1e-5)  # flat areas keep weight 1
    assert cyclegan.content_loss(src, src, 2, 8.0).item() == 0.0
    assert cyclegan.content_loss(washed, src, 2, 0.0).item() == plain[0].item()  # 0 = the even loss
    from training import ddp

    _, model = build_model(tiny(tmp_path, content_salience=4.0, lambda_content=5.0).validate(), torch.device("cpu"), ddp.Dist())
    assert model.weights.content_salience == 4.0  # the recipe's setting reaches the step
    args = build_parser().parse_args(["--domain-a", "a", "--domain-b", "b", "--output", "o", "--content-salience", "8",
                                      "--lambda-flat", "10"])
    cfg = resolve_config(args)
    assert (cfg.content_salience, cfg.lambda_flat) == (8.0, 10.0)  # and the command line's
    with pytest.raises(ConfigError, match="content_salience must be a finite number >= 0"):
        tiny(tmp_path, content_salience=-1.0).validate()


def test_a_balanced_domain_b_trains_and_says_so(tmp_path):
    from pixelforge.testing.dataset_folder import build_dataset_folder
    from training.data import DataError

    built = build_dataset_folder(tmp_path / "art", n_train=6, n_test=0, sources=("lpc",) * 5 + ("superpowers",), canvas=16)
    cfg = tiny(tmp_path, domain_b=str(built.path), b_balance="source", max_steps=2)
    result = train(cfg, progress=False)
    assert result.counters.step == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["b_balance"] == "source"
    assert "each source value drawn equally often" in (tmp_path / "run" / "index.html").read_text()
    with pytest.raises(ConfigError, match="b_balance: source -> sha256"):  # the data stream may not change on resume
        train(replace(cfg, b_balance="sha256", resume=cfg.output, max_steps=3), progress=False)
    with pytest.raises(DataError, match="no columns to balance over"):  # an image folder: refused before any step
        train(tiny(tmp_path / "folders", b_balance="source"), progress=False)
    assert not (tmp_path / "folders" / "run").exists()

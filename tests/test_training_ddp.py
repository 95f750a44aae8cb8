"""DDP on CPU with gloo: gradients are averaged across ranks and every rank ends a step with the same weights."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from pixelforge.model.loading import load_generator
from pixelforge.model.state import load_state
from training import ddp
from training.config import TrainConfig
from training.cyclegan import NonFiniteLossError, build_model, train_step

CFG = TrainConfig(domain_a="x", domain_b="y", output="z", size=32, ngf=8, n_blocks=2, ndf=8, device="cpu", seed=3)
NAMES = ("G_A", "G_B", "D_A", "D_B")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _batch(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + rank)
    return torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1


def _one_step(rank: int, d: ddp.Dist) -> dict[str, dict[str, torch.Tensor]]:
    """Build the model exactly as training does, take one step on this rank's batch, return weights and grads."""
    torch.set_num_threads(1)
    nets, model = build_model(CFG, torch.device("cpu"), d)
    train_step(model, *_batch(rank))
    out: dict[str, dict[str, torch.Tensor]] = {}
    for name in NAMES:
        for pname, p in nets[name].named_parameters():
            out.setdefault("weight", {})[f"{name}.{pname}"] = p.detach().clone()
            out.setdefault("grad", {})[f"{name}.{pname}"] = p.grad.detach().clone()
    return out


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=30))
    try:
        result = _one_step(rank, ddp.Dist(rank=rank, world=world))
        torch.save(result, Path(folder) / f"rank{rank}.pt")
        # a NaN on rank 1 only: both ranks must stop (rank 0 would otherwise wait in the gradient all-reduce)
        _, model = build_model(CFG, torch.device("cpu"), ddp.Dist(rank=rank, world=world))
        real_A, real_B = _batch(rank)
        if rank == 1:
            real_A[0, 0, 0, 0] = float("nan")
        try:
            train_step(model, real_A, real_B)
            stopped = "no"
        except NonFiniteLossError:
            stopped = "yes"
        (Path(folder) / f"nan{rank}.txt").write_text(stopped)
    finally:
        dist.destroy_process_group()


def test_ddp_gradients_are_averaged_and_weights_identical(tmp_path):
    port = _free_port()
    # fork: no re-import of torch in the children (CPU only, so fork is safe)
    mp.start_processes(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True, start_method="fork")
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # single-process steps on each rank's batch, from the same initial weights
    local = [_one_step(rank, ddp.Dist()) for rank in (0, 1)]
    assert r0["grad"].keys() == local[0]["grad"].keys()
    for key in r0["grad"]:
        # both ranks hold the same gradient: the mean of what each rank computed alone
        assert torch.equal(r0["grad"][key], r1["grad"][key]), key
        mean = (local[0]["grad"][key] + local[1]["grad"][key]) / 2
        torch.testing.assert_close(r0["grad"][key], mean, rtol=1e-4, atol=1e-6, msg=key)
        # and the same weights after the step
        assert torch.equal(r0["weight"][key], r1["weight"][key]), key
    assert (tmp_path / "nan0.txt").read_text() == (tmp_path / "nan1.txt").read_text() == "yes"
    # the step really used different data per rank (otherwise the test proves nothing)
    differs = [k for k in r0["grad"] if not torch.allclose(local[0]["grad"][k], local[1]["grad"][k])]
    assert len(differs) == len(r0["grad"])


def _images(folder: Path, n: int, seed: int, size: tuple[int, int]) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i}.png")


def _torchrun(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess, Path]:
    """`train` under torchrun, two CPU processes, a tiny model on 4 pictures per domain; returns the run folder."""
    _images(tmp_path / "a", 4, 1, (40, 36))
    _images(tmp_path / "b", 4, 2, (8, 8))
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
        "-m", "training", "--domain-a", str(tmp_path / "a"), "--domain-b", str(tmp_path / "b"),
        "--output", str(run), "--size", "32", "--load-size", "36", "--ngf", "8", "--n-blocks", "2", "--ndf", "8",
        "--epochs", "1", "--epochs-decay", "1", "--workers", "0", "--device", "cpu", *options,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=Path(__file__).parents[1])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, run


def test_torchrun_two_processes_end_to_end(tmp_path):
    proc, run = _torchrun(tmp_path, "--max-steps", "3")
    assert "status       max_steps" in proc.stdout
    state = load_state(run / "checkpoints/latest")
    # 4 pairs over 2 ranks = 2 steps per epoch: step 3 is the first of epoch 2
    assert state["counters"] == {"epoch": 1, "iteration": 1, "step": 3, "seconds": 0, "planned_steps": 0, "decay_start": 0}
    assert len(state["pools"]) == 2  # both ranks' pools are saved for an exact resume
    load_generator(run)
    rows = (run / "losses.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3  # only rank 0 writes


def test_torchrun_ranks_follow_one_time_limited_plan_and_stop_together(tmp_path):
    """Each rank measures its own speed; if each planned alone, one would stop a step early and leave the other
    waiting in the gradient all-reduce. They take rank 0's plan, so the run ends with the plan on every rank."""
    proc, run = _torchrun(tmp_path, "--time-limit", "4s", "--save-epoch-freq", "1000")
    assert "status       finished" in proc.stdout and "time limit   4s: " in proc.stdout
    counters = load_state(run / "checkpoints/latest")["counters"]
    assert counters["step"] == counters["planned_steps"] > counters["decay_start"] > 0
    rows = (run / "losses.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + counters["step"]

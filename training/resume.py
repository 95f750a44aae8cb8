"""What a resume needs besides the weights, saved with every checkpoint and loaded back bit for bit.

:func:`snapshot` gathers the optimizers (their parameter groups included, so a ``skip_lr`` run resumes
with its skip group), the AMP scaler, the fake-image pools of every rank, the RNGs and the counters;
:func:`restore` loads the weights and that state from ``checkpoints/latest`` and names what it cannot read.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pixelforge.model.checkpoint import (
    NETWORKS,
    STATE_JSON,
    STATE_TENSORS,
    CheckpointError,
    find_checkpoint_dir,
)
from pixelforge.model.loading import load_network_into
from pixelforge.model.state import load_state
from training import ddp
from training.average import RECORD as AVERAGE_RECORD
from training.cyclegan import CycleGAN


@dataclass
class Counters:
    epoch: int = 0  # current epoch, 0-based
    iteration: int = 0  # batches done in the current epoch
    step: int = 0  # optimizer steps in total (what --max-steps counts)
    # with --time-limit only (else 0): the run's training time so far in whole seconds, the steps planned once the
    # plan is fixed, and the step its decay began
    seconds: int = 0
    planned_steps: int = 0
    decay_start: int = 0


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def snapshot(model: CycleGAN, c: Counters, lr: float, device: torch.device, pools: list[dict]) -> dict[str, Any]:
    """Everything besides the weights that a resume needs to continue bit-for-bit."""
    return {
        "counters": asdict(c),
        "lr": lr,
        "opt_G": model.opt_G.state_dict(),
        "opt_D": model.opt_D.state_dict(),
        "scaler": model.scaler.state_dict(),
        "pools": pools,  # one {"A": ..., "B": ...} per rank
        "rng": _rng_state(device),
    }


def gather_pools(model: CycleGAN, d: ddp.Dist) -> list[dict]:
    mine = {"A": _cpu(model.pool_A.state_dict()), "B": _cpu(model.pool_B.state_dict())}
    if not d.enabled:
        return [mine]
    everyone: list[Any] = [None] * d.world
    torch.distributed.all_gather_object(everyone, mine)
    return everyone


def _cpu(pool_state: dict[str, Any]) -> dict[str, Any]:
    return {**pool_state, "images": [t.cpu() for t in pool_state["images"]]}


def restore(run: Path, nets: dict[str, torch.nn.Module], model: CycleGAN, device: torch.device, d: ddp.Dist) -> tuple[Counters, str]:
    if (Path(run) / AVERAGE_RECORD).is_file():
        raise CheckpointError(f"{run} holds averaged weights (`train average`, see {AVERAGE_RECORD}), not a training state "
                              f"to resume: train on from them in a new run with --init-from {run}")
    folder = find_checkpoint_dir(run)
    for name in NETWORKS:
        load_network_into(nets[name], folder / f"{name}.safetensors")
    state = load_state(folder)
    try:
        return _restore_state(state, model, device, d, folder)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        raise CheckpointError(
            f"cannot resume from {folder}: its training state ({STATE_JSON}, {STATE_TENSORS}) does not have the "
            f"expected shape ({type(exc).__name__}: {str(exc)[:200]}); resume from an epoch_NNNN folder copied to latest, "
            f"or start a new run with --init-from {folder}"
        ) from exc


def _restore_state(state: Any, model: CycleGAN, device: torch.device, d: ddp.Dist, folder: Path) -> tuple[Counters, str]:
    model.opt_G.load_state_dict(state["opt_G"])
    model.opt_D.load_state_dict(state["opt_D"])
    model.scaler.load_state_dict(state["scaler"])
    pools = state["pools"]
    if d.rank < len(pools):
        model.pool_A.load_state_dict(pools[d.rank]["A"], device)
        model.pool_B.load_state_dict(pools[d.rank]["B"], device)
    if d.rank == 0:
        _set_rng_state(state["rng"], device)
    note = "" if len(pools) == d.world else f" (saved with {len(pools)} processes, now {d.world}: pools of new ranks start empty)"
    counters = Counters(**state["counters"])
    if not all(isinstance(v, int) and v >= 0 for v in asdict(counters).values()):
        raise ValueError(f"counters must be non-negative integers, got {state['counters']}")
    return counters, f"resumed from {folder} at step {counters.step}{note}"

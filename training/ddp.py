"""Multi-GPU / multi-node through ``torchrun``: the few lines DDP needs, in one place.

``torchrun --nproc_per_node 4 -m training ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; without them
training runs in one process. Each process loads its own slice of every epoch
(:func:`training.data.epoch_pairs`), ``--batch-size`` is per process, and only rank 0 writes the
run folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> Dist:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank=rank, world=world, local_rank=local_rank)


def wrap(net: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    """DistributedDataParallel around ``net`` when running under torchrun; the net itself otherwise."""
    if not d.enabled:
        return net
    ids = [device.index if device.index is not None else d.local_rank] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids, broadcast_buffers=False)


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def broadcast_flag(d: Dist, flag: bool, device: torch.device) -> bool:
    """True on every rank if it is True on any (used to stop all ranks together)."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def broadcast_ints(d: Dist, values: list[int], device: torch.device) -> list[int]:
    """Rank 0's ``values`` on every rank (a plan every rank must follow to the same step)."""
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.int64, device=device)
    dist.broadcast(t, src=0)
    return [int(v) for v in t.tolist()]


def shutdown(d: Dist) -> None:
    """Leave the process group together: a rank that tears gloo down while another still talks to it can
    abort at interpreter exit, so every rank meets at a barrier first."""
    if d.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

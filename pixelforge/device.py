"""Torch device selection shared by training and inference (``auto`` means CUDA, then MPS, then CPU), and the
precision inference computes in there."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto", *, allow_mps: bool = True) -> torch.device:
    """The device called ``name``; ``auto`` picks the best one present. Fails early on an absent GPU.

    Training passes ``allow_mps=False``: its AMP and DDP paths are tested on CUDA and CPU only.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if allow_mps and mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """fp32 on CPU (bf16 there is slower without AMX); bf16 where the GPU has it, else fp16."""
    if precision == "fp32" or (precision == "auto" and device.type == "cpu"):
        return torch.float32
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16

"""CycleGAN networks, faithful to junyanz/pytorch-CycleGAN-and-pix2pix.

Module layout and parameter names match the reference exactly (``model.10.conv_block.5.weight``),
so its checkpoints load after the key clean-up in :mod:`pixelforge.model.loading`. Inference imports
this module; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def instance_norm(channels: int) -> nn.InstanceNorm2d:
    """The reference's ``norm='instance'``: no affine parameters, no running statistics."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """pad-conv-norm-ReLU-pad-conv-norm plus the skip connection."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            instance_norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            instance_norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3 with tanh.

    ``skip=True`` adds one thing the reference lacks: a 3x3 conv from the full-resolution stem
    (c7s1) to the output, added before the tanh. Without it every detail passes a 4x-downsampled
    bottleneck, and 1-2 px features (a cartoon's eyes) come out pale. Its parameters are
    ``skip.1.*``; the ``model.*`` keys stay the reference's, so a reference generator (or ours
    without the skip) initialises one with the skip zeroed (:func:`pixelforge.model.loading.init_networks`).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9, skip: bool = False) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError("n_blocks must be >= 0")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=True),
            instance_norm(ngf),
            nn.ReLU(True),
        ]
        n_down = 2
        for i in range(n_down):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=True),
                instance_norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        mult = 2**n_down
        layers += [ResnetBlock(ngf * mult) for _ in range(n_blocks)]
        for i in range(n_down):
            mult = 2 ** (n_down - i)
            layers += [
                nn.ConvTranspose2d(
                    ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True
                ),
                instance_norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.skip = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ngf, output_nc, kernel_size=3)) if skip else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.skip is None:
            return self.model(x)
        stem = self.model[:4](x)
        return torch.tanh(self.model[4:-1](stem) + self.skip(stem))


class NLayerDiscriminator(nn.Module):
    """PatchGAN; with n_layers=3 each output sees a 70x70 patch of the input."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        kw, padw = 4, 1
        seq: list[nn.Module] = [
            nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
            nn.LeakyReLU(0.2, True),
        ]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_prev, nf_mult = nf_mult, min(2**n, 8)
            seq += [
                nn.Conv2d(ndf * nf_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw, bias=True),
                instance_norm(ndf * nf_mult),
                nn.LeakyReLU(0.2, True),
            ]
        nf_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        seq += [
            nn.Conv2d(ndf * nf_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=True),
            instance_norm(ndf * nf_mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw),
        ]
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@dataclass(frozen=True)
class GeneratorSpec:
    """What it takes to rebuild a generator: stored in every checkpoint's config."""

    input_nc: int = 3
    output_nc: int = 3
    ngf: int = 64
    n_blocks: int = 9
    skip: int = 0  # 1: the long skip from the stem (not in the reference); an int so metadata stays integers

    def build(self) -> ResnetGenerator:
        return ResnetGenerator(self.input_nc, self.output_nc, self.ngf, self.n_blocks, bool(self.skip))


@dataclass(frozen=True)
class DiscriminatorSpec:
    input_nc: int = 3
    ndf: int = 64
    n_layers: int = 3

    def build(self) -> NLayerDiscriminator:
        return NLayerDiscriminator(self.input_nc, self.ndf, self.n_layers)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's ``init_type='normal'``: conv weights N(0, gain), biases 0."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
    return net


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())

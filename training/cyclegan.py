"""CycleGAN losses and one training step, readable top to bottom.

The recipe is the reference's (junyanz/pytorch-CycleGAN-and-pix2pix, ``cycle_gan_model.py``):
LSGAN, cycle L1 weighted by lambda_A/lambda_B, identity L1 at ``lambda_identity * lambda``,
discriminator loss halved, a pool of past fakes, Adam(2e-4, (0.5, 0.999)). One addition, off by
default: a colour-keeping loss (``lambda_content``), the L1 between each generator's input and output
after averaging ``content_pool``-pixel blocks. A filter must keep the picture's colours; without it,
G_A paints every cartoon in the brown-and-skin ramps that dominate the pixel-art domain, and the cycle
loss cannot stop that (G_B learns to undo it). A second, also off by default: a flat-shading loss
(``lambda_flat``), G_A's own pixel-to-pixel steps where its input has none, so flat areas stay flat
instead of taking on texture. A third, off by default: a symmetry loss (``lambda_sym``), the L1 between G_A's
drawing and its drawing of the same crop mirrored, flipped or transposed (turned back), which teaches one pass
what ``pixelate --views`` gets by averaging several. A fourth, off by default: views distillation
(``lambda_distill``), the L1 between G_A's drawing and the mean of a frozen teacher's (``init_from``'s G_A)
drawings of all eight views (:mod:`training.views`). A fifth, off by default: a line loss (``lambda_line``), the
contrast the colour-keeping target's thin lines have over their cells' neighbours and G_A's drawing lacks, averaged
over those line cells alone (:func:`training.outlines.line_loss`). A sixth, off by default: a speck loss
(``lambda_speck``), how much farther a drawn cell's most alike neighbour is than its target cell's
(:func:`training.specks.speck_loss`). Naming follows it:
``G_A: A -> B`` (pictures to pixel art), ``D_A`` judges domain B, ``G_B: B -> A``, ``D_B`` judges A.

Speed without changing the maths:

* both generators see two inputs each (translation and identity) in one batched call, and each
  discriminator sees real and fake in one call. Instance norm is per sample, so the results are
  the same as separate calls (up to float summation order);
* mixed precision is an ``autocast`` context around the forward passes, with a ``GradScaler``
  only for fp16; channels_last and torch.compile are applied to the networks by the caller;
* under DDP the generators and the discriminator updates are wrapped; the discriminators used
  inside the generator loss are the plain modules (their gradients are not wanted there).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from pixelforge.model.networks import init_weights
from training import ddp
from training.config import TrainConfig
from training.outlines import CONTRAST, block_colours, line_loss, outline_target
from training.pool import ImagePool
from training.specks import speck_loss
from training.views import symmetry_loss, views_mean


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or inf; raised before any optimizer step uses it."""

    def __init__(self, losses: dict[str, float]) -> None:
        bad = ", ".join(f"{k}={v}" for k, v in losses.items() if not math.isfinite(v))
        super().__init__(f"non-finite loss ({bad})")
        self.losses = losses


def lsgan_loss(prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
    """Least-squares GAN loss: MSE against an all-ones (real) or all-zeros (fake) patch map."""
    target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
    return F.mse_loss(prediction.float(), target.float())


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(a.float(), b.float())


@dataclass
class Losses:
    """One step's losses as plain floats (what goes to losses.csv)."""

    D_A: float
    G_A: float
    cycle_A: float
    idt_A: float
    D_B: float
    G_B: float
    cycle_B: float
    idt_B: float
    content_A: float = 0.0  # colour-keeping loss of G_A (A -> B); 0 when lambda_content is 0
    content_B: float = 0.0
    flat_A: float = 0.0  # flat-shading loss of G_A; 0 when lambda_flat is 0
    sym_A: float = 0.0  # symmetry loss of G_A; 0 when lambda_sym is 0
    distill_A: float = 0.0  # views-distillation loss of G_A; 0 when lambda_distill is 0
    line_A: float = 0.0  # line loss of G_A; 0 when lambda_line is 0
    speck_A: float = 0.0  # speck loss of G_A; 0 when lambda_speck is 0

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.names()}


@dataclass
class Weights:
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    lambda_content: float = 0.0
    content_pool: int = 4
    lambda_flat: float = 0.0
    lambda_sym: float = 0.0
    lambda_distill: float = 0.0
    content_salience: float = 0.0  # see content_loss
    content_lines: bool = False  # G_A's target keeps thin features' colour (see content_loss)
    content_lines_contrast: float = CONTRAST  # ... features standing out by this many lightness levels of 255
    content_reduce: str = "mean"  # G_A's target per block: the input's mean or its medoid (see content_loss)
    flat_contrast: float = 0.1  # an input step this large (on the -1..1 scale) halves the weight
    lambda_line: float = 0.0
    line_contrast: float = 20.0  # see line_loss
    lambda_speck: float = 0.0


def flat_loss(output: torch.Tensor, source: torch.Tensor, contrast: float) -> torch.Tensor:
    """Mean step between neighbouring output pixels, weighted by how flat the input is there.

    Where the input steps (an edge, a line) the weight falls to ~0, so outlines and shading at edges
    are free; where it is flat, any step the generator adds (texture, speckle) costs.
    """
    out, src = output.float(), source.float()
    loss = out.new_zeros(())
    for dim in (2, 3):
        step_out = out.diff(dim=dim).abs().mean(1)
        step_src = src.diff(dim=dim).abs().amax(1)
        weight = 1.0 / (1.0 + (step_src / contrast) ** 2)
        loss = loss + (weight * step_out).mean()
    return loss


def content_loss(output: torch.Tensor, source: torch.Tensor, pool: int, salience: float = 0.0, lines: bool = False,
                 lines_contrast: float = CONTRAST, target: torch.Tensor | None = None, reduce: str = "mean") -> torch.Tensor:
    """L1 between block averages: the colours must stay, the pixels inside a block may move (outlines, shading).

    With ``lines`` the source's blocks on thin features take the feature's colour instead of the
    average (:func:`training.outlines.outline_target`, features standing out by ``lines_contrast`` lightness
    levels of 255 or more), so an eye is kept dark rather than as a pale blot.

    With ``salience`` > 0 a block's weight is ``1 + salience * s``, ``s`` its input's mean absolute
    step from the 3x3 blocks around it (on the -1..1 scale). An even L1 is ruled by the large areas, so
    a generator that learnt from sprites may wash out an eye or a brow, a few blocks, almost for free;
    weighted, the small features that stand out (the classical path's key colours) pay their share.

    ``target`` (``pool`` times smaller than ``output``), when given, replaces the block averages of
    ``source``: the data loader found it in the picture before it was halved (``content_target = "picture"``).

    ``reduce="medoid"`` asks each block for one of its own pixels' colours (:func:`training.outlines.block_medoids`)
    instead of their mean: a block straddling an edge is then asked for one side, not the blend of both,
    which is how a pixel artist draws an edge (the quality benchmark's blended edge cells). With ``target`` the
    data loader has applied it already, in the picture.
    """
    out = F.avg_pool2d(output.float(), pool)
    if target is not None:
        src = target.float()
    else:
        src = outline_target(source, pool, lines_contrast, reduce) if lines else block_colours(source, pool, reduce)
    if salience <= 0:
        return l1(out, src)
    around = F.avg_pool2d(F.pad(src, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    weight = 1.0 + salience * (src - around).abs().mean(1, keepdim=True)
    return (weight * (out - src).abs()).mean()


@dataclass
class CycleGAN:
    """The four networks as the step calls them (possibly DDP/compiled), plus optimizers and pools.

    ``D_A_plain``/``D_B_plain`` are the same discriminators without the DDP wrapper (they may be
    compiled); they score the fakes in the generator loss, where no gradient sync is wanted.
    """

    G_A: nn.Module
    G_B: nn.Module
    D_A: nn.Module
    D_B: nn.Module
    D_A_plain: nn.Module
    D_B_plain: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    pool_A: ImagePool  # past fake A images, shown to D_B
    pool_B: ImagePool  # past fake B images, shown to D_A
    weights: Weights
    scaler: torch.amp.GradScaler
    autocast: contextlib.AbstractContextManager | None = None  # None: full precision
    cudagraphs: bool = False  # compiled with mode="reduce-overhead": each step starts a new graph generation
    teacher: nn.Module | None = None  # lambda_distill: a frozen G_A whose 8-view mean fake_B is drawn towards

    def _amp(self) -> contextlib.AbstractContextManager:
        return self.autocast if self.autocast is not None else contextlib.nullcontext()


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def _check(losses: dict[str, torch.Tensor]) -> None:
    """Stop before an optimizer step would write NaN/inf into the weights (one device sync)."""
    stacked = torch.stack([v.detach().float() for v in losses.values()])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(stacked)  # a NaN on any rank stops every rank (no hang in the next sync)
    values = dict(zip(losses, stacked.tolist()))
    if not all(math.isfinite(v) for v in values.values()):
        raise NonFiniteLossError(values)


def train_step(m: CycleGAN, real_A: torch.Tensor, real_B: torch.Tensor, target_A: torch.Tensor | None = None) -> Losses:
    """One CycleGAN iteration: forward both generators, update G_A+G_B, then update D_A and D_B.

    ``target_A``: G_A's colour-keeping target when the data loader made it (see :func:`content_loss`).
    """
    if m.cudagraphs:
        torch.compiler.cudagraph_mark_step_begin()
    w = m.weights
    n = real_A.shape[0]
    use_idt = w.lambda_identity > 0

    # 1. Forward the generators. G_A(real_A) = fake_B and, for the identity loss, G_A(real_B) = idt_A.
    with m._amp():
        if use_idt:
            fake_B, idt_A = m.G_A(torch.cat([real_A, real_B])).split([n, real_B.shape[0]])
            fake_A, idt_B = m.G_B(torch.cat([real_B, real_A])).split([real_B.shape[0], n])
        else:
            fake_B, fake_A = m.G_A(real_A), m.G_B(real_B)
        rec_A = m.G_B(fake_B)  # A -> B -> A
        rec_B = m.G_A(fake_A)  # B -> A -> B

        # 2. Generator losses; the discriminators are frozen for this part.
        set_requires_grad([m.D_A_plain, m.D_B_plain], False)
        loss_G_A = lsgan_loss(m.D_A_plain(fake_B), True)
        loss_G_B = lsgan_loss(m.D_B_plain(fake_A), True)
    loss_cycle_A = l1(rec_A, real_A) * w.lambda_a
    loss_cycle_B = l1(rec_B, real_B) * w.lambda_b
    zero = torch.zeros((), device=real_A.device)
    if use_idt:
        loss_idt_A = l1(idt_A, real_B) * w.lambda_b * w.lambda_identity
        loss_idt_B = l1(idt_B, real_A) * w.lambda_a * w.lambda_identity
    else:
        loss_idt_A = loss_idt_B = zero
    loss_content_A = (content_loss(fake_B, real_A, w.content_pool, w.content_salience, w.content_lines,
                                   w.content_lines_contrast, target_A, w.content_reduce) * w.lambda_content
                      if w.lambda_content > 0 else zero)
    loss_content_B = content_loss(fake_A, real_B, w.content_pool, w.content_salience) * w.lambda_content if w.lambda_content > 0 else zero
    loss_flat_A = flat_loss(fake_B, real_A, w.flat_contrast) * w.lambda_flat if w.lambda_flat > 0 else zero
    if w.lambda_sym > 0:  # one view per step, drawn from the seeded torch generator; transposes only on square crops
        k = int(torch.randint(1, 8 if real_A.shape[2] == real_A.shape[3] else 4, ()))
        with m._amp():
            loss_sym_A = symmetry_loss(m.G_A, real_A, fake_B, k) * w.lambda_sym
    else:
        loss_sym_A = zero
    if w.lambda_distill > 0 and m.teacher is not None:  # one pass learns what the teacher's 8 views draw together
        with m._amp():
            target = views_mean(m.teacher, real_A)
        loss_distill_A = l1(fake_B, target) * w.lambda_distill
    else:
        loss_distill_A = zero
    # the line and speck losses read the colour-keeping target (the picture's, with content_target = "picture")
    cells = target_A
    if cells is None and (w.lambda_line > 0 or w.lambda_speck > 0):
        cells = block_colours(real_A, w.content_pool, w.content_reduce)
    loss_line_A = line_loss(fake_B, cells, w.content_pool, w.line_contrast) * w.lambda_line if w.lambda_line > 0 else zero
    loss_speck_A = speck_loss(fake_B, cells, w.content_pool) * w.lambda_speck if w.lambda_speck > 0 else zero
    loss_G = (loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B + loss_content_A + loss_content_B
              + loss_flat_A + loss_sym_A + loss_distill_A + loss_line_A + loss_speck_A)
    _check({"G": loss_G})

    # 3. Update both generators.
    m.opt_G.zero_grad(set_to_none=True)
    m.scaler.scale(loss_G).backward()
    m.scaler.step(m.opt_G)

    # 4. Discriminators: real vs a fake drawn from the pool, each loss halved (D learns slower than G).
    set_requires_grad([m.D_A_plain, m.D_B_plain], True)
    fake_B_seen = m.pool_B.query(fake_B.detach())
    fake_A_seen = m.pool_A.query(fake_A.detach())
    with m._amp():
        pred_real_B, pred_fake_B = m.D_A(torch.cat([real_B, fake_B_seen.to(real_B.dtype)])).chunk(2)
        pred_real_A, pred_fake_A = m.D_B(torch.cat([real_A, fake_A_seen.to(real_A.dtype)])).chunk(2)
    loss_D_A = (lsgan_loss(pred_real_B, True) + lsgan_loss(pred_fake_B, False)) * 0.5
    loss_D_B = (lsgan_loss(pred_real_A, True) + lsgan_loss(pred_fake_A, False)) * 0.5
    _check({"D_A": loss_D_A, "D_B": loss_D_B})

    # 5. Update both discriminators.
    m.opt_D.zero_grad(set_to_none=True)
    m.scaler.scale(loss_D_A + loss_D_B).backward()
    m.scaler.step(m.opt_D)
    m.scaler.update()

    parts = [loss_D_A, loss_G_A, loss_cycle_A, loss_idt_A, loss_D_B, loss_G_B, loss_cycle_B, loss_idt_B,
             loss_content_A, loss_content_B, loss_flat_A, loss_sym_A, loss_distill_A, loss_line_A, loss_speck_A]
    return Losses(*torch.stack([p.detach().float() for p in parts]).tolist())


def generator_groups(nets: dict[str, nn.Module], cfg: TrainConfig) -> list[dict]:
    """The generators' parameters as optimizer groups: one, or with ``skip_lr`` != 1 a second for the long skip.

    The second group carries ``lr_scale``; the loop sets every group's lr to ``lr * lr_scale``. A skip added
    at zero to a trained net learns at that net's small fine-tuning lr and stays faint (stage 24: mean
    |weight| 0.002 after an epoch); its own multiple lets it grow without shaking the rest.
    """
    params = list(itertools.chain(nets["G_A"].named_parameters(), nets["G_B"].named_parameters()))
    if cfg.skip_lr == 1:
        return [{"params": [p for _, p in params]}]
    skip = [p for name, p in params if name.startswith("skip.")]
    rest = [p for name, p in params if not name.startswith("skip.")]
    return [{"params": rest}, {"params": skip, "lr": cfg.lr * cfg.skip_lr, "lr_scale": cfg.skip_lr}]


def build_model(cfg: TrainConfig, device: torch.device, d: ddp.Dist) -> tuple[dict[str, torch.nn.Module], CycleGAN]:
    """The four networks (reference init), optimizers and pools, plus the speed options.

    Returns the plain modules (what checkpoints hold) and the CycleGAN the step calls.
    """
    torch.manual_seed(cfg.seed)
    nets = {
        "G_A": init_weights(cfg.generator_spec.build(), cfg.init_gain),
        "G_B": init_weights(cfg.generator_spec.build(), cfg.init_gain),
        "D_A": init_weights(cfg.discriminator_spec.build(), cfg.init_gain),
        "D_B": init_weights(cfg.discriminator_spec.build(), cfg.init_gain),
    }
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"
    for net in nets.values():
        net.to(device)
        if channels_last:
            net.to(memory_format=torch.channels_last)
    betas = (cfg.beta1, cfg.beta2)
    fused = device.type == "cuda"  # one kernel per parameter group instead of a few per tensor
    opt_G = torch.optim.Adam(generator_groups(nets, cfg), lr=cfg.lr, betas=betas, fused=fused)
    opt_D = torch.optim.Adam(
        itertools.chain(nets["D_A"].parameters(), nets["D_B"].parameters()), lr=cfg.lr, betas=betas, fused=fused
    )

    def fast(net: torch.nn.Module) -> torch.nn.Module:
        return torch.compile(net, mode=cfg.compile_mode) if cfg.compile else net

    amp_dtype = torch.bfloat16 if cfg.amp_dtype == "bf16" else torch.float16
    model = CycleGAN(
        G_A=fast(ddp.wrap(nets["G_A"], d, device)),
        G_B=fast(ddp.wrap(nets["G_B"], d, device)),
        D_A=fast(ddp.wrap(nets["D_A"], d, device)),
        D_B=fast(ddp.wrap(nets["D_B"], d, device)),
        D_A_plain=fast(nets["D_A"]) if d.enabled else None,  # filled below when not distributed
        D_B_plain=fast(nets["D_B"]) if d.enabled else None,
        opt_G=opt_G,
        opt_D=opt_D,
        pool_A=ImagePool(cfg.pool_size, seed=cfg.seed * 1000 + 2 * d.rank),
        pool_B=ImagePool(cfg.pool_size, seed=cfg.seed * 1000 + 2 * d.rank + 1),
        weights=Weights(lambda_a=cfg.lambda_a, lambda_b=cfg.lambda_b, lambda_identity=cfg.lambda_identity,
                        lambda_content=cfg.lambda_content, content_pool=cfg.content_pool, lambda_flat=cfg.lambda_flat,
                        lambda_sym=cfg.lambda_sym, lambda_distill=cfg.lambda_distill,
                        content_salience=cfg.content_salience, content_lines=cfg.content_lines,
                        content_lines_contrast=cfg.content_lines_contrast, content_reduce=cfg.content_reduce,
                        lambda_line=cfg.lambda_line, line_contrast=cfg.line_contrast, lambda_speck=cfg.lambda_speck),
        scaler=torch.amp.GradScaler(device.type, enabled=cfg.amp and cfg.amp_dtype == "fp16"),
        autocast=torch.autocast(device.type, dtype=amp_dtype) if cfg.amp else None,
        cudagraphs=cfg.compile and cfg.compile_mode == "reduce-overhead",
    )
    if not d.enabled:
        model.D_A_plain, model.D_B_plain = model.D_A, model.D_B
    return nets, model

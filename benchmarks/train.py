"""Training speed: iterations/s and peak memory of one CycleGAN iteration, ours vs the reference loop.

The reference is a plain fp32 eager loop of the same networks, written the way
junyanz/pytorch-CycleGAN-and-pix2pix runs ``optimize_parameters`` (one network call per image
batch, contiguous tensors). Ours is :func:`training.cyclegan.train_step` as ``train`` builds it,
with the speed options of each variant. Data loading is left out (random tensors on the device):
this measures the step. Every variant runs in its own process, so peak memory is its own
(GPU: ``max_memory_allocated`` over warm-up and timed steps, CUDA graph pools included; CPU: the
growth of peak RSS over one step). On CPU the timed steps alternate between variants in one
process and the median counts, so a busy machine slows all variants alike.

    .venv/bin/python benchmarks/train.py                         # CPU: 64 px, ngf 64, 9 blocks
    .venv/bin/python benchmarks/train.py --size 48 --ngf 32 --n-blocks 6 --batch 4   # CPU: the native recipe's step
    python benchmarks/train.py --size 256 --steps 50             # GPU: fp32 vs AMP+channels_last(+compile)

Targets: GPU >= 2x the reference at 256 px, batch 1 with AMP + channels_last; CPU no slower.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

from pixelforge.model.networks import DiscriminatorSpec, GeneratorSpec, init_weights
from training import ddp
from training.config import TrainConfig
from training.cyclegan import build_model, train_step
from training.pool import ImagePool

VARIANTS = {
    "reference": "reference loop, fp32 eager",
    "fp32": "ours, fp32 eager",
    "fp32-cl": "ours, fp32 + channels_last",
    "bf16": "ours, AMP bf16",
    "bf16-cl": "ours, AMP bf16 + channels_last",
    "bf16-cl-compile": "ours, AMP bf16 + channels_last + compile",
    "bf16-cl-cudagraphs": "ours, AMP bf16 + channels_last + compile (CUDA graphs)",
}
GPU_DEFAULT = ["reference", "fp32", "bf16-cl", "bf16-cl-compile", "bf16-cl-cudagraphs"]
CPU_DEFAULT = ["reference", "fp32", "bf16"]  # add fp32-cl with --variants (slower on CPU, so off by default)


def reference_step(nets, opt_G, opt_D, pools, real_A, real_B):
    """The reference's optimize_parameters: separate calls, LSGAN, cycle 10, identity 0.5 * 10."""
    G_A, G_B, D_A, D_B = nets
    mse, l1 = torch.nn.functional.mse_loss, torch.nn.functional.l1_loss
    fake_B = G_A(real_A)
    rec_A = G_B(fake_B)
    fake_A = G_B(real_B)
    rec_B = G_A(fake_A)
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(False)
    opt_G.zero_grad()
    loss_idt_A = l1(G_A(real_B), real_B) * 10 * 0.5
    loss_idt_B = l1(G_B(real_A), real_A) * 10 * 0.5
    pa, pb = D_A(fake_B), D_B(fake_A)
    loss_G = mse(pa, torch.ones_like(pa)) + mse(pb, torch.ones_like(pb))
    loss_G = loss_G + l1(rec_A, real_A) * 10 + l1(rec_B, real_B) * 10 + loss_idt_A + loss_idt_B
    loss_G.backward()
    opt_G.step()
    for p in list(D_A.parameters()) + list(D_B.parameters()):
        p.requires_grad_(True)
    opt_D.zero_grad()
    for D, real, fake in ((D_A, real_B, pools[1].query(fake_B)), (D_B, real_A, pools[0].query(fake_A))):
        pr, pf = D(real), D(fake.detach())
        ((mse(pr, torch.ones_like(pr)) + mse(pf, torch.zeros_like(pf))) * 0.5).backward()
    opt_D.step()


def make_step(variant: str, args: argparse.Namespace):
    """A zero-argument function that runs one training iteration of ``variant`` on fixed random images."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    cfg = TrainConfig(
        domain_a="-", domain_b="-", output="-", size=args.size, ngf=args.ngf, n_blocks=args.n_blocks,
        batch_size=args.batch, device=args.device, amp=variant.startswith("bf16"),
        channels_last="-cl" in variant, compile=variant.endswith(("compile", "cudagraphs")),
        compile_mode="reduce-overhead" if variant.endswith("cudagraphs") else "default",
    )
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    real_A = torch.rand(args.batch, 3, args.size, args.size, device=device).mul(2).sub(1).contiguous(memory_format=fmt)
    real_B = torch.rand(args.batch, 3, args.size, args.size, device=device).mul(2).sub(1).contiguous(memory_format=fmt)
    if variant == "reference":
        g, dspec = GeneratorSpec(ngf=args.ngf, n_blocks=args.n_blocks), DiscriminatorSpec()
        nets = [init_weights(s.build()).to(device) for s in (g, g, dspec, dspec)]
        opt_G = torch.optim.Adam(list(nets[0].parameters()) + list(nets[1].parameters()), lr=2e-4, betas=(0.5, 0.999))
        opt_D = torch.optim.Adam(list(nets[2].parameters()) + list(nets[3].parameters()), lr=2e-4, betas=(0.5, 0.999))
        pools = [ImagePool(50), ImagePool(50)]

        def step():
            reference_step(nets, opt_G, opt_D, pools, real_A, real_B)
    else:
        _, model = build_model(cfg, device, ddp.Dist())

        def step():
            train_step(model, real_A, real_B)

    def timed_step() -> float:
        t0 = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    return timed_step


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_one(variant: str, args: argparse.Namespace) -> dict:
    """Warm-up, then ``args.steps`` timed iterations, in this process (GPU: one process per variant)."""
    rss0 = _rss_gib()
    step = make_step(variant, args)
    warm = sum(step() for _ in range(args.warmup))
    seconds = sum(step() for _ in range(args.steps))
    if args.device.startswith("cuda"):
        mem = f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB (GPU)"
    else:
        mem = f"+{_rss_gib() - rss0:.2f} GiB (RSS)"
    return {"variant": variant, "it_s": args.steps / seconds if args.steps else float("nan"), "warmup_s": warm, "mem": mem}


def interleaved(variants: list[str], args: argparse.Namespace) -> dict[str, float]:
    """CPU timing: all variants in one process, one step each in turn, median per variant.

    A shared CPU's load drifts over minutes; alternating the variants step by step exposes them to the
    same drift, so the ratios hold even when the absolute numbers wobble.
    """
    steps = {v: make_step(v, args) for v in variants}
    for v in variants:
        for _ in range(args.warmup):
            steps[v]()
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.steps):
        for v in variants:
            times[v].append(steps[v]())
    return {v: 1.0 / statistics.median(t) for v, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=None, help="default 256 on GPU, 64 on CPU")
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=9)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="timed iterations (default 50 GPU, 3 per variant on CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default 15 GPU, 1 CPU)")
    parser.add_argument("--variants", default=None, help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    args.size = args.size or (256 if gpu else 64)
    args.steps = args.steps or (50 if gpu else 3)
    args.warmup = args.warmup if args.warmup is not None else (15 if gpu else 1)
    if args.one:
        print(json.dumps(run_one(args.one, args)))
        return 0
    variants = args.variants.split(",") if args.variants else (GPU_DEFAULT if gpu else CPU_DEFAULT)
    name = torch.cuda.get_device_name() if gpu else f"CPU ({torch.get_num_threads()} threads)"
    print(f"CycleGAN training step: {args.size} px, batch {args.batch}, ngf {args.ngf}, {args.n_blocks} blocks, "
          f"ndf 64; {args.steps} timed steps after {args.warmup} warm-up; {name}, torch {torch.__version__}")
    rows = []
    for variant in variants:  # one process per variant: its own peak memory (and on GPU its own timing)
        one_steps, one_warm = (args.steps, args.warmup) if gpu else (1, 0)
        cmd = [sys.executable, __file__, "--one", variant, "--device", args.device, "--size", str(args.size),
               "--ngf", str(args.ngf), "--n-blocks", str(args.n_blocks), "--batch", str(args.batch),
               "--steps", str(one_steps), "--warmup", str(one_warm)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{variant}: failed\n{proc.stderr[-2000:]}")
            rows.append({"variant": variant, "it_s": float("nan"), "warmup_s": float("nan"), "mem": "failed"})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if not gpu:
        rates = interleaved([r["variant"] for r in rows if r["mem"] != "failed"], args)
        for r in rows:
            r["it_s"] = rates.get(r["variant"], float("nan"))
    base = next((r["it_s"] for r in rows if r["variant"] == "reference"), float("nan"))
    print(f"{'variant':56} {'it/s':>8} {'ms/it':>8} {'warm-up s':>10} {'peak memory':>20} {'vs reference':>13}")
    for r in rows:
        print(f"{VARIANTS[r['variant']]:56} {r['it_s']:8.2f} {1000 / r['it_s']:8.1f} {r['warmup_s']:10.1f} "
              f"{r['mem']:>20} {r['it_s'] / base:12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

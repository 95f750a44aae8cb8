"""What one training run writes for people besides its checkpoints: sample grids, the run page, rejected.tsv and
the summary `train` prints at the end. The drawing (loss plot, grids, page template) is in :mod:`training.report`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from pixelforge.io import atomic_write
from pixelforge.model.checkpoint import CHECKPOINTS_DIR, LATEST
from training.config import TrainConfig
from training.cyclegan import Losses
from training.data import Domain, to_image
from training.report import plot_losses, read_losses, sample_grid, write_index
from training.resume import Counters
from training.timeplan import format_duration


@dataclass
class RunResult:
    """What :func:`training.loop.train` returns: how the session ended, and what the summary says of it."""

    run: Path
    status: str  # finished | max_steps | non_finite
    counters: Counters
    seconds: float
    steps_this_session: int
    last_losses: dict[str, float] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    message: str = ""
    plan: str = ""  # with --time-limit: the plan, as the summary says it


@torch.no_grad()
def write_samples(run: Path, label: str, nets: dict[str, torch.nn.Module], real_A: torch.Tensor, real_B: torch.Tensor) -> None:
    """samples/<label>_A.png (real A, fake B, rec A per row) and _B.png (real B, fake A, rec B)."""
    device = next(nets["G_A"].parameters()).device
    out = run / "samples"
    out.mkdir(exist_ok=True)
    for real, g, back, suffix in ((real_A, nets["G_A"], nets["G_B"], "A"), (real_B, nets["G_B"], nets["G_A"], "B")):
        x = real.to(device)
        fake = g(x)
        rec = back(fake)
        rows = [[to_image(x[i]), to_image(fake[i]), to_image(rec[i])] for i in range(x.shape[0])]
        sample_grid(rows, out / f"{label}_{suffix}.png")


def _labels(run: Path) -> list[str]:
    return sorted({p.name.rsplit("_", 1)[0] for p in (run / "samples").glob("*_A.png")}) if (run / "samples").is_dir() else []


def epoch_line(cfg: TrainConfig, c: Counters) -> str:
    """Where the run stands: the epoch of the recipe's, or with a time limit, of the plan's steps."""
    if cfg.time_limit is None:
        return f"{c.epoch} of {cfg.total_epochs} (iteration {c.iteration})"
    plan = f"{c.planned_steps:,} steps planned, the decay from step {c.decay_start:,}" if c.planned_steps else "steps not planned yet"
    return f"{c.epoch} (iteration {c.iteration}); time limit {format_duration(cfg.time_limit_s or 0)}: {plan}"


def write_page(run: Path, cfg: TrainConfig, c: Counters, status: str, dom_a: Domain, dom_b: Domain) -> None:
    """index.html and loss.png, rewritten at every checkpoint: where the run stands and what it draws."""
    rows = read_losses(run / "losses.csv") if (run / "losses.csv").exists() else []
    plot_losses(rows, Losses.names(), run / "loss.png")
    summary = {
        "status": status,
        "step": str(c.step),
        "epoch": epoch_line(cfg, c),
        "domain A": dom_a.describe(),
        "domain B": dom_b.describe() + (f", each {cfg.b_balance} value drawn equally often" if cfg.b_balance else ""),
        "model": f"ResnetGenerator ngf={cfg.ngf} n_blocks={cfg.n_blocks}{' with the long skip' if cfg.skip else ''}, PatchGAN ndf={cfg.ndf} n_layers={cfg.n_layers}",
        "size / batch": f"{cfg.size} px / {cfg.batch_size}",
        "config": "config.json",
    }
    write_index(run, title=f"pixelforge run {run.name}", summary=summary, labels=_labels(run),
                note="G_A turns pictures (A) into pixel art (B); G_B goes back. Checkpoints: checkpoints/latest.")


def write_rejected(run: Path, rejected: list[str]) -> None:
    """rejected.tsv: each training file the data loader refused, with its reason, once."""
    if rejected:
        atomic_write(run / "rejected.tsv", "item\treason\n" + "\n".join(dict.fromkeys(rejected)) + "\n")


def summary_lines(result: RunResult) -> list[str]:
    """What `train` prints when it stops: where the run is, how far it got, at what speed, and what went wrong."""
    c = result.counters
    rate = result.steps_this_session / result.seconds if result.seconds > 0 else math.nan
    lines = [
        f"run          {result.run}",
        f"status       {result.status}",
        f"steps        {c.step} total, {result.steps_this_session} this session ({rate:.2f} steps/s, {result.seconds:.1f} s)",
        f"epoch        {c.epoch} (+{c.iteration} iterations)",
        f"checkpoint   {result.run / CHECKPOINTS_DIR / LATEST}",
        f"page         {result.run / 'index.html'}",
    ]
    if result.plan:
        lines.append(f"time limit   {result.plan}")
    if result.last_losses:
        lines.append("last losses  " + "  ".join(f"{k}={v:.4f}" for k, v in result.last_losses.items()))
    if result.rejected:
        lines.append(f"rejected     {len(set(result.rejected))} files (see {result.run / 'rejected.tsv'})")
    return lines

"""The training loop, visible in one function: data, step, log, checkpoint, samples.

Where things plug in (read :func:`train` top to bottom):

* **data** - :func:`training.data.open_domain` fails before any training on a missing, empty or
  unreadable domain; each epoch is a fresh :class:`UnpairedEpoch` started at the saved iteration;
* **AMP / channels_last / compile / DDP** - :func:`training.cyclegan.build_model`;
* **the step** - :func:`training.cyclegan.train_step` (raises on NaN/inf before an update);
* **resume** - :func:`training.resume.restore` loads weights, optimizers, pools, RNGs and counters
  from ``checkpoints/latest``; :func:`training.resume.snapshot` is its mirror image;
* **time limit** - :class:`training.timeplan.TimePlan` sets the run's steps and lr ramp from its measured speed;
* **outputs** - :mod:`training.run_outputs` (samples/, index.html, rejected.tsv, the summary), drawn by
  :mod:`training.report` (losses.csv, loss.png, the page).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from pixelforge.device import resolve_device as pick_device
from pixelforge.model.checkpoint import CHECKPOINTS_DIR, LATEST, discriminator_metadata, generator_metadata
from pixelforge.model.hub import resolve_checkpoint
from pixelforge.model.loading import init_networks
from pixelforge.model.recorded import MODEL_INPUT, MODEL_INPUTS
from pixelforge.model.state import save_checkpoint
from training import ddp
from training.config import ARCHITECTURE_FIELDS, ConfigError, TrainConfig, load_run_config
from training.cyclegan import CycleGAN, Losses, NonFiniteLossError, build_model, train_step
from training.data import Preprocess, UnpairedEpoch, epoch_pairs, open_domain, sample_batch
from training.report import LossLog
from training.resume import Counters, gather_pools, restore, snapshot
from training.run_outputs import RunResult, write_page, write_rejected, write_samples
from training.timeplan import TimePlan


def resolve_device(cfg: TrainConfig) -> torch.device:
    try:
        return pick_device(cfg.device, allow_mps=False)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"--device {cfg.device}: {exc}") from exc


# --------------------------------------------------------------------------- outputs


def _metadata(cfg: TrainConfig) -> dict[str, dict[str, str]]:
    return {
        "G_A": generator_metadata(cfg.generator_spec, "AtoB", cfg.size) | ({MODEL_INPUT: cfg.a_resize} if cfg.a_resize in MODEL_INPUTS and cfg.a_resize != "lines" else {}),
        "G_B": generator_metadata(cfg.generator_spec, "BtoA", cfg.size),
        "D_A": discriminator_metadata(cfg.discriminator_spec, cfg.size),
        "D_B": discriminator_metadata(cfg.discriminator_spec, cfg.size),
    }


# --------------------------------------------------------------------------- the loop


def prepare_config(cfg: TrainConfig) -> TrainConfig:
    """Check a resume against the run's saved config (architecture and data stream must not change)."""
    if not cfg.resume:
        return cfg.validate()
    saved = load_run_config(cfg.resume)
    changed = [f"{k}: {getattr(saved, k)} -> {getattr(cfg, k)}" for k in ARCHITECTURE_FIELDS if getattr(saved, k) != getattr(cfg, k)]
    if changed:
        raise ConfigError(f"cannot resume {cfg.resume} with a different " + "; ".join(changed))
    return cfg.validate()


def check_output(cfg: TrainConfig) -> None:
    """Refuse an ``--output`` that would overwrite files: train writes only into a new or empty folder, or
    into its own run folder when resuming it; and never into (or around) a local training domain."""
    run = Path(cfg.output)
    for flag, source in (("--domain-a", cfg.domain_a), ("--domain-b", cfg.domain_b)):
        if source and Path(source).exists():
            out, data = run.resolve(), Path(source).resolve()
            if out == data or data in out.parents or out in data.parents:
                raise ConfigError(f"--output {run} and {flag} {source} overlap: the run's samples would be read back as "
                                  "training images (or the data overwritten); put the run folder elsewhere")
    if cfg.resume or not run.exists():
        return
    if not run.is_dir():
        raise ConfigError(f"--output {run} is a file, not a folder")
    if (run / CHECKPOINTS_DIR / LATEST).exists():
        raise ConfigError(f"{run} already holds a run; continue it with --resume {run} or pick another --output")
    if any(run.iterdir()):
        try:
            load_run_config(run)
            what = "a run that stopped before its first checkpoint"
        except ConfigError:
            what = "not a run folder"
        raise ConfigError(f"--output {run} exists and is not empty ({what}); train writes config.json, losses.csv and "
                          "index.html there and never overwrites files it did not make: pick a new folder")


def _set_lr(model: CycleGAN, lr: float) -> None:
    """Every group at ``lr``, times its ``lr_scale`` (the long skip's ``skip_lr``) where it has one."""
    for opt in (model.opt_G, model.opt_D):
        for group in opt.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)


def train(cfg: TrainConfig, *, progress: bool = True, log=print) -> RunResult:  # noqa: ANN001
    """Train (or resume) a CycleGAN run as ``cfg`` says; returns how it ended."""
    cfg = prepare_config(cfg)
    if cfg.tensorboard:
        _tensorboard(None)  # fail before any work if the package is missing
    started = time.perf_counter()
    device = resolve_device(cfg)
    d = ddp.init_from_env(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    run = Path(cfg.output)
    check_output(cfg)

    # 1. Data: every domain problem surfaces here, before a single step.
    pre = Preprocess(cfg.size, cfg.load_size, cfg.flip, cfg.a_resize, cfg.b_max_scale, cfg.a_min_load_size, cfg.b_scale,
                     cfg.content_pool if cfg.content_target == "picture" else 0, cfg.content_lines_contrast,
                     cfg.content_reduce)
    dom_a = open_domain(cfg.domain_a, "A", split=cfg.split)
    dom_b = open_domain(cfg.domain_b, "B", split=cfg.split)
    rejected = [f"{r.item}\t{r.reason}" for r in dom_a.rejected + dom_b.rejected]
    samples_A, samples_B = sample_batch(dom_a, pre, cfg.n_samples), sample_batch(dom_b, pre, cfg.n_samples)  # None: 0
    weights_b = dom_b.balance_weights(cfg.b_balance) if cfg.b_balance else None
    steps_per_epoch = -(-len(epoch_pairs(len(dom_a), len(dom_b), cfg.seed, 0, d.rank, d.world)) // cfg.batch_size)

    # 2. Model, then the saved state if resuming.
    nets, model = build_model(cfg, device, d)
    c = Counters()
    if cfg.resume:
        c, note = restore(run, nets, model, device, d)
        if d.is_main:
            log(note)
    elif cfg.init_from:
        loaded = init_networks(resolve_checkpoint(cfg.init_from), nets)  # hf://OWNER/NAME: the Hub's generators
        if d.is_main:
            log(f"initialised {', '.join(loaded)} from {cfg.init_from}")
    if cfg.lambda_distill > 0:  # the teacher is init_from's G_A on a resume too: the target never drifts
        model.teacher = _teacher(cfg, device)
    if d.is_main:
        run.mkdir(parents=True, exist_ok=True)
        cfg.save(run / "config.json")
        if rejected:
            log(f"{len(rejected)} files rejected before training (see {run / 'rejected.tsv'})")
    losses_log = LossLog(run / "losses.csv", Losses.names(), resume_step=c.step) if d.is_main else None
    board = _tensorboard(run) if cfg.tensorboard and d.is_main else None
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type == "cuda"
    mem_format = torch.channels_last if channels_last else torch.contiguous_format
    plan = _time_plan(cfg, c)
    if plan and plan.fixed and d.is_main:
        log(f"time limit: the plan saved with the run holds ({plan.total:,} steps, the decay from step "
            f"{plan.decay_start:,}); a fixed plan is finished as it was made, whatever --time-limit says now")
    total = cfg.max_steps or (plan.total if plan else cfg.total_epochs * steps_per_epoch) or None
    bar = tqdm(total=total, initial=min(c.step, total or c.step), unit="step", disable=not (progress and d.is_main),
               dynamic_ncols=True, file=sys.stderr)

    def lr_now() -> float:
        """The time limit's planned lr for this step, else the reference's for this epoch (``lr_decay = "step"``
        sets its own per step below)."""
        return cfg.lr * plan.lr_factor(c.step) if plan else cfg.lr_at(c.epoch)

    lr = lr_now()
    last: dict[str, float] = {}
    saved_step = c.step if cfg.resume else -1
    session_start = c.step

    def checkpoint(also_as: str | None, label: str, status: str) -> None:
        """Write checkpoints/latest (+ epoch folder), the samples and the page (rank 0 writes)."""
        nonlocal saved_step
        if plan:
            c.seconds, c.planned_steps, c.decay_start = round(plan.elapsed(time.perf_counter())), plan.total, plan.decay_start
        pools = gather_pools(model, d)
        if d.is_main:
            save_checkpoint(run / CHECKPOINTS_DIR, nets, _metadata(cfg), snapshot(model, c, lr, device, pools), also_as=also_as)
            write_rejected(run, rejected)
            losses_log.flush()
            if samples_A is not None and samples_B is not None:
                write_samples(run, label, nets, samples_A, samples_B)
            write_page(run, cfg, c, status, dom_a, dom_b)
        saved_step = c.step
        ddp.barrier(d)

    def more_epochs() -> bool:
        """An epoch to start: the recipe's epochs, or with a time limit until the plan's steps are done."""
        return not plan.done(c.step) if plan else c.epoch < cfg.total_epochs

    status, message = "finished", ""
    if plan:
        plan.start(c.step, time.perf_counter())
    try:
        while more_epochs() and not (cfg.max_steps and c.step >= cfg.max_steps):
            lr = lr_now()
            _set_lr(model, lr)
            epoch_data = UnpairedEpoch(dom_a, dom_b, pre, cfg.seed, c.epoch, d.rank, d.world,
                                       start=c.iteration * cfg.batch_size, weights_b=weights_b)
            loader = torch.utils.data.DataLoader(
                epoch_data, batch_size=cfg.batch_size, shuffle=False, num_workers=cfg.workers,
                pin_memory=device.type == "cuda", persistent_workers=False,
            )
            for batch in loader:
                real_A = batch["A"].to(device, non_blocking=True).contiguous(memory_format=mem_format)
                real_B = batch["B"].to(device, non_blocking=True).contiguous(memory_format=mem_format)
                rejected += [line for text in batch["bad"] for line in text.split("\n") if line]
                if plan:
                    lr = lr_now()
                    _set_lr(model, lr)
                elif cfg.lr_decay == "step":
                    lr = cfg.lr_at_step(c.step, steps_per_epoch)
                    _set_lr(model, lr)
                target_A = batch["A_target"].to(device, non_blocking=True) if "A_target" in batch else None
                losses = train_step(model, real_A, real_B, target_A)
                c.step += 1
                c.iteration += 1
                last = losses.as_dict()
                if losses_log:
                    losses_log.append(c.step, c.epoch, c.iteration, lr, last)
                if board:
                    for k, v in last.items():
                        board.add_scalar(f"loss/{k}", v, c.step)
                bar.update(1)
                bar.set_postfix({k: f"{v:.3f}" for k, v in last.items() if k in ("D_A", "G_A", "cycle_A", "D_B")}, refresh=False)
                if cfg.save_latest_steps and c.step % cfg.save_latest_steps == 0:
                    checkpoint(None, f"epoch_{c.epoch + 1:04d}_step_{c.step:07d}", "running")
                if plan and not plan.fixed:  # the same on every rank: each takes rank 0's plan below
                    plan.update(c.step, time.perf_counter())
                    if d.enabled:  # so all ranks anneal alike and stop at the same step
                        plan.total, plan.decay_start = ddp.broadcast_ints(d, [plan.total, plan.decay_start], device)
                    if (plan.total or plan.estimate) not in (0, bar.total):  # the estimate until the plan is fixed
                        bar.total = plan.total or plan.estimate
                        bar.refresh()
                if plan and plan.done(c.step):
                    break
                if cfg.max_steps and c.step >= cfg.max_steps:
                    break
            else:
                c.epoch += 1
                c.iteration = 0
                keep = c.epoch % cfg.save_epoch_freq == 0 or (c.epoch == cfg.total_epochs and not plan)
                checkpoint(f"epoch_{c.epoch:04d}" if keep else None, f"epoch_{c.epoch:04d}", "running")
                continue
            break
        if cfg.max_steps and c.step >= cfg.max_steps and (not plan.done(c.step) if plan else c.epoch < cfg.total_epochs):
            status = "max_steps"
        if saved_step != c.step:
            checkpoint(None, f"epoch_{c.epoch + 1:04d}_step_{c.step:07d}", status)
        elif d.is_main:
            write_page(run, cfg, c, status, dom_a, dom_b)
    except NonFiniteLossError as exc:
        status = "non_finite"
        kept = f"the last good checkpoint is {run / CHECKPOINTS_DIR / LATEST} (step {saved_step})" if saved_step >= 0 else "no checkpoint had been written yet"
        message = (
            f"stopped: {exc} at epoch {c.epoch} iteration {c.iteration} (step {c.step + 1}); nothing from this step "
            f"was saved and {kept}. Lower --lr, or try without --amp / with --amp-dtype bf16."
        )
        if d.is_main:
            write_rejected(run, rejected)
            write_page(run, cfg, c, f"stopped: non-finite loss at step {c.step + 1}", dom_a, dom_b)
    finally:
        bar.close()
        if losses_log:
            losses_log.close()
        if board:
            board.close()
    ddp.shutdown(d)
    said = plan.describe(time.perf_counter()) if plan else ""
    return RunResult(run, status, c, time.perf_counter() - started, c.step - session_start, last, rejected, message, said)


def _time_plan(cfg: TrainConfig, c: Counters) -> TimePlan | None:
    """The ``--time-limit`` plan, carried on from the checkpoint's counters on a resume."""
    limit = cfg.time_limit_s
    if limit is None:
        return None
    return TimePlan.for_recipe(limit, cfg.epochs, cfg.epochs_decay, c.seconds, c.planned_steps, c.decay_start)


def _teacher(cfg: TrainConfig, device: torch.device) -> torch.nn.Module:
    """A frozen copy of ``init_from``'s G_A, for ``lambda_distill``."""
    teacher = cfg.generator_spec.build()
    init_networks(resolve_checkpoint(cfg.init_from), {"G_A": teacher})
    teacher.to(device).eval().requires_grad_(False)
    return teacher


def _tensorboard(run: Path | None):  # noqa: ANN202
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ConfigError("--tensorboard needs the tensorboard package (pip install tensorboard)") from exc
    return SummaryWriter(str(run / "tensorboard")) if run is not None else None

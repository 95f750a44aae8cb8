"""`train`: CycleGAN training on curated datasets, Hub datasets or image folders.

Options come from, in rising priority: the defaults in :class:`training.config.TrainConfig`, a
TOML file (``--config``), the saved ``config.json`` of the run being resumed, and the command line.
``train export RUN --to DIR`` writes the run's latest weights in the reference's ``.pth`` format;
``train publish RUN --repo OWNER/NAME`` publishes them as a model repo on the Hugging Face Hub;
``train average RUN --output NEW`` averages a run's epoch checkpoints into one model.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from pixelforge.model.recorded import MODEL_INPUTS
from training.config import ConfigError, TrainConfig, load_run_config, load_toml

EPILOG = """\
examples:
  train --domain-a photos/ --domain-b data/pixelart --output runs/p2p --max-steps 2000
  train --domain-a datasets/horse2zebra --output runs/h2z          (reference trainA/ trainB/ layout)
  train --resume runs/p2p                                          (continue exactly where it stopped)
  torchrun --nproc_per_node 4 -m training --config train.toml      (DDP; --batch-size is per process)
  train export runs/p2p --to ref/                                  (latest_net_G_A.pth etc.)
  train publish runs/p2p --repo me/pixel-art --dry-run             (a model repo on the Hub, with its card)
  train average runs/p2p --last 5 --output runs/p2p-avg            (the mean of its last 5 epochs' generators)

the run folder: config.json, losses.csv, loss.png, index.html, samples/, checkpoints/latest/
(G_A.safetensors = pictures -> pixel art, used by `pixelate --checkpoint runs/NAME`).
"""

# option -> help; every option maps to the TrainConfig field of the same name (dashes -> underscores)
HELP = {
    "domain-a": "domain A (pictures): image folder, dataset folder from `curate run`, Hub id, or a folder with trainA/ trainB/",
    "domain-b": "domain B (pixel art): same kinds; preprocessed with integer nearest-neighbour scaling only",
    "output": "run folder to create, e.g. runs/NAME",
    "split": "split to read from dataset folders and Hub datasets (default train)",
    "size": "square training crop in pixels (default 256)",
    "load-size": "domain A: shorter side is resized to this before the random crop (default 286)",
    "a-resize": "domain A downscale: bicubic (reference), box (area average, as pixelate reaches its cell grid) or lines "
                "(cropped at twice the size and halved as pixelate feeds its generator: box, thin features kept at their colour); "
                "cells, dark-cells, classic-dark-cells, classic-line-cells, classic-thin-cells: lines with the picture's feature cells "
                "drawn in (all; dark; dark where the classical method has a dark line cell; dark where it has a line cell; "
                "as the last, less the highlight cells beside one it draws dark)",
    "b-max-scale": "domain B: largest nearest-neighbour scale (default 0 = the largest that fits; 1 = native pixels, "
                   "one generator pixel per art pixel, as pixelate runs the model)",
    "a-min-load-size": "domain A scale jitter: the shorter side is drawn from this..load-size (default 0 = off); "
                       "a picture smaller than the crop is placed on white",
    "b-balance": "domain B: a dataset column whose values are drawn equally often, e.g. sha256 (each original file "
                 "once, however many frames its sheet was cut into) or source (default: every row equally, the reference)",
    "ngf": "generator width (default 64)",
    "n-blocks": "generator residual blocks (default 9)",
    "skip-lr": "with --skip: the skip's learning rate as a multiple of --lr (default 1); a skip grown from zero "
               "inside a trained net stays faint at the net's lr",
    "ndf": "discriminator width (default 64)",
    "n-layers": "discriminator conv layers; 3 = 70x70 PatchGAN (default 3)",
    "batch-size": "images per step and per process (default 1)",
    "epochs": "epochs at the initial learning rate (default 100)",
    "epochs-decay": "further epochs with the learning rate decaying linearly to 0 (default 100)",
    "lr-decay": "epoch (the reference: the lr drops once per decay epoch, so a single decay epoch runs at half the lr "
                "throughout) or step (linear per optimizer step, reaching ~0 at the last step; for short fine-tunes)",
    "lr": "Adam learning rate (default 2e-4)",
    "lambda-a": "cycle loss weight A->B->A (default 10)",
    "lambda-b": "cycle loss weight B->A->B (default 10)",
    "lambda-identity": "identity loss weight relative to lambda (default 0.5; 0 disables)",
    "lambda-content": "colour-keeping loss weight: L1 between each generator's input and output averaged over "
                      "content-pool blocks, so the net redraws shapes but keeps the picture's colours (default 0 = reference)",
    "content-pool": "block size of the colour-keeping loss in pixels (default 4)",
    "content-salience": "colour-keeping weight of a block rises by this per unit of contrast with the blocks around it, "
                        "so small features that stand out (eyes, brows) keep their colour (default 0 = every block alike)",
    "content-lines-contrast": "with --content-lines: the smallest contrast of a feature with its surroundings, in "
                              "lightness levels of 255 (default 40, the classical path's; lower also catches features "
                              "the reduction to the generator's resolution has already paled)",
    "content-target": "with --content-lines and --a-resize lines: find G_A's colour-keeping target in its input "
                      "(default) or in the picture before halving (picture: a 3 px eye keeps its colour, as the classical "
                      "path finds it)",
    "content-reduce": "G_A's colour-keeping target per block: mean (default; a block on an edge asks for the blend "
                      "of its two sides) or medoid (one of the block's own pixels, so edges are asked to stay hard)",
    "lambda-flat": "flat-shading loss weight: G_A's steps between neighbouring pixels where its input is flat "
                   "(texture, speckle) cost, edges are free (default 0 = off)",
    "lambda-sym": "symmetry loss weight: L1 between G_A's drawing of a crop and its drawing of the crop mirrored, "
                  "flipped or transposed (one at random per step), turned back; teaches one pass what pixelate --views "
                  "averages (default 0 = off)",
    "lambda-distill": "views-distillation loss weight: L1 between G_A's drawing of a crop and the mean of the "
                      "--init-from G_A's drawings of its 8 views (what pixelate --views 8 draws), so one pass learns "
                      "it (default 0 = off; needs --init-from)",
    "lambda-line": "line loss weight: the contrast the colour-keeping target's thin lines (a seam, a pleat) have over "
                   "the cells around them and G_A's drawing lacks, averaged over those line cells alone, so a few "
                   "cells of seam are not outweighed by the fills (default 0 = off; needs --lambda-content)",
    "line-contrast": "with --lambda-line: the smallest contrast of a target cell with the 3x3 cells around it, in "
                     "lightness levels of 255, for it to count as a line (default 20)",
    "lambda-speck": "speck loss weight: how much farther, in OKLab, each G_A cell's most alike neighbour is than the "
                    "colour-keeping target cell's, so the drawing adds no lone cells (specks, stray blends) the picture "
                    "lacks (default 0 = off; needs --lambda-content)",
    "pool-size": "past fakes kept per domain for the discriminators (default 50)",
    "max-steps": "stop after N optimizer steps in total, counting steps before a resume",
    "time-limit": "fit the run to this much training time, e.g. 2h, 90m, 1h30m or 600 (seconds): it measures its "
                  "speed and sets its steps so that the recipe's epochs at the base lr and its decay (in their "
                  "proportion, annealed per step to ~0) end on time; --resume finishes the same plan",
    "device": "auto | cpu | cuda | cuda:N (default auto)",
    "compile-mode": "with --compile: default, reduce-overhead (CUDA graphs, fastest at batch 1) or max-autotune",
    "amp-dtype": "bf16 (default) or fp16 (fp16 adds a gradient scaler)",
    "workers": "DataLoader worker processes (default 2; 0 loads in the main process)",
    "seed": "random seed: same seed, same data order, same initial weights (default 0)",
    "save-epoch-freq": "keep checkpoints/epoch_NNNN every N epochs (default 5)",
    "save-latest-steps": "refresh checkpoints/latest every N steps within an epoch (default 5000; 0 = off)",
    "init-from": "start from existing weights: a run/checkpoint folder, a folder of the reference's latest_net_*.pth, "
                 "or a model repo on the Hub, hf://OWNER/NAME[@REVISION] (its generators; discriminators start fresh)",
    "n-samples": "sample translations per epoch on index.html (default 4)",
}
FLAGS = {
    "amp": "mixed precision (autocast) on CUDA, and on CPUs with bf16 instructions (AVX-512 bf16, AMX), where "
           "bf16 trained the native recipe 1.4x faster; see benchmarks/train.py",
    "compile": "torch.compile the four networks (slow first steps, faster after)",
    "channels-last": "channels_last memory format (default: on with CUDA)",
    "flip": "random horizontal flips (default on)",
    "skip": "give the generators a long skip from the full-resolution stem to the output (not in the reference; "
            "keeps 1-2 px features such as eyes; from weights without it the skip starts at zero; no .pth export)",
    "content-lines": "with --lambda-content: G_A's colour-keeping target gives blocks on thin dark or bright features "
                     "(eyes, outlines) the feature's colour, as the classical path's outline cells, instead of a pale average "
                     "(default off)",
    "tensorboard": "also log losses to runs/NAME/tensorboard (needs the tensorboard package)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train",
        description=(
            "Train a CycleGAN (ResnetGenerator + 70x70 PatchGAN, the reference recipe) that turns pictures "
            "(domain A) into pixel art (domain B). Checkpoints are safetensors; runs resume exactly."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    types = {f.name: f.type for f in fields(TrainConfig)}
    for name, text in HELP.items():
        kind = types[name.replace("-", "_")]
        conv = str if "str" in str(kind) else float if "float" in str(kind) else int if "int" in str(kind) else str
        parser.add_argument(f"--{name}", type=conv, default=None, help=text)
    for name, text in FLAGS.items():
        parser.add_argument(f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=text)
    parser.add_argument("--resume", metavar="RUN", help="continue the run in this folder (its config.json is the base)")
    parser.add_argument("--config", metavar="TOML", help="TOML file with any of these options (dashes or underscores)")
    return parser


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """defaults < --config TOML < the resumed run's config.json (but not its max_steps) < command line."""
    cfg = TrainConfig()
    if args.config:
        cfg = cfg.merged(load_toml(args.config), where=args.config)
    if args.resume:
        # a resume continues to the end of the schedule unless --max-steps is given again
        cfg = load_run_config(args.resume).merged({"resume": args.resume, "output": args.resume, "max_steps": None})
        if args.config:
            cfg = cfg.merged(load_toml(args.config), where=args.config)
    given = {k: v for k, v in vars(args).items() if v is not None and k not in ("config", "resume")}
    cfg = cfg.merged(given, where="command line")
    if cfg.resume and cfg.output != cfg.resume:
        raise ConfigError("--resume continues a run in place; --output must be the same folder or left out")
    if cfg.domain_a and not cfg.domain_b and (Path(cfg.domain_a) / "trainB").is_dir():
        cfg = cfg.merged({"domain_b": cfg.domain_a})
    return cfg


def build_export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="train export", description="Write a run's latest weights as the reference's latest_net_{G_A,G_B,D_A,D_B}.pth, and G_A again as latest_net_G.pth (what the reference's --model test loads).")
    parser.add_argument("run", help="run folder or checkpoint folder")
    parser.add_argument("--to", required=True, help="output folder")
    parser.add_argument("--format", choices=("reference", "safetensors"), default="reference",
                        help="reference: latest_net_*.pth for the reference implementation (default); safetensors: "
                             "G_A/G_B.safetensors with their metadata, for pixelate and the Hub")
    parser.add_argument("--fp16", action="store_true", help="with --format safetensors: half-precision weights "
                        "(half the size, what the package ships; outputs within rounding of fp32)")
    return parser


def export_main(argv: list[str]) -> int:
    from pixelforge.model.checkpoint import CheckpointError, copy_network, find_checkpoint_dir, read_network
    from pixelforge.model.loading import export_reference_pth

    args = build_export_parser().parse_args(argv)
    if args.fp16 and args.format != "safetensors":
        print("train export: --fp16 needs --format safetensors (the reference loads fp32 .pth files)", file=sys.stderr)
        return 2
    try:
        folder = find_checkpoint_dir(args.run)
        if args.format == "safetensors":
            for name in ("G_A", "G_B"):
                if (folder / f"{name}.safetensors").exists():
                    out = copy_network(folder / f"{name}.safetensors", Path(args.to) / f"{name}.safetensors", fp16=args.fp16)
                    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MB)")
            return 0
        for name in ("G_A", "G_B", "D_A", "D_B"):
            path = folder / f"{name}.safetensors"
            if path.exists():
                state, _ = read_network(path)
                out = export_reference_pth(state, Path(args.to) / f"latest_net_{name}.pth")
                print(f"wrote {out}")
                if name == "G_A":  # the reference's `--model test` (no --model_suffix) loads latest_net_G.pth
                    print(f"wrote {export_reference_pth(state, Path(args.to) / 'latest_net_G.pth')}")
    except CheckpointError as exc:
        print(f"train export: {exc}", file=sys.stderr)
        return 2
    return 0


def build_average_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train average",
        description="Average the generators of several checkpoints of one run into a new run folder (weight "
                    "averaging: each checkpoint's own noise, odd cells in flat areas, cancels out; no training). "
                    "Use the result with `pixelate --checkpoint OUTPUT`, `train publish` or `--init-from`; the "
                    "discriminators are the last checkpoint's, and there is no training state to --resume.",
        epilog="example: train average runs/p2p --last 5 --output runs/p2p-avg   (its last five epoch_NNNN checkpoints)")
    parser.add_argument("checkpoints", nargs="+", metavar="RUN_OR_CHECKPOINT", help="a run folder (all its kept "
                        "checkpoints/epoch_NNNN; keep them with --save-epoch-freq 1) or checkpoint folders, in order")
    parser.add_argument("--last", type=int, metavar="N", help="with a run folder: only its last N epoch checkpoints")
    parser.add_argument("--output", required=True, help="the new run folder (must not exist or be empty)")
    return parser


def average_main(argv: list[str]) -> int:
    from pixelforge.model.checkpoint import CheckpointError
    from training.average import average_checkpoints, checkpoints_of

    args = build_average_parser().parse_args(argv)
    if args.last is not None and args.last < 2:
        print(f"train average: --last {args.last}: average at least 2 checkpoints", file=sys.stderr)
        return 2
    try:
        folders = [f for given in args.checkpoints for f in checkpoints_of(given, args.last)]
        out = average_checkpoints(folders, args.output)
    except (CheckpointError, OSError) as exc:
        print(f"train average: {exc}", file=sys.stderr)
        return 2
    print(f"averaged {len(folders)} checkpoints: {', '.join(str(f) for f in folders)}")
    print(f"wrote {out / 'checkpoints' / 'latest'} (the record: {out / 'average.json'})")
    print(f"use it: pixelate --checkpoint {out} PICTURE")
    return 0


def build_publish_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train publish",
        description="Publish a run folder (its checkpoints/latest) or a checkpoint folder as a model repo on the "
                    "Hugging Face Hub, in one commit: G_A.safetensors (and G_B), config.json, loss.png and metrics.json "
                    "when the run has them, attribution.csv for the training images, and README.md, a model card "
                    "written from the run. Load it back with `pixelate --checkpoint hf://OWNER/NAME`. The token comes "
                    "from HF_TOKEN or `hf auth login`; it is never printed or written.",
    )
    parser.add_argument("run", help="run folder (runs/NAME) or checkpoint folder (runs/NAME/checkpoints/epoch_0005)")
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="the model repo to create or update")
    parser.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded, with sizes; no token, no network")
    parser.add_argument("--fp16", action="store_true", help="publish the generators as float16 (half the size; outputs "
                        "differ from fp32 by rounding); default: the fp32 files byte for byte")
    parser.add_argument("--no-g-b", action="store_true", help="leave out G_B (pixel art -> pictures): only G_A is published")
    parser.add_argument("--pixels-per-cell", type=int, metavar="N", help="record in G_A the generator resolution "
                        "`pixelate` should run this model at (generator pixels per cell side; 0 = full resolution); "
                        "measure it first with benchmarks/quality.py --pixels-per-cell N. Default: none recorded (1)")
    parser.add_argument("--anchor-within", type=float, metavar="DE", help="record in G_A the `pixelate --anchor-within` "
                        "to run this model with (a model trained to draw the picture's features in place); measure it "
                        "first with benchmarks/quality.py --anchor-within DE. Default: none recorded (0)")
    parser.add_argument("--model-input", choices=MODEL_INPUTS, help="record in G_A the generator input `pixelate` shows "
                        "this model, instead of the one it was trained on; measure it first with benchmarks/quality.py "
                        "--model-input NAME. Default: the trained one")
    parser.add_argument("--keep-features", action=argparse.BooleanOptionalAction, help="record in G_A whether `pixelate` "
                        "runs this model with --keep-features; measure it first with benchmarks/quality.py "
                        "--keep-features. Default: none recorded (off)")
    parser.add_argument("--license", metavar="ID", help="the model's Hub licence id, instead of the one derived from "
                        "the training data's licences (unknown when they are not all stated)")
    parser.add_argument("--stage", metavar="DIR", type=Path, help="also keep the staged files (the card, config.json, ...) in DIR to read")
    parser.add_argument("--timeout", type=float, default=None, help="seconds one Hub request may take (default 120)")
    return parser


def publish_main(argv: list[str]) -> int:
    import shutil
    import tempfile

    from pixelforge.hub import redact, write_token
    from pixelforge.io import public_mode
    from training.publish import DEFAULT_TIMEOUT, PublishError, prepare_publish, upload

    args = build_publish_parser().parse_args(argv)
    token = None
    try:
        if not args.dry_run:
            token = write_token()
            if not token:
                raise PublishError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write "
                                   "access). Nothing was published.", exit_code=2)
        with tempfile.TemporaryDirectory(prefix="pixelforge-publish-") as staging:
            plan = prepare_publish(args.run, staging, repo_id=args.repo, fp16=args.fp16, private=args.private,
                                   generators=("G_A",) if args.no_g_b else ("G_A", "G_B"), license_id=args.license,
                                   pixels_per_cell=args.pixels_per_cell, anchor_within=args.anchor_within,
                                   model_input=args.model_input, keep_features=args.keep_features)
            verb = "would upload" if args.dry_run else "uploading"
            print(f"train publish: {verb} {len(plan.files)} files ({plan.total_bytes:,} B) from {plan.checkpoint} to "
                  f"model repo {plan.repo_id} ({'private' if plan.private else 'public'}) in 1 commit:")
            width = max(len(f.path_in_repo) for f in plan.files)
            for f in plan.files:
                print(f"  {f.path_in_repo:<{width}}  {f.size:>12,} B")
            print(f"  generators: {plan.dtype}; licence: {plan.license}")
            if args.stage:
                shutil.copytree(staging, args.stage, dirs_exist_ok=True)
                public_mode(args.stage)  # the copy keeps the private mode of the temporary staging folder
                print(f"  staged files kept in {args.stage}")
            if args.dry_run:
                print("dry run: nothing was sent; no network was touched.")
                return 0
            result = upload(plan, token=token, timeout=args.timeout or DEFAULT_TIMEOUT)
    except PublishError as exc:
        print(f"train publish: {redact(str(exc), token)}", file=sys.stderr)
        return exc.exit_code
    print(f"commit: {result.commit_url}")
    if result.deleted:
        print(f"removed {len(result.deleted)} file(s) an earlier publish wrote: {', '.join(result.deleted)}")
    print(f"published {plan.repo_id}: pixelate --checkpoint hf://{plan.repo_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["export"]:
        return export_main(argv[1:])
    if argv[:1] == ["publish"]:
        return publish_main(argv[1:])
    if argv[:1] == ["average"]:
        return average_main(argv[1:])
    args = build_parser().parse_args(argv)
    from pixelforge.model.checkpoint import CheckpointError
    from training.data import DataError
    from training.loop import train
    from training.run_outputs import summary_lines

    cfg = None
    try:
        cfg = resolve_config(args)
        result = train(cfg)
    except (ConfigError, DataError, CheckpointError) as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f"`train --resume {cfg.output}`" if cfg is not None else "`train --resume RUN`"
        print(f"\ntrain: interrupted. Nothing after the last checkpoint was saved; continue with {where}.", file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk or a vanished folder: checkpoints are atomic, the last one is whole
        print(f"train: cannot write or read a file: {exc}. The last complete checkpoint is intact; fix the cause "
              "and continue with --resume.", file=sys.stderr)
        return 1
    for line in summary_lines(result):
        print(line)
    if result.status == "non_finite":
        print(f"train: {result.message}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`curate`: turn a raw store or an image folder into a Hugging Face dataset, and publish it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from data_cards.cli import add_card_parser, add_push_parser

CONFIG_HELP = (
    "TOML config file (see curation/curate.example.toml for every key and its default). "
    "Order of precedence: defaults < --config < --set < the dedicated flags."
)
if TYPE_CHECKING:  # pragma: no cover
    from curation.config import CurateConfig

SET_HELP = (
    "override any config key, e.g. --set filters.min_size=12 --set decode.frames=all "
    "--set background.rembg_model_path=models/u2netp.onnx (repeatable; values are TOML, bare words are strings)"
)


def _load(args: argparse.Namespace) -> CurateConfig:
    """Config from --config, --set and the dedicated flags (imports stay lazy so --help is fast)."""
    from curation.config import load_config

    overrides = list(args.set or [])
    if getattr(args, "domain", None):
        overrides.append(f"domain={args.domain}")
    if getattr(args, "workers", None) is not None:
        overrides.append(f"workers={args.workers}")
    return load_config(args.config, overrides)


def _os_message(exc: OSError) -> str:
    from curation.errors import is_disk_full

    where = f" ({exc.filename})" if exc.filename else ""
    if is_disk_full(exc):
        return (f"no space left on the device{where}; free some space and run again: finished work is kept "
                "and files are never left half-written")
    return f"{exc.strerror or exc}{where}"


def _cmd_run(args: argparse.Namespace) -> int:
    from curation.allocator import keep_freed_memory
    from curation.config import ConfigError
    from curation.errors import CurateError
    from curation.pipeline import run
    from curation.report import format_summary
    from curation.stages.background import RembgModelMissing
    from data_cards.card import write_card

    try:
        config = _load(args)
        keep_freed_memory()  # this process runs the images itself when --workers 1
        result = run(args.input, args.output, config, progress=not args.no_progress,
                     engine=args.engine, address=args.address)
        write_card(result.output, domain=config.domain)  # the data_cards stage, on the folder just written
    except (ConfigError, RembgModelMissing, CurateError, FileNotFoundError) as exc:
        print(f"curate run: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable input, unwritable output, full disk while writing the card
        print(f"curate run: {_os_message(exc)}", file=sys.stderr)
        return 2
    print(format_summary(result.report))
    print(f"dataset: {result.output} (load with datasets.load_dataset({str(result.output)!r}))")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    from curation.config import ConfigError
    from curation.errors import CurateError
    from curation.inspection import format_inspection, inspect_file
    from curation.stages.background import RembgModelMissing

    try:
        config = _load(args)
        info = inspect_file(Path(args.image), config)
    except (ConfigError, RembgModelMissing, CurateError) as exc:
        print(f"curate inspect: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"curate inspect: {_os_message(exc)}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_inspection(info))
    return 0


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help=CONFIG_HELP)
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help=SET_HELP)
    p.add_argument("--domain", choices=["A", "B"],
                   help="A = pictures (cartoons, photos; pixel-art tests off), B = pixel art (default B)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate",
        description=(
            "Curate pixel art into a clean, deduplicated, white-background Hugging Face dataset. "
            "Stages: expand zips and decode, recover native pixels, (slice sheets), background to white, "
            "filters, perceptual dedup, canvas, split."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser(
        "run",
        help="curate a raw store or image folder into a dataset folder",
        description=(
            "Curate INPUT (a raw store with manifest.jsonl, or any folder of images, searched recursively) "
            "into OUTPUT: Parquet shards under data/, curation_report.json, curation_report.html and a "
            "README.md data card. Per-image results are cached in OUTPUT/cache.sqlite: re-runs process only "
            "new files and an interrupted run resumes."
        ),
    )
    run.add_argument("--input", required=True, type=str,  # str keeps fsspec URLs (file://, s3://)
                     help="raw store (manifest.jsonl + files/) or image folder; a raw store may be an fsspec URL")
    run.add_argument("--output", required=True, type=Path, help="dataset folder to write (created if missing)")
    _add_config_args(run)
    run.add_argument("--workers", type=int, help="worker processes (default: all cores; 1 = no pool)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    # engines (docs/cluster.md)
    run.add_argument("--engine", choices=["local", "dask"], default="local",
                     help="local = a process pool here; dask = tasks on a Dask cluster (pip install 'pixelforge[cluster]')")
    run.add_argument("--address", help="Dask scheduler address (tcp://host:8786); default: a local cluster of --workers")
    run.set_defaults(func=_cmd_run)
    inspect = sub.add_parser(
        "inspect",
        help="show what every stage decides about one image",
        description=(
            "Run the per-image stages on IMAGE (an image or a zip pack) and show every decision with why: decode, "
            "native scale/phase/confidence (the grid used, or why none was; lossy colours cleaned up), pixel-art "
            "score against its threshold and what it saw, sheet cutting, background kind and its reason (and when "
            "a kept row keeps a background that is not white), hashes, filter verdicts, canvas."
        ),
    )
    inspect.add_argument("image", help="image file or zip pack")
    inspect.add_argument("--json", action="store_true", help="machine-readable JSON")
    _add_config_args(inspect)
    inspect.set_defaults(func=_cmd_inspect)
    add_card_parser(sub)
    add_push_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `curate inspect ... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush stays quiet
        return 141  # 128 + SIGPIPE, as a shell reports it


if __name__ == "__main__":
    sys.exit(main())

"""`curate card` and `curate push`: registered into the `curate` command by curation.cli."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from data_cards.folder import DatasetFolder, FolderError


def add_card_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "card",
        help="(re)generate the data card of a dataset folder",
        description=(
            "Write README.md (the Hub data card: YAML header + body computed from the shards and "
            "curation_report.json), attribution.csv and samples.png into a dataset folder, in place."
        ),
    )
    p.add_argument("folder", type=Path, help="dataset folder written by `curate run` (has data/*.parquet)")
    p.add_argument(
        "--domain",
        choices=("A", "B"),
        default=None,
        help="A = pictures, B = pixel art; default: the `domain` in curation_report.json, else B",
    )
    p.add_argument(
        "--repo-id", default=None, help="Hub id shown in the card's `load_dataset(...)` line (default: <user>/<folder>)"
    )
    p.set_defaults(func=run_card)


def add_push_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "push",
        help="publish a dataset folder to the Hugging Face Hub",
        description=(
            "Publish a dataset folder as a Hub dataset repo: creates the repo if missing, then uploads the "
            "Parquet shards, README.md, samples.png and attribution.csv in one commit (atomic: a failure "
            "publishes nothing). The token comes from HF_TOKEN or `hf auth login` and is never printed. "
            "Images whose licence is unknown are left out unless --include-unknown-license is given; the "
            "card is regenerated to describe exactly what is uploaded."
        ),
        epilog="Exit codes: 0 published (or dry run), 1 upload failed, 2 bad input or no token.",
    )
    p.add_argument("folder", type=Path, help="dataset folder written by `curate run`")
    p.add_argument("--repo-id", required=True, help="Hub dataset id, `user/name` (or `name` for your own namespace)")
    p.add_argument("--private", action="store_true", help="create the repo private (ignored if it already exists)")
    p.add_argument(
        "--dry-run", action="store_true", help="print the exact files and byte sizes that would be uploaded; no network"
    )
    p.add_argument(
        "--include-unknown-license",
        action="store_true",
        help="also publish images whose source stated no licence (left out by default)",
    )
    p.add_argument("--domain", choices=("A", "B"), default=None, help="as for `curate card`")
    p.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                   help="longest wait for any one Hub request: to connect, to send a block, or for its answer "
                        "(default 120); a Hub that stays silent longer ends the push with a clear error")
    p.set_defaults(func=run_push)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def run_card(args: argparse.Namespace) -> int:
    from data_cards.card import write_card

    try:
        path = write_card(args.folder, domain=args.domain, repo_id=args.repo_id)
    except FolderError as exc:
        print(f"curate card: {exc}", file=sys.stderr)
        return 2
    folder = DatasetFolder.read(args.folder)
    rows = ", ".join(f"{split} {folder.num_rows(split)}" for split in folder.splits)
    print(f"wrote {path} ({rows} images), {path.parent / 'attribution.csv'}, {path.parent / 'samples.png'}")
    return 0


def _size(n: int) -> str:
    return f"{n:,} B"


def run_push(args: argparse.Namespace) -> int:
    from data_cards.push import (
        DEFAULT_TIMEOUT,
        PushError,
        prepare_push,
        redact,
        resolve_repo_id,
        resolve_token,
        upload,
    )

    timeout = args.timeout or DEFAULT_TIMEOUT
    token = None
    try:
        repo_id = args.repo_id
        if not args.dry_run:  # a real push needs the token first, and the full id for the card
            token = resolve_token()
            if "/" not in repo_id:
                DatasetFolder.read(args.folder)  # bad input is reported before any request
                repo_id = resolve_repo_id(repo_id, token=token, timeout=timeout)
        with tempfile.TemporaryDirectory(prefix="pixelforge-push-") as staging:
            plan = prepare_push(
                args.folder,
                staging,
                repo_id=repo_id,
                include_unknown_license=args.include_unknown_license,
                private=args.private,
                domain=args.domain,
            )
            visibility = "private" if args.private else "public"
            verb = "would upload" if args.dry_run else "uploading"
            print(
                f"curate push: {verb} {len(plan.files)} files ({_size(plan.total_bytes)}) to dataset repo "
                f"{plan.repo_id} ({visibility}) in {len(plan.commits)} commit{'s' if len(plan.commits) > 1 else ''}:"
            )
            width = max(len(f.path_in_repo) for f in plan.files)
            for f in plan.files:
                print(f"  {f.path_in_repo:<{width}}  {f.size:>12,} B")
            rows = ", ".join(f"{split} {n}" for split, n in plan.rows.items())
            print(f"  images: {rows}")
            if plan.excluded_unknown:
                print(
                    f"  left out: {plan.excluded_unknown} images with unknown licence "
                    "(--include-unknown-license publishes them)"
                )
            elif plan.unknown_in_folder:
                print(f"  included: {plan.unknown_in_folder} images with unknown licence (--include-unknown-license)")
            if args.dry_run:
                if "/" not in repo_id:
                    print(f"  repo: {repo_id} goes under the token's own user, resolved at push time")
                print("dry run: nothing was sent; no network was touched.")
                return 0
            result = upload(plan, token=token, timeout=timeout)
    except FolderError as exc:
        print(f"curate push: {exc}", file=sys.stderr)
        return 2
    except PushError as exc:
        print(f"curate push: {redact(str(exc), token)}", file=sys.stderr)
        return exc.exit_code
    for url in result.commit_urls:
        print(f"commit: {url}")
    if result.deleted:
        print(f"removed {len(result.deleted)} stale shard(s) from the repo: {', '.join(result.deleted)}")
    print(f"published {sum(plan.rows.values())} images to {result.repo_url}")
    return 0

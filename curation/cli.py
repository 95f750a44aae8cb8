"""`curate`: turn a raw store or an image folder into a Hugging Face dataset, and publish it."""

from __future__ import annotations

import argparse
import sys

NOT_BUILT = 2


def _not_built(what: str, issue: str) -> int:
    print(f"curate {what}: not built yet ({issue}). Nothing was done.", file=sys.stderr)
    return NOT_BUILT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate",
        description=(
            "Curate pixel art into a clean, deduplicated, white-background Hugging Face dataset. "
            "Stages: expand zips and decode, recover native pixels, background to white, filters, "
            "perceptual dedup, canvas, split."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("run", help="curate a raw store or image folder into a dataset folder")
    sub.add_parser("inspect", help="show what every stage decides about one image")
    sub.add_parser("card", help="(re)generate the data card of a dataset folder")
    sub.add_parser("push", help="publish a dataset folder to the Hugging Face Hub")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    issue = {"run": "issue #4", "inspect": "issue #4", "card": "issue #6", "push": "issue #6"}[args.command]
    return _not_built(args.command, issue)


if __name__ == "__main__":
    sys.exit(main())

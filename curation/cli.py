"""`curate`: turn a raw store or an image folder into a Hugging Face dataset, and publish it."""

from __future__ import annotations

import argparse
import sys

from data_cards.cli import add_card_parser, add_push_parser


def _not_built(what: str) -> int:
    print(f"curate {what}: not built yet (issue #4). Nothing was done.", file=sys.stderr)
    return 2


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
    run = sub.add_parser("run", help="curate a raw store or image folder into a dataset folder")
    run.set_defaults(func=lambda args: _not_built("run"))
    inspect = sub.add_parser("inspect", help="show what every stage decides about one image")
    inspect.set_defaults(func=lambda args: _not_built("inspect"))
    add_card_parser(sub)
    add_push_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""`curate card` and `curate push`: registered into the `curate` command by curation.cli."""

from __future__ import annotations

import argparse
import sys


def add_card_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("card", help="(re)generate the data card of a dataset folder")
    p.set_defaults(func=lambda args: _not_built("card"))


def add_push_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="publish a dataset folder to the Hugging Face Hub")
    p.set_defaults(func=lambda args: _not_built("push"))


def _not_built(what: str) -> int:
    print(f"curate {what}: not built yet (issue #6). Nothing was done.", file=sys.stderr)
    return 2

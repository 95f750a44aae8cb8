"""`train`: CycleGAN training on curated datasets or image folders."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="train",
        description="Train a CycleGAN (ResnetGenerator + PatchGAN) that translates domain A to pixel art (B).",
    )


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print("train: not built yet (issue #7). Nothing was done.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""`pixelate`: turn photos, folders, GIFs and videos into pixel art."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="pixelate",
        description="Turn pictures into pixel art, with a trained CycleGAN checkpoint or a classical method.",
    )


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print("pixelate: not built yet (issue #8). Nothing was done.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

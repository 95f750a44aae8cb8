"""The yardstick for the pixel-art-habit columns: benchmarks/art_habits.py on a dataset folder."""

from __future__ import annotations

import sys
from pathlib import Path

import datasets
import numpy as np

from pixelforge.imaging import composite_on_white
from pixelforge.testing.art_metrics import blended_edges, lone_cells
from pixelforge.testing.dataset_folder import build_dataset_folder

sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
import art_habits  # noqa: E402 - benchmarks/ is a folder of scripts, not a package


def test_habits_are_per_image_means_of_the_native_images_by_source(tmp_path, capsys):
    built = build_dataset_folder(tmp_path / "ds", n_train=1, n_test=4, sources=("lpc", "superpowers"))
    rows = datasets.load_dataset(str(built.path), split="test")
    found = art_habits.habits(rows)
    assert set(found) == {"lpc", "superpowers", "all"} and found["all"][0] == 4
    for source in ("lpc", "superpowers"):
        mine = [r for r in rows if r["source"] == source]
        blended, lone = [], []
        for r in mine:
            grid = np.asarray(composite_on_white(r["native"]))  # native: one pixel per art pixel, not the canvas
            b, e = blended_edges(grid)
            o, n = lone_cells(grid)
            blended.append(b / e)
            lone.append(o / n)
        assert found[source] == (len(mine), float(np.mean(blended)), float(np.mean(lone)))
    assert art_habits.main([str(built.path)]) == 0
    assert "| all | 4 |" in capsys.readouterr().out


def test_a_missing_dataset_is_skipped_with_the_command_that_makes_it(tmp_path, capsys):
    assert art_habits.main([str(tmp_path / "nowhere")]) == 0
    assert "skipped: no dataset folder" in capsys.readouterr().out

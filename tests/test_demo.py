"""`make demo DEMO_FAST=1` end to end: every artifact exists, is sane, and the report renders."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasets import load_dataset
from PIL import Image

from pixelforge.demo import REPO

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "pixelforge.demo", "--fast", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # every step prints the exact command it runs, so a user can repeat it
    for command in ("scrapy crawl pixelart", "curate run", "train --domain-a", "pixelate "):
        assert "$ " in proc.stdout and command in proc.stdout, command
    assert "Open the report:" in proc.stdout
    return out


def test_datasets_load_and_have_rows(demo_out):
    for name, minimum in (("curated-a", 10), ("curated-b", 4)):
        ds = load_dataset(str(demo_out / name))
        rows = sum(len(split) for split in ds.values())
        assert rows >= minimum, (name, rows)
        assert (demo_out / name / "README.md").exists() and (demo_out / name / "samples.png").exists()
    manifest = (demo_out / "raw" / "manifest.jsonl").read_text().splitlines()
    assert len(manifest) == 13


def test_checkpoint_loads_and_outputs_obey_the_rules(demo_out):
    from pixelforge.model.loading import load_generator

    generator, spec = load_generator(demo_out / "run")
    assert spec.ngf == 8 and spec.n_blocks == 2
    outputs = sorted((demo_out / "pixelated-model").glob("*.png")) + sorted((demo_out / "pixelated-classic").glob("*.png"))
    assert len(outputs) == 4
    for path in outputs:
        img = Image.open(path).convert("RGBA")
        arr = np.asarray(img)
        opaque = arr[arr[..., 3] > 0][:, :3]
        assert len(np.unique(opaque, axis=0)) <= 16, path
        h, w = arr.shape[:2]
        cells = arr[: h - h % 4, : w - w % 4].reshape(h // 4, 4, w // 4, 4, 4)
        assert (cells == cells[:, :1, :, :1]).all(), f"{path}: a 4x4 cell holds more than one colour"


def test_report_references_existing_images_and_renders_without_broken_ones(demo_out):
    report = demo_out / "report.html"
    page = report.read_text()
    sources = re.findall(r"<img src='([^']+)'", page)
    assert len(sources) >= 2 + 1 + 2 * 3  # two sample grids, the loss plot, 2 pairs x 3 images
    for src in sources:
        assert (demo_out / src).is_file(), src
    for section in ("Dataset curated-a", "Dataset curated-b", "Training losses", "Before / after", "Timing"):
        assert section in page
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is needed to render the report (apt-get install chromium; .ci/run does it)")
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={demo_out / 'chromium-profile'}",
         "--virtual-time-budget=5000", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    match = re.search(r'data-broken-images="(\d+)"', dom)
    assert match, "the report's load handler did not run"
    assert match.group(1) == "0"
    assert re.search(r'data-images="(\d+)"', dom).group(1) == str(len(sources))

"""Batch workers keep freed memory: the next image reuses it instead of page-faulting it in again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = """
import resource, sys
from curation.allocator import keep_freed_memory
from curation.config import load_config
from curation.process import process_bytes
from pixelforge.testing.sprites import BACKGROUNDS, make_sprite, render

datas = [render(make_sprite(i, (24 + i, 20 + i)), scale=12 + i % 5, background=BACKGROUNDS[i % 3], seed=i).encoded()
         for i in range(12)]
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
config = load_config(None, [])
for data in datas:  # warm up: the first pass may grow the heap
    process_bytes(data, config)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for data in datas:
    process_bytes(data, config)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / len(datas))
"""


def _faults_per_image(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_workers_stop_page_faulting_per_image():
    default, tuned = _faults_per_image("default"), _faults_per_image("tuned")
    assert tuned < 50, f"{tuned:.0f} page faults per image with the allocator tuned"  # ~20: Python's own arenas
    assert default > 5 * max(tuned, 1), f"default {default:.0f} vs tuned {tuned:.0f}: the tuning no longer matters?"

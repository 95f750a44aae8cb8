"""The pictures in docs/img that docs/tools/make_images.py draws with the project's own code are what it draws today.

They went stale twice unnoticed: the dedup figure showed the car's five animation frames as one cluster after curation
began keeping frames apart (the script then crashed), and the palette figure kept the old palette mapping.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).parents[1]


def test_the_docs_pictures_are_what_the_code_draws_today(tmp_path):
    spec = importlib.util.spec_from_file_location("make_images", ROOT / "docs" / "tools" / "make_images.py")
    make_images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_images)
    assert make_images.main(["--out", str(tmp_path)]) == 0
    drawn = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(drawn) == 6, drawn
    for name in drawn:
        now = np.asarray(Image.open(tmp_path / name).convert("RGB"))
        committed = np.asarray(Image.open(ROOT / "docs" / "img" / name).convert("RGB"))
        assert now.shape == committed.shape and np.array_equal(now, committed), (
            f"docs/img/{name} is not what the code draws now: run python docs/tools/make_images.py")

"""Issue 15: a row kept with a background that is not white says so (the ``background`` column, last),
older dataset folders without the later columns still get a card and a push, and ``curate inspect``
explains each decision (grid, pixel-art test, sheet cut, background kind) on real art."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
from datasets import Dataset, Features
from PIL import Image

from curation.cli import main as curate
from curation.config import load_config
from curation.pipeline import run
from data_cards.card import write_card
from data_cards.folder import DatasetFolder
from data_cards.push import prepare_push
from pixelforge.dataset import COLUMNS, FEATURES, LATER_COLUMNS
from pixelforge.testing.dataset_folder import build_dataset_folder
from tests.test_curation_real import ART, REAL, _jpeg, _open, _png, _up


def _on_noise(img: Image.Image, seed: int = 0) -> Image.Image:
    """The sprite on grainy grey (12 levels): no flat colour, no flat runs (complex), few colours."""
    rgba = img.convert("RGBA")
    noise = (np.random.default_rng(seed).integers(0, 12, (rgba.height + 8, rgba.width + 8)) * 10 + 70).astype(np.uint8)
    base = Image.fromarray(noise).convert("RGBA")
    base.alpha_composite(rgba, (4, 4))
    return base.convert("RGB")


def test_rows_record_their_background_kind(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "jar.png").write_bytes((REAL / "superpowers-jar-16x30.png").read_bytes())
    (src / "forest.png").write_bytes((REAL / "superpowers-forest-scene-137x89.png").read_bytes())
    (src / "noisy.png").write_bytes(_png(_on_noise(_open(REAL / "superpowers-weapon-38x18.png"))))
    default = run(src, tmp_path / "default", load_config(overrides=["workers=1"]), progress=False)
    assert [r["reason"] for r in default.report["rejected"]] == ["complex-background"]  # not kept silently
    keep = run(src, tmp_path / "keep", load_config(overrides=["workers=1", 'background.keep_complex_domains=["A", "B"]']),
               progress=False)
    assert keep.report["counts"]["kept"] == 3
    rows = {r["url"].rsplit("/", 1)[-1]: r for shard in sorted((tmp_path / "keep" / "data").glob("*.parquet"))
            for r in pq.read_table(shard, columns=["url", "background"]).to_pylist()}
    assert {k: r["background"] for k, r in rows.items()} == {"jar.png": "alpha", "forest.png": "scene", "noisy.png": "complex"}
    assert pq.read_schema(next((tmp_path / "keep" / "data").glob("*.parquet"))).names[-1] == "background"
    card = write_card(tmp_path / "keep").read_text()
    assert "2 images keep a background that is not white" in card and "1 `scene`" in card and "1 `complex`" in card


def _older(folder, drop: tuple[str, ...]) -> None:
    """Rewrite every shard as a folder written before the ``drop`` columns existed."""
    old = Features({k: v for k, v in FEATURES.items() if k not in drop})
    for shard in (folder / "data").glob("*.parquet"):
        table = pq.read_table(shard)
        columns = {name: table.column(name).to_pylist() for name in old}
        shard.unlink()
        Dataset.from_dict(columns, features=old).to_parquet(str(shard))


def test_older_folders_without_later_columns_get_a_card_and_a_push(tmp_path):
    assert tuple(LATER_COLUMNS) == COLUMNS[-len(LATER_COLUMNS):]  # later columns are the last ones
    for drop in (("background",), ("licenses", "background")):
        built = build_dataset_folder(tmp_path / "-".join(drop), n_train=3, n_test=1)
        _older(built.path, drop)
        folder = DatasetFolder.read(built.path)
        assert folder.columns == COLUMNS[: len(COLUMNS) - len(drop)]
        assert folder.metadata("train").column("background").to_pylist() == ["", "", ""]  # the default
        text = write_card(built.path).read_text()
        header = text.split("---")[1]
        assert "name: background" not in header and ("name: licenses" in header) == ("licenses" not in drop)
        plan = prepare_push(built.path, tmp_path / f"stage-{len(drop)}", repo_id="you/old")
        assert sum(plan.rows.values()) == 4
    broken = build_dataset_folder(tmp_path / "broken", n_train=2, n_test=1)
    _older(broken.path, ("licenses",))  # a middle column missing is not an older folder
    try:
        DatasetFolder.read(broken.path)
    except ValueError as exc:
        assert "missing ['licenses']" in str(exc)
    else:
        raise AssertionError("a shard without licenses but with background was accepted")


def test_inspect_explains_each_decision_on_real_art(tmp_path, capsys):
    forest = REAL / "superpowers-forest-scene-137x89.png"
    assert curate(["inspect", str(forest)]) == 0
    out = capsys.readouterr().out
    assert "grid: no grid explains the edges" in out
    assert "threshold 0.5: pixel art" in out and "why: pixel art (score" in out
    assert "background: scene" in out and "shaded towards it" in out and "kept with its own background" in out
    box = tmp_path / "box.jpg"
    box.write_bytes(_jpeg(_up(_open(REAL / "superpowers-medium-box-32x32.png"), 6), 85))
    assert curate(["inspect", str(box)]) == 0
    out = capsys.readouterr().out
    assert "one pixel per 6x6 cell; lossy colours cleaned up at native size" in out and "-> 32x32" in out
    assert curate(["inspect", str(REAL / "lpc-body-male-light.png")]) == 0
    out = capsys.readouterr().out
    assert "sheet: cut into" in out and "frames (frame grid" in out
    cartoon = tmp_path / "bee.png"
    bee = _open(ART / "cartoon" / "bee.png").convert("RGBA")
    cartoon.write_bytes(_png(bee.resize((bee.width * 3, bee.height * 3), Image.Resampling.BICUBIC)))
    assert curate(["inspect", str(cartoon)]) == 0
    out = capsys.readouterr().out
    assert "not pixel art" in out or "a grid was found but not used" in out
    assert curate(["inspect", str(forest), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["background"]["kind"] == "scene" and "shaded towards it" in info["background"]["reason"]

"""Data cards: the card is computed from the folder, validates, and the folder loads as the Hub serves it."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import huggingface_hub.constants as hf_constants
import numpy as np
import pytest
import yaml
from datasets import load_dataset
from huggingface_hub import DatasetCard
from PIL import Image

from curation.cli import main as curate
from data_cards.card import write_card
from data_cards.folder import DatasetFolder, FolderError
from data_cards.licenses import hub_license_id
from data_cards.samples import CELL, GUTTER, pick_samples, sample_grid, sample_tile
from pixelforge.dataset import ATTRIBUTION_FILE, CARD_FILE, COLUMNS, FEATURES, SAMPLES_FILE, colors_bucket
from pixelforge.imaging import composite_on_white, place_on_canvas
from pixelforge.testing.dataset_folder import build_dataset_folder
from pixelforge.testing.fake_hub import FakeHub, validate_card_metadata

MIXED = ("CC0 1.0", "CC-BY 4.0", "unknown")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One mixed-licence folder with its card written, shared by the read-only tests below."""
    built = build_dataset_folder(tmp_path_factory.mktemp("cards") / "sprites", n_train=6, n_test=3, licenses=MIXED)
    write_card(built.path)
    return built


def header(path: Path) -> dict:
    text = path.read_text()
    return yaml.safe_load(text.split("---\n")[1])


def body(path: Path) -> str:
    return path.read_text().split("---\n", 2)[2]


def test_folder_loads_back_identically_through_the_card(mixed, tmp_path):
    ds = load_dataset(str(mixed.path), cache_dir=str(tmp_path / "cache"))
    assert set(ds) == {"train", "test"}
    for split, rows in mixed.rows.items():
        assert ds[split].num_rows == len(rows)
        assert ds[split].features == FEATURES
        assert list(ds[split].features) == list(COLUMNS)
        got = ds[split].cast_column("image", FEATURES["image"].__class__(decode=False))
        got = got.cast_column("native", FEATURES["native"].__class__(decode=False))
        for want, have in zip(rows, got):
            for name in COLUMNS:
                if name in ("image", "native"):
                    assert have[name]["bytes"] == want[name]["bytes"]
                elif isinstance(want[name], float):
                    assert have[name] == pytest.approx(want[name])
                else:
                    assert have[name] == want[name], name
    # the header's dataset_info is what the data holds
    meta = header(mixed.path / CARD_FILE)
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert splits == {"train": 6, "test": 3}
    assert [f["name"] for f in meta["dataset_info"]["features"]] == list(COLUMNS)
    parquet_bytes = sum(p.stat().st_size for p in (mixed.path / "data").glob("*.parquet"))
    assert meta["dataset_info"]["download_size"] == parquet_bytes


def test_card_validates_against_hub_rules(mixed, monkeypatch):
    with FakeHub() as hub:
        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
        DatasetCard.load(mixed.path / CARD_FILE).validate(repo_type="dataset")
        assert [r.path for r in hub.requests] == ["/api/validate-yaml"]
        bad = (mixed.path / CARD_FILE).read_text().replace("- cc-by-4.0\n", "- cc-by-4\n")
        with pytest.raises(ValueError, match="license"):
            DatasetCard(bad).validate(repo_type="dataset")


def test_validator_catches_broken_metadata(mixed):
    text = (mixed.path / CARD_FILE).read_text()
    assert validate_card_metadata(text) == []
    assert validate_card_metadata(text.replace("- n<1K", "- tiny"))
    assert validate_card_metadata(text.replace("- image-to-image\npretty_name", "- pixelate\npretty_name"))
    assert validate_card_metadata(text.replace("configs:", "configs: 3\nx:", 1))
    assert validate_card_metadata("no header")


def test_header_fields(mixed):
    meta = header(mixed.path / CARD_FILE)
    assert sorted(meta["license"]) == ["cc-by-4.0", "cc0-1.0", "unknown"]  # three licences, all listed
    assert meta["task_categories"] == ["image-to-image"]
    assert meta["size_categories"] == ["n<1K"]
    assert "pixel-art" in meta["tags"]
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [
            {"split": "train", "path": "data/train-*"}, {"split": "test", "path": "data/test-*"}]}
    ]


def test_every_number_in_the_body_comes_from_the_files(mixed):
    text = body(mixed.path / CARD_FILE)
    rows = mixed.all_rows
    report = mixed.report
    # split table
    assert "| train | 6 | 2 |" in text and "| test | 3 | 1 |" in text and "| **total** | **9** |" in text
    # licences as stated, with counts
    for lic, n in Counter(r["license"] for r in rows).items():
        assert f"| {lic} | {hub_license_id(lic)} | {n} |" in text
    assert "3 images have no licence stated" in text
    # sources with counts and crawl dates from the report
    for source, n in Counter(r["source"] for r in rows).items():
        entry = report["sources"][source]
        assert f"| {source} | {n} | {entry['files']} | {entry['first_fetched']} | {entry['last_fetched']} |" in text
    # drop counts by stage and reason, and dedup statistics
    for stage, reason in {(r["stage"], r["reason"]) for r in report["rejected"]}:
        n = sum(1 for r in report["rejected"] if (r["stage"], r["reason"]) == (stage, reason))
        assert f"| {stage} | {reason} | {n} |" in text
    for name, s in report["stages"].items():
        assert f"| {name} | {s['in']} | {s['out']} | {s['rejected']} |" in text
    assert f"{report['counts']['duplicates_exact']} exact duplicates" in text
    assert f"{report['counts']['duplicates_near']} near duplicates" in text
    assert f"{len(report['clusters'])} near-duplicate cluster(s)" in text
    assert json.dumps(report["config"], indent=2, sort_keys=True) in text
    # histograms computed from the rows
    for scale, n in Counter(int(r["pixel_scale"]) for r in rows).items():
        assert f"| {scale} | {n} |" in text
    for bucket, n in Counter(colors_bucket(r["n_colors"]) for r in rows).items():
        assert f"| {bucket} | {n} |" in text
    assert f"{len({r['author'] for r in rows})} distinct authors" in text
    assert "(attribution.csv)" in text and "(samples.png)" in text
    assert "licences are **as stated by the sources**".lower() in text.lower()


def test_numbers_follow_the_data_not_a_template(tmp_path):
    """Two different folders give different numbers: nothing is typed in."""
    a = build_dataset_folder(tmp_path / "a", n_train=4, n_test=1, licenses=("CC0 1.0",))
    b = build_dataset_folder(tmp_path / "b", n_train=5, n_test=2, licenses=("CC0 1.0",))
    ta, tb = body(write_card(a.path)), body(write_card(b.path))
    assert "| **total** | **5** |" in ta and "| **total** | **7** |" in tb
    assert "All 5 images are under **CC0 1.0**" in ta and "All 7 images are under **CC0 1.0**" in tb


def test_attribution_csv_has_one_line_per_image(mixed):
    with (mixed.path / ATTRIBUTION_FILE).open(newline="") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == 9
    for line, (split, row) in zip(lines, [(s, i) for s in ("train", "test") for i in range(len(mixed.rows[s]))]):
        want = mixed.rows[split][row]
        assert (line["split"], int(line["row"])) == (split, row)
        for key in ("author", "page_url", "license", "title", "sha256", "url"):
            assert line[key] == want[key]


def test_sample_grid_is_integer_nearest_neighbour(mixed):
    grid = np.asarray(Image.open(mixed.path / SAMPLES_FILE).convert("RGB"))
    folder = DatasetFolder.read(mixed.path)
    picked = pick_samples(folder, 16)
    assert len(picked) == 9
    cell = CELL
    for i, (split, row) in enumerate(picked):
        native = Image.open(io.BytesIO(mixed.rows[split][row]["native"]["bytes"])).convert("RGB")
        want, scale = place_on_canvas(native, cell)
        assert scale == cell // 16  # a whole factor
        r, c = divmod(i, 4)
        top, left = GUTTER + r * (cell + GUTTER), GUTTER + c * (cell + GUTTER)
        assert np.array_equal(grid[top : top + cell, left : left + cell], np.asarray(want))
    # no colour in the grid that is not in a sample, white, or the gutter grey
    colours = {tuple(p) for p in grid.reshape(-1, 3)}
    allowed = {(255, 255, 255), (224, 224, 224)}
    for split, row in picked:
        native = np.asarray(Image.open(io.BytesIO(mixed.rows[split][row]["native"]["bytes"])).convert("RGB"))
        allowed |= {tuple(p) for p in native.reshape(-1, 3)}
    assert colours <= allowed


@pytest.mark.parametrize(
    ("stated", "hub_id"),
    [
        ("CC0", "cc0-1.0"), ("CC0 1.0", "cc0-1.0"), ("CC-BY 4.0", "cc-by-4.0"), ("CC BY-SA 3.0", "cc-by-sa-3.0"),
        ("cc-by-sa-4.0", "cc-by-sa-4.0"), ("Creative Commons Attribution 3.0", "cc-by-3.0"), ("GPL 3.0", "gpl-3.0"),
        ("GPL v2", "gpl-2.0"), ("MIT", "mit"), ("unknown", "unknown"), ("", "unknown"),
        ("OGA-BY 3.0", None), ("CC-BY", None), ("ansimuz public licence", None),
    ],
)
def test_licence_mapping(stated, hub_id):
    assert hub_license_id(stated) == hub_id


def test_single_licence_header(tmp_path):
    built = build_dataset_folder(tmp_path / "one", n_train=2, n_test=1, licenses=("CC-BY 4.0",))
    meta = header(write_card(built.path))
    assert meta["license"] == "cc-by-4.0" and "license_name" not in meta
    odd = build_dataset_folder(tmp_path / "odd", n_train=2, n_test=1, licenses=("OGA-BY 3.0",))
    path = write_card(odd.path)
    meta = header(path)
    assert (meta["license"], meta["license_name"]) == ("other", "oga-by-3-0")
    assert meta["license_link"] == odd.rows["train"][0]["license_url"]
    assert validate_card_metadata(path.read_text()) == []


def test_curate_card_regenerates_in_place_and_domain_a(tmp_path, capsys):
    built = build_dataset_folder(tmp_path / "photos", n_train=3, n_test=1, domain="A")
    (built.path / CARD_FILE).write_text("stale card")
    assert curate(["card", str(built.path)]) == 0
    out = capsys.readouterr().out
    assert "README.md" in out and "train 3, test 1" in out
    text = (built.path / CARD_FILE).read_text()
    assert "stale" not in text and "pictures (domain A)" in text
    assert "domain-a" in header(built.path / CARD_FILE)["tags"]
    assert validate_card_metadata(text) == []
    assert (built.path / SAMPLES_FILE).exists() and (built.path / ATTRIBUTION_FILE).exists()


def test_card_without_report_and_bad_folders(tmp_path, capsys):
    built = build_dataset_folder(tmp_path / "bare", n_train=2, n_test=1)
    (built.path / "curation_report.json").unlink()
    text = write_card(built.path).read_text()
    assert "no `curation_report.json`" in text and validate_card_metadata(text) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderError, match="no Parquet shards"):
        write_card(tmp_path / "empty")
    assert curate(["card", str(tmp_path / "empty")]) == 2
    assert "no Parquet shards" in capsys.readouterr().err


def test_empty_dataset_gets_an_honest_card(tmp_path, capsys):
    """`curate run` writes an empty train shard when every input was rejected; the card must not crash."""
    import pyarrow.parquet as pq

    built = build_dataset_folder(tmp_path / "none", n_train=2, n_test=0)
    for shard in (built.path / "data").glob("*.parquet"):
        shard.unlink()
    pq.write_table(FEATURES.arrow_schema.empty_table(), built.path / "data/train-00000-of-00001.parquet")
    (built.path / SAMPLES_FILE).write_bytes(b"stale")
    text = write_card(built.path).read_text()
    assert "No samples: this dataset has no rows." in text and not (built.path / SAMPLES_FILE).exists()
    assert "| **total** | **0** |" in text and validate_card_metadata(text) == []
    assert curate(["push", str(built.path), "--repo-id", "u/x", "--dry-run"]) == 2
    assert "nothing to publish" in capsys.readouterr().err


def test_canvas_size_is_read_from_the_data(mixed):
    assert '# PIL image, 64x64 canvas' in (mixed.path / CARD_FILE).read_text()


def test_bad_shards_are_clear_errors(tmp_path, capsys):
    built = build_dataset_folder(tmp_path / "broken", n_train=2, n_test=1)
    shard = built.path / "data/test-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:200])  # truncated
    assert curate(["card", str(built.path)]) == 2
    assert "not a readable Parquet file" in capsys.readouterr().err
    assert curate(["push", str(built.path), "--repo-id", "u/x", "--dry-run"]) == 2
    assert "not a readable Parquet file" in capsys.readouterr().err

    import pyarrow.parquet as pq

    other = build_dataset_folder(tmp_path / "cols", n_train=2, n_test=1)
    shard = other.path / "data/test-00000-of-00001.parquet"
    pq.write_table(pq.read_table(shard).drop_columns(["author"]), shard)
    with pytest.raises(FolderError, match=r"missing \['author'\]"):
        write_card(other.path)


def test_undecodable_sample_is_skipped_not_fatal(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    built = build_dataset_folder(tmp_path / "bad-image", n_train=3, n_test=1)
    shard = built.path / "data/test-00000-of-00001.parquet"
    table = pq.read_table(shard)
    native = table.column("native").to_pylist()
    native[0] = {"bytes": b"\x89PNG\r\n\x1a\n garbage", "path": None}
    column = pa.array(native, type=table.schema.field("native").type)
    pq.write_table(table.set_column(table.schema.get_field_index("native"), "native", column), shard)
    with pytest.warns(UserWarning, match="skipped test row 0"):
        text = write_card(built.path).read_text()
    assert "![3 samples" in text and (built.path / SAMPLES_FILE).exists()
    assert "| **total** | **4** |" in text


def test_web_text_cannot_break_the_tables(tmp_path):
    built = build_dataset_folder(tmp_path / "pipes", n_train=2, n_test=1, licenses=("Free | no\nwarranty",))
    path = write_card(built.path)
    text = path.read_text()
    assert "| Free \\| no warranty | other | 3 |" in text
    assert header(path)["license_name"] == "free-no-warranty" and validate_card_metadata(text) == []


def test_multi_licensed_works_count_under_each_licence_and_header_lists_all(tmp_path):
    """Rows alternate a dual licence (CC-BY-SA 3.0 + GPL 2.0) and CC0: both of the dual count, all three
    are in the header's ``license`` list, and the card says a work with two licences counts twice."""
    built = build_dataset_folder(tmp_path / "dual", n_train=4, n_test=2,
                                 licenses=(("CC-BY-SA 3.0", "GPL 2.0"), "CC0 1.0"))
    path = write_card(built.path)
    meta = header(path)
    assert sorted(meta["license"]) == ["cc-by-sa-3.0", "cc0-1.0", "gpl-2.0"] and "license_name" not in meta
    text = path.read_text()
    assert "| CC-BY-SA 3.0 | cc-by-sa-3.0 | 3 |" in text and "| GPL 2.0 | gpl-2.0 | 3 |" in text
    assert "| CC0 1.0 | cc0-1.0 | 3 |" in text
    assert "3 images are offered under more than one licence" in text
    assert "counts under each of them" in text
    assert validate_card_metadata(text) == []


REAL = Path(__file__).parent / "fixtures" / "real"


def _find(tile: np.ndarray, source: np.ndarray) -> bool:
    """Is ``tile`` an exact piece of ``source`` (same pixels, same arrangement)?"""
    th, tw = tile.shape[:2]
    ys, xs = np.nonzero((source[: source.shape[0] - th + 1, : source.shape[1] - tw + 1] == tile[0, 0]).all(-1))
    return any(np.array_equal(source[y:y + th, x:x + tw], tile) for y, x in zip(ys, xs))


def test_samples_never_drop_pixels_of_a_large_native():
    """An 832x1344 LPC sheet and a 137x89 scene used to be decimated into the 128 px cell (every
    k-th pixel: scattered dots); now the cell shows a 128 px piece of each at scale 1."""
    sheet = Image.open(REAL / "lpc-body-male-light.png")
    scene = Image.open(REAL / "superpowers-forest-scene-137x89.png")
    jar = Image.open(REAL / "superpowers-jar-16x30.png")
    for img in (sheet, scene):
        tile, piece = sample_tile(img, CELL)
        src = np.asarray(composite_on_white(img))
        arr = np.asarray(tile)
        assert piece and tile.size == (CELL, CELL)
        h, w = min(CELL, src.shape[0]), min(CELL, src.shape[1])
        top, left = (CELL - h) // 2, (CELL - w) // 2
        assert _find(arr[top:top + h, left:left + w], src)  # every pixel shown is the art's, in place
        assert (arr[top:top + h, left:left + w] != 255).any()  # centred on the art, not a blank corner
        decimated, scale = place_on_canvas(composite_on_white(img), CELL)
        assert scale < 0 and not np.array_equal(np.asarray(decimated), arr)  # what it was
    tile, piece = sample_tile(jar, CELL)
    assert not piece and np.array_equal(np.asarray(tile), np.asarray(place_on_canvas(composite_on_white(jar), CELL)[0]))
    grid = np.asarray(sample_grid([sheet, scene, jar], cell=CELL, columns=3))
    for i, img in enumerate((sheet, scene, jar)):
        left = GUTTER + i * (CELL + GUTTER)
        assert np.array_equal(grid[GUTTER:GUTTER + CELL, left:left + CELL], np.asarray(sample_tile(img, CELL)[0]))

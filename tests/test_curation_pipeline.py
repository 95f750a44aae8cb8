"""`curate run` end to end on raw stores and folders built here: the dataset loads back with
``datasets.load_dataset``, every rejection has a reason, duplicates cluster, re-runs are
incremental, an interrupted run resumes, and the same input gives byte-identical Parquet."""

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from curation import pipeline
from curation.config import load_config
from curation.errors import CurateError
from curation.inputs import read_raw_store
from data_cards.card import write_card
from pixelforge.dataset import COLUMNS, FEATURES
from pixelforge.imaging import count_colors
from pixelforge.testing.sprites import make_sprite, render

ROOT = Path(__file__).resolve().parents[1]


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class RawStore:
    """A raw store exactly as the crawler writes it: files/ab/<sha256>.<ext> + manifest.jsonl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def add(self, data: bytes, ext: str = "png", write: bool = True, **fields) -> str:
        sha = hashlib.sha256(data).hexdigest()
        rel = f"files/{sha[:2]}/{sha}.{ext}"
        if write:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(data)
        self.n += 1
        rec = {"sha256": sha, "path": rel, "bytes": len(data), "content_type": f"image/{ext}",
               "url": f"https://example.org/{self.n}.{ext}", "page_url": f"https://example.org/page/{self.n}",
               "source": "opengameart", "title": f"item {self.n}", "author": "someone", "license": "CC0-1.0",
               "license_url": "https://creativecommons.org/publicdomain/zero/1.0/", "tags": ["sprite"],
               "fetched_at": f"2026-01-{self.n % 28 + 1:02d}T00:00:00Z"}
        rec.update(fields)
        with (self.root / "manifest.jsonl").open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        return sha


def sprite_png(which, size=(16, 16), **kw) -> bytes:
    return png(render(make_sprite(which, size), **kw).image)


def config(*extra):
    # the pixel-art score belongs to issue #5 and is tested there; here its wiring is tested
    return load_config(None, ["workers=1", "output.html_report=true", *extra])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = RawStore(tmp_path_factory.mktemp("raw"))
    for seed in range(12):
        s.add(sprite_png(seed, (16 + seed, 16), background="transparent", seed=seed))
    # the same bytes twice: one file, two provenances
    s.add(sprite_png(0, (16, 16), background="transparent", seed=0), url="https://mirror.example/0.png",
          source="itchio", license="")
    # the same sprite, different garbage under alpha: an exact duplicate after compositing
    s.add(sprite_png(1, (17, 16), background="transparent", seed=99), license="", author="", tags=[])
    # the same sprite saved opaque on white, as a palette PNG: an exact duplicate after decoding
    on_white = Image.fromarray(render(make_sprite(2, (18, 16)), background="transparent", seed=2).native_truth)
    s.add(png(on_white.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)))
    # a near duplicate: sprite 3 upscaled x4 and saved as JPEG (issue 15: a lossless copy with two
    # pixels changed is another drawing, e.g. the next animation frame, and is no longer merged)
    near = Image.fromarray(render(make_sprite(3, (19, 16)), background="transparent", seed=3).native_truth)
    buf = io.BytesIO()
    near.resize((near.width * 4, near.height * 4), Image.Resampling.NEAREST).save(buf, "JPEG", quality=90)
    s.add(buf.getvalue(), ext="jpg")
    # a zip pack: two sprites, a licence text and a zip-slip member
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pack/a.png", sprite_png(20, (24, 24)))
        zf.writestr("pack/b.png", sprite_png(21, (20, 28)))
        zf.writestr("pack/LICENSE.txt", b"CC0")
        zf.writestr("../../escape.png", sprite_png(22))
    s.add(buf.getvalue(), ext="zip", content_type="application/zip")
    # bad inputs, each with its own reason
    good = sprite_png(30)
    s.add(good[: len(good) // 2], url="https://example.org/truncated.png")
    s.add(b"<svg xmlns='http://www.w3.org/2000/svg'/>", ext="svg")
    s.add(b"<!doctype html><p>not found</p>", ext="png")
    s.add(png(make_sprite(31, (6, 6)).on_white()))  # too small
    s.add(png(Image.new("1", (9000, 9000))))  # decompression bomb under a 50 MP limit
    s.add(sprite_png(32), write=False, url="https://example.org/missing.png")
    with (s.root / "manifest.jsonl").open("a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"sha256": "0" * 64, "path": "../../etc/passwd", "url": "https://evil.example/x"}) + "\n")
    return s


@pytest.fixture(scope="module")
def curated(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("curated")
    result = pipeline.run(store.root, out, config("decode.max_pixels=50000000"), progress=False)
    write_card(out, domain="B")  # as `curate run` composes the two stages
    return out, result


def test_dataset_loads_back_with_the_schema(curated):
    out, result = curated
    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"train", "test"} or set(ds) == {"train"}
    train = ds["train"]
    assert train.features == FEATURES and tuple(train.column_names) == COLUMNS
    total = sum(len(ds[s]) for s in ds)
    assert total == result.report["counts"]["kept"] == 14
    for split in ds:
        for row in ds[split]:
            assert row["image"].size == (256, 256) and row["image"].mode == "RGB"
            native = row["native"]
            assert native.size == (row["native_width"], row["native_height"])
            assert count_colors(row["image"]) <= count_colors(native) + 1  # nearest-neighbour, plus white margin
            scaled = np.asarray(native).repeat(row["scale"], 0).repeat(row["scale"], 1)
            canvas = np.asarray(row["image"])
            top, left = (256 - scaled.shape[0]) // 2, (256 - scaled.shape[1]) // 2
            assert np.array_equal(canvas[top : top + scaled.shape[0], left : left + scaled.shape[1]], scaled)
            assert row["license"] and row["source"] and len(row["phash"]) == 16
    files = sorted(p.name for p in (out / "data").iterdir())
    assert all(f.startswith(("train-00000-of-", "test-00000-of-")) for f in files)
    assert (out / "README.md").exists() and (out / "curation_report.html").exists()


def test_report_lists_every_rejection_with_its_reason(curated):
    report = json.loads((curated[0] / "curation_report.json").read_text())
    reasons = {(r["stage"], r["reason"]) for r in report["rejected"]}
    assert {("input", "bad-manifest-line"), ("input", "missing-file"), ("input", "path-escape"), ("expand", "zip-slip"),
            ("decode", "svg"), ("decode", "unreadable"), ("decode", "too-large"), ("filters", "too-small")} <= reasons
    assert any(r["reason"] in ("truncated", "unreadable") and r["input"].endswith("truncated.png") for r in report["rejected"])
    assert any(r["member"] == "pack/LICENSE.txt" for r in report["rejected"])
    assert all(r["reason"] and r["stage"] for r in report["rejected"])
    counts = report["counts"]
    assert counts["rejected"] == len(report["rejected"])
    assert counts["kept"] == counts["train"] + counts["test"]
    # other garbage under alpha and an opaque palette copy are exact duplicates; the JPEG upscale is near
    assert counts["duplicates_exact"] == 2 and counts["duplicates_near"] == 1
    assert report["stages"]["expand"]["out"] == report["stages"]["decode"]["in"]
    assert list(report["stages"])[:9] == ["input", "expand", "decode", "native", "sheets", "background", "filters",
                                          "dedup", "canvas"]
    assert report["sources"]["opengameart"]["files"] >= 20 and report["sources"]["itchio"]["files"] == 1
    assert report["sources"]["opengameart"]["first_fetched"].startswith("2026-01-")
    assert sum(report["native"]["scale_histogram"].values()) == counts["kept"]
    assert report["input_kind"] == "raw-store" and report["config"]["canvas"]["size"] == 256


def test_clusters_keep_the_best_member_and_provenance(curated):
    out, _ = curated
    report = json.loads((out / "curation_report.json").read_text())
    ds = datasets.load_dataset(str(out))
    rows = {r["pixel_sha256"]: r for s in ds for r in ds[s].remove_columns(["image", "native"])}
    sizes = sorted(c["size"] for c in report["clusters"])
    assert sizes == [2, 2, 2]
    for c in report["clusters"]:
        kept = rows[c["kept"]]
        assert kept["cluster_size"] == c["size"] and c["members"][0] == c["kept"]
    # the licensed, fully described copy wins over the bare one with the same pixels
    sprite1 = [c for c in report["clusters"] if len(set(c["members"])) == 1 and c["inputs"][0]["url"]]
    assert all(rows[c["kept"]]["license"] == "CC0-1.0" for c in sprite1)
    # one file with two provenances: first record for the row, the second kept in the report
    assert [p["url"] for p in report["extra_provenance"]] == ["https://mirror.example/0.png"]
    assert any(r["url"] == "https://example.org/1.png" for r in rows.values())
    assert sum(r["cluster_size"] for r in rows.values()) == len(rows) + 3


def test_same_input_gives_byte_identical_parquet_and_resumes_incrementally(store, curated, tmp_path):
    out1, _ = curated
    out2 = tmp_path / "again"
    pipeline.run(store.root, out2, config("decode.max_pixels=50000000", "workers=2"), progress=False)
    shards = sorted(p.name for p in (out1 / "data").iterdir())
    assert shards == sorted(p.name for p in (out2 / "data").iterdir())
    for name in shards:
        assert (out1 / "data" / name).read_bytes() == (out2 / "data" / name).read_bytes()
    # adding one file processes only that file, and the old rows keep their split
    old = {r["pixel_sha256"]: s for s, rows in _splits(out2).items() for r in rows}
    extra = RawStore(tmp_path / "raw2")
    shutil.copytree(store.root, extra.root, dirs_exist_ok=True)
    extra.n = 100
    extra.add(sprite_png(40, (30, 30)))
    res = pipeline.run(extra.root, out2, config("decode.max_pixels=50000000"), progress=False)
    assert res.processed == 1 and res.report["counts"]["kept"] == 15
    new = {r["pixel_sha256"]: s for s, rows in _splits(out2).items() for r in rows}
    assert all(new[k] == v for k, v in old.items())
    # a split change re-uses every cached image
    res = pipeline.run(extra.root, out2, config("decode.max_pixels=50000000", "split.test_fraction=0.5"), progress=False)
    assert res.processed == 0 and res.report["counts"]["test"] > 0


def _splits(out):
    ds = datasets.load_dataset(str(out))
    return {s: list(ds[s].remove_columns(["image", "native"])) for s in ds}


def test_killed_run_resumes_and_loses_nothing(tmp_path):
    store = RawStore(tmp_path / "raw")
    for k in range(100):
        store.add(sprite_png(1000 + k, (16 + k % 9, 16 + k % 5), background="transparent", seed=k))
    ref = tmp_path / "ref"
    pipeline.run(store.root, ref, config(), progress=False)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "curation", "run", "--input", str(store.root), "--output", str(out), "--workers", "1",
         "--no-progress"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / pipeline.CACHE_FILE
    deadline = time.monotonic() + 60
    cached = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            import sqlite3

            with sqlite3.connect(db) as con:
                cached = con.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        except sqlite3.Error:
            cached = 0
        if cached:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert 0 < cached < 100, "the run was not caught mid-way"
    assert not (out / "data").exists()
    result = pipeline.run(store.root, out, config(), progress=False)
    assert result.processed <= 100 - cached
    for shard in sorted((ref / "data").iterdir()):
        assert (out / "data" / shard.name).read_bytes() == shard.read_bytes()


def test_folder_input_domain_a_keeps_paths_as_provenance(tmp_path, cartoon_files):
    src = tmp_path / "cartoons"
    (src / "sub").mkdir(parents=True)
    for f in cartoon_files[:5]:
        shutil.copy(f, src / "sub" / f.name)
    (src / ".hidden.png").write_bytes(cartoon_files[0].read_bytes())
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    (src / "photo.png").write_bytes(png(Image.fromarray(noise)))
    with pytest.raises(CurateError, match="inside --input"):  # it would be read back as input
        pipeline.run(src, src / "out", config("domain=A"), progress=False)
    out = tmp_path / "out"
    res = pipeline.run(src, out, config("domain=A"), progress=False)
    assert res.report["input_kind"] == "folder" and res.report["domain"] == "A"
    assert res.report["counts"]["kept"] == 6  # colour limits are for pixel art only
    rows = [r for rows in _splits(out).values() for r in rows]
    assert sorted(r["url"] for r in rows) == sorted([f"sub/{f.name}" for f in cartoon_files[:5]] + ["photo.png"])
    assert {r["source"] for r in rows} == {"folder"} and {r["license"] for r in rows} == {"unknown"}
    assert all(r["licenses"] == ["unknown"] for r in rows)
    again = pipeline.run(src, out, config("domain=A"), progress=False)
    assert again.processed == 0 and again.report["counts"]["kept"] == 6
    res_b = pipeline.run(src, tmp_path / "as_b", config("domain=B", "filters.max_colors=64"), progress=False)
    assert any(r["reason"] == "too-many-colors" and r["input"] == "photo.png" for r in res_b.report["rejected"])


def test_every_licence_of_a_work_reaches_the_licenses_column(tmp_path):
    """A dual-licensed work keeps both licences; a manifest line from before ``licenses`` reads as its one."""
    store = RawStore(tmp_path / "raw")
    both = [{"name": "CC-BY-SA 3.0", "url": "http://creativecommons.org/licenses/by-sa/3.0/"},
            {"name": "GPL 2.0", "url": "http://www.gnu.org/licenses/old-licenses/gpl-2.0.html"}]
    dual = store.add(sprite_png(401), license="CC-BY-SA 3.0", license_url=both[0]["url"], licenses=both)
    old = store.add(sprite_png(402), license="CC-BY 4.0")  # no "licenses" key: an older crawl
    pipeline.run(store.root, tmp_path / "out", config("split.test_fraction=0"), progress=False)
    rows = {r["sha256"]: r for rows in _splits(tmp_path / "out").values() for r in rows}
    assert rows[dual]["licenses"] == ["CC-BY-SA 3.0", "GPL 2.0"] and rows[dual]["license"] == "CC-BY-SA 3.0"
    assert rows[old]["licenses"] == ["CC-BY 4.0"]
    assert list(rows[old])[-2:] == ["licenses", "background"]  # added last: existing consumers keep their positions


def test_animated_gif_every_frame_becomes_a_row(tmp_path):
    frames = [Image.fromarray(render(make_sprite(300 + i, (20, 20)), background="transparent").native_truth)
              for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    store = RawStore(tmp_path / "raw")
    store.add(buf.getvalue(), ext="gif")
    first = pipeline.run(store.root, tmp_path / "first", config(), progress=False)
    assert first.report["counts"]["kept"] == 1
    every = pipeline.run(store.root, tmp_path / "all", config("decode.frames=all"), progress=False)
    rows = [r for rows in _splits(tmp_path / "all").values() for r in rows]
    assert sorted(r["member"] for r in rows) == ["frame:0", "frame:1", "frame:2"]
    assert every.report["counts"]["kept"] == 3


def test_native_recovery_and_pixel_art_score_are_wired(tmp_path, monkeypatch):
    """The stage bodies belong to issue #5; here a stand-in proves the pipeline uses their results."""
    from curation import process
    from curation.stages.native import NativeResult
    from curation.stages.pixelart import PixelArtScore

    def fake_native(img, cfg, **kw):
        small = img.resize((img.width // 4, img.height // 4), Image.Resampling.NEAREST)
        return NativeResult(image=small, scale=(4.0, 4.0), phase=(1, 2), confidence=0.93, upscaled=True)

    def fake_score(original, native):
        low = original.getpixel((0, 0)) == (1, 2, 3)
        return PixelArtScore(score=0.1 if low else 0.8, components={"grid_fit": 0.7}, explanation="stand-in")

    monkeypatch.setattr(process, "recover_native", fake_native)
    monkeypatch.setattr(process, "pixel_art_score", fake_score)
    store = RawStore(tmp_path / "raw")
    store.add(sprite_png(400, (20, 20), scale=4))
    blurry = Image.new("RGB", (80, 80), (1, 2, 3))
    blurry.paste((200, 0, 0), (20, 20, 60, 60))
    store.add(png(blurry))
    res = pipeline.run(store.root, tmp_path / "out", config(), progress=False)
    assert [r["reason"] for r in res.report["rejected"]] == ["not-pixel-art"]
    (row,) = [r for rows in _splits(tmp_path / "out").values() for r in rows]
    assert (row["native_width"], row["pixel_scale"], row["grid_confidence"]) == (24, 4.0, pytest.approx(0.93))
    assert res.report["native"]["scale_histogram"] == {"4": 1}
    off = pipeline.run(store.root, tmp_path / "off", config("native.enabled=false", "filters.pixel_art_threshold=0"),
                       progress=False)
    assert off.report["counts"]["kept"] == 2


def test_sheet_slicing_is_wired_and_off_by_default(tmp_path, monkeypatch):
    """Slicing belongs to issue #5; a stand-in proves that boxes become rows with their member names."""
    from curation import process
    from curation.stages.sheets import SpriteBox

    sheet = np.full((24, 56, 3), 255, np.uint8)
    sheet[:, :24] = np.asarray(make_sprite(500, (20, 20)).on_white().resize((24, 24), Image.Resampling.NEAREST))
    sheet[:, 32:] = np.asarray(make_sprite(501, (20, 20)).on_white().resize((24, 24), Image.Resampling.NEAREST))
    monkeypatch.setattr(process, "slice_sheet", lambda img, cfg: [SpriteBox(0, 0, 24, 24), SpriteBox(32, 0, 24, 24)])
    store = RawStore(tmp_path / "raw")
    store.add(png(Image.fromarray(sheet)))
    whole = pipeline.run(store.root, tmp_path / "whole", config("native.enabled=false"), progress=False)
    assert whole.report["counts"]["kept"] == 1
    sliced = pipeline.run(store.root, tmp_path / "sliced", config("native.enabled=false", "sheets.enabled=true"),
                          progress=False)
    rows = [r for rows in _splits(tmp_path / "sliced").values() for r in rows]
    assert sorted(r["member"] for r in rows) == ["box:0,0,24,24", "box:32,0,24,24"]
    assert {(r["native_width"], r["native_height"]) for r in rows} == {(24, 24)}
    assert sliced.report["stages"]["sheets"] == {"in": 1, "out": 2, "rejected": 0}


def test_rows_are_sharded_with_hub_names(store, tmp_path):
    out = tmp_path / "sharded"
    res = pipeline.run(store.root, out, config("decode.max_pixels=50000000", "output.shard_rows=4",
                                               "split.test_fraction=0.3"), progress=False)
    names = sorted(p.name for p in (out / "data").iterdir())
    n_train, n_test = res.report["counts"]["train"], res.report["counts"]["test"]
    assert n_test > 0
    t_train, t_test = -(-n_train // 4), -(-n_test // 4)
    assert names == sorted([f"train-{i:05d}-of-{t_train:05d}.parquet" for i in range(t_train)]
                           + [f"test-{i:05d}-of-{t_test:05d}.parquet" for i in range(t_test)])
    ds = datasets.load_dataset(str(out))
    assert (len(ds["train"]), len(ds["test"])) == (n_train, n_test)


def test_raw_store_paths_resolve_symlinks_and_never_escape(tmp_path):
    """Store paths are resolved (folders once each): symlinks out of the store are rejections."""
    root, outside = tmp_path / "raw", tmp_path / "outside"
    (root / "files" / "ab").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    (root / "files" / "ab" / "inside.png").write_bytes(b"x")
    (root / "files" / "ab" / "link.png").symlink_to(outside / "secret.png")  # a file link out
    (root / "files" / "cd").symlink_to(outside, target_is_directory=True)  # a folder link out
    (root / "files" / "ef").symlink_to(root / "files" / "ab", target_is_directory=True)  # a link that stays in
    paths = ["files/ab/inside.png", "files/ab/link.png", "files/cd/secret.png", "files/ef/inside.png",
             "files/ab/../../../outside/secret.png"]
    with (root / "manifest.jsonl").open("w") as fh:
        for i, rel in enumerate(paths):
            fh.write(json.dumps({"sha256": f"{i:064x}", "path": rel, "url": rel}) + "\n")
    inputs = read_raw_store(root)
    assert sorted(r["input"] for r in inputs.rejected if r["reason"] == "path-escape") == sorted(paths[1:3] + paths[4:])
    assert {f.path for f in inputs.files} == {(root / "files" / "ab" / "inside.png").resolve()}


def test_pool_starts_from_the_fork_server_beside_other_threads(store, tmp_path):
    """A child forked while another thread holds a lock can wait forever (it happened with a Dask
    client in the same process): beside other threads the pool starts from the fork server, and a
    run with 2 workers still gives the same bytes as one."""
    import threading

    from curation import workers

    release = threading.Event()
    holder = threading.Thread(target=release.wait, daemon=True)
    holder.start()
    try:
        assert workers.start_method() == "forkserver"
        pipeline.run(store.root, tmp_path / "pool", config("decode.max_pixels=50000000", "workers=2"), progress=False)
    finally:
        release.set()
        holder.join()
    pipeline.run(store.root, tmp_path / "one", config("decode.max_pixels=50000000", "workers=1"), progress=False)
    for a, b in zip(sorted((tmp_path / "pool" / "data").rglob("*.parquet")), sorted((tmp_path / "one" / "data").rglob("*.parquet"))):
        assert a.read_bytes() == b.read_bytes()


def test_held_out_files_and_their_copies_always_go_to_test(tmp_path):
    """split.holdout_prefixes: a benchmark's held-out files never reach train, not even through a copy."""
    store = RawStore(tmp_path / "raw")
    shas = [store.add(sprite_png(500 + i)) for i in range(24)]
    held = sorted({s[0] for s in shas})[:3]
    copy_of = next(s for s in shas if s[0] in held)
    data = (store.root / "files" / copy_of[:2]).glob(copy_of + ".*")
    original = Image.open(next(data)).convert("RGBA")
    copy = store.add(png(original.resize((original.width * 2, original.height * 2), Image.Resampling.NEAREST)))
    pipeline.run(store.root, tmp_path / "out", config("split.test_fraction=0", f"split.holdout_prefixes={held}",
                                                      "dedup.enabled=true"), progress=False)
    splits = _splits(tmp_path / "out")
    assert not any(r["sha256"][0] in held for r in splits["train"])
    assert {s for s in shas if s[0] in held} <= {r["sha256"] for r in splits["test"]} | {copy}
    assert copy not in {r["sha256"] for r in splits["train"]}
    with pytest.raises(Exception, match="holdout_prefixes"):
        load_config(None, ["split.holdout_prefixes=['0G']"])

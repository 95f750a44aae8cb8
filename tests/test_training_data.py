"""Training data: domain sources, pixel-art-safe preprocessing, rejections, a resumable epoch order."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from pixelforge.imaging import png_bytes, scale_nearest
from pixelforge.testing.dataset_folder import build_dataset_folder
from pixelforge.testing.sprites import make_sprite, render
from training.config import ConfigError, TrainConfig
from training.data import (
    DataError,
    FolderDomain,
    Preprocess,
    UnpairedEpoch,
    epoch_pairs,
    native_pixels,
    open_domain,
    picture_crop,
    pixel_art_crop,
    sample_batch,
    to_tensor,
)
from training.outlines import outline_target


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _colors(img: Image.Image) -> set[tuple[int, ...]]:
    return {tuple(c) for c in np.asarray(img.convert("RGB")).reshape(-1, 3)}


def test_native_pixels_undoes_exact_integer_upscales_only():
    sprite = make_sprite(seed=4, size=(10, 14), n_colors=5).on_white()
    for k in (1, 2, 3, 5):
        native, found = native_pixels(scale_nearest(sprite, k))
        assert found == k and np.array_equal(np.asarray(native), np.asarray(sprite))
    smooth = sprite.resize((30, 42), Image.Resampling.BILINEAR)
    assert native_pixels(smooth)[1] == 1


def _find_placement(canvas: np.ndarray, art: np.ndarray) -> list[tuple[int, int]]:
    h, w = art.shape[:2]
    hits = []
    for y in range(canvas.shape[0] - h + 1):
        for x in range(canvas.shape[1] - w + 1):
            if np.array_equal(canvas[y : y + h, x : x + w], art):
                rest = canvas.copy()
                rest[y : y + h, x : x + w] = 255
                if (rest == 255).all():
                    hits.append((x, y))
    return hits


@pytest.mark.parametrize("upscale", [1, 3])
def test_pixel_art_crop_scales_by_integers_and_aligns_to_the_grid(upscale):
    art = np.array(make_sprite(seed=7, size=(8, 12), n_colors=4).pixels)
    art[0, 0] = (1, 2, 3)  # sprites are often mirror-symmetric; a marker makes flips visible
    sprite = Image.fromarray(art)
    size, k = 64, 5  # 8x12 fits 64 at most 5x: 40x60, with 24 px of slack across
    expected = np.asarray(scale_nearest(sprite, k))
    offsets, flips = set(), set()
    for seed in range(12):
        out = pixel_art_crop(scale_nearest(sprite, upscale), size, np.random.default_rng(seed), flip=True)
        assert out.size == (size, size) and out.mode == "RGB"
        assert _colors(out) <= _colors(sprite) | {(255, 255, 255)}
        canvas = np.asarray(out)
        hits = _find_placement(canvas, expected) or _find_placement(canvas, expected[:, ::-1])  # art may be flipped
        assert len(hits) == 1, hits
        x, y = hits[0]
        assert x % k == 0 and y % k == 0  # the art's pixel grid lines up with the crop
        offsets.add(x)
        flips.add(bool(_find_placement(canvas, expected[:, ::-1])))
    assert len(offsets) > 1 and flips == {True, False}  # the offset is random (augmentation), not always centred
    centred = np.asarray(pixel_art_crop(sprite, size, None, flip=True))
    assert _find_placement(centred, expected) == [(10, 0)]
    assert art.shape == (12, 8, 3)


def test_pixel_art_larger_than_the_crop_gets_a_window_at_scale_one():
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 4, (80, 100, 3), dtype=np.uint8) * 60)
    out = np.asarray(pixel_art_crop(big, 32, np.random.default_rng(3), flip=False))
    src = np.asarray(big)
    assert any(
        np.array_equal(src[y : y + 32, x : x + 32], out) for y in range(80 - 31) for x in range(100 - 31)
    )
    strip = Image.fromarray(rng.integers(0, 255, (10, 100, 3), dtype=np.uint8))  # too wide to fit even at 1x
    out = np.asarray(pixel_art_crop(strip, 32, np.random.default_rng(1), flip=False))
    assert (out[:11] == 255).all() and (out[21:] == 255).all()  # centred vertically on white


def test_picture_crop_handles_non_square_and_grayscale():
    grey = Image.fromarray(np.tile(np.arange(60, dtype=np.uint8), (40, 1)), "L")
    out = picture_crop(grey, 32, 36, np.random.default_rng(0), flip=True)
    assert out.size == (32, 32) and out.mode == "RGB"
    again = picture_crop(grey, 32, 36, np.random.default_rng(0), flip=True)
    assert np.array_equal(np.asarray(out), np.asarray(again))  # same rng, same crop
    tall = Image.new("RGB", (20, 90), (10, 20, 30))
    assert picture_crop(tall, 32, 36, None, flip=False).size == (32, 32)


def _png(path, arr: np.ndarray) -> None:
    Image.fromarray(arr).save(path)


def test_folder_domain_reports_rejections_and_loads_on_white(tmp_path):
    folder = tmp_path / "pics"
    (folder / "sub").mkdir(parents=True)
    rgba = np.zeros((6, 6, 4), dtype=np.uint8)
    rgba[:3, :, :] = (255, 0, 0, 255)  # top half opaque red, bottom half transparent black
    Image.fromarray(rgba, "RGBA").save(folder / "sub" / "half.png")
    _png(folder / "ok.png", np.full((5, 7, 3), 9, dtype=np.uint8))
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    good = png_bytes(Image.new("RGB", (8, 8)))
    (folder / "cut.png").write_bytes(good[: len(good) // 2])
    _png(folder / "big.png", np.zeros((50, 50, 3), dtype=np.uint8))
    domain = open_domain(str(folder), "A", max_pixels=1000)
    assert isinstance(domain, FolderDomain) and len(domain) == 2
    reasons = {r.item.rsplit("/", 1)[-1]: r.reason for r in domain.rejected}
    assert set(reasons) == {"empty.png", "cut.png", "big.png"}
    assert reasons["big.png"].startswith("too-large") and reasons["empty.png"].startswith("unreadable")
    half = np.asarray(domain.load([i for i in range(2) if "half" in domain.name(i)][0]))
    assert (half[:3] == (255, 0, 0)).all() and (half[3:] == 255).all()  # alpha composited on white, not black
    assert "2 images from image folder" in domain.describe()


def test_missing_empty_and_all_bad_domains_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        open_domain(str(tmp_path / "nope"), "A")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="domain B: no usable images"):
        open_domain(str(tmp_path / "empty"), "B")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="1 files rejected"):
        open_domain(str(tmp_path / "bad"), "A")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="is a file"):
        open_domain(str(tmp_path / "file.png"), "A")


def test_dataset_folder_from_curation_uses_native_for_pixel_art(tmp_path):
    built = build_dataset_folder(tmp_path / "ds", n_train=5, n_test=2, canvas=64)
    b = open_domain(str(built.path), "B")
    assert len(b) == 5 and b.column == "native" and "dataset folder" in b.describe()
    for i, row in enumerate(built.rows["train"]):
        want = Image.open(io.BytesIO(row["native"]["bytes"])).convert("RGB")
        assert np.array_equal(np.asarray(b.load(i)), np.asarray(want))
    # domain A reads the picture itself too, not the canvas curation scaled up by nearest neighbour
    a = open_domain(str(built.path), "A", split="test")
    assert len(a) == 2 and a.column == "native"
    native = Image.open(io.BytesIO(built.rows["test"][0]["native"]["bytes"]))
    assert a.load(0).size == native.size != (64, 64)
    with pytest.raises(DataError, match=r"no 'validation' split \(found \['test', 'train'\]\)"):
        open_domain(str(built.path), "B", split="validation")
    # the same rows through datasets.load_dataset: the folder really is the contract
    loaded = datasets.load_dataset(str(built.path), split="train")
    assert len(loaded) == 5


def test_hub_ids_go_through_load_dataset(monkeypatch):
    table = datasets.Dataset.from_dict(
        {"picture": [{"bytes": png_bytes(Image.new("RGB", (4, 4), (1, 2, 3))), "path": None}], "label": [0]},
        features=datasets.Features({"picture": datasets.Image(), "label": datasets.Value("int32")}),
    )
    calls = []

    def fake_load_dataset(name, split=None, **kw):
        calls.append((name, split))
        if name == "someone/missing":
            raise FileNotFoundError("Dataset 'someone/missing' doesn't exist on the Hub")
        return table

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    domain = open_domain("someone/photos", "A")
    assert calls == [("someone/photos", "train")] and domain.column == "picture"
    assert np.asarray(domain.load(0))[0, 0].tolist() == [1, 2, 3]
    with pytest.raises(DataError, match="cannot load Hub dataset 'someone/missing'.*doesn't exist"):
        open_domain("someone/missing", "A")


def test_reference_layout_root(tmp_path):
    for role in "AB":
        (tmp_path / f"train{role}").mkdir()
        _png(tmp_path / f"train{role}" / "x.png", np.zeros((4, 4, 3), dtype=np.uint8))
    (tmp_path / "trainB" / "y.png").write_bytes(png_bytes(Image.new("RGB", (4, 4))))
    assert len(open_domain(str(tmp_path), "A")) == 1
    assert len(open_domain(str(tmp_path), "B")) == 2


def test_epoch_pairs_are_deterministic_and_split_evenly_across_ranks():
    full = epoch_pairs(7, 3, seed=1, epoch=2)
    assert np.array_equal(full, epoch_pairs(7, 3, seed=1, epoch=2))
    assert not np.array_equal(full, epoch_pairs(7, 3, seed=1, epoch=3))
    assert sorted(full[:, 0]) == list(range(7)) and full[:, 1].max() < 3  # every A once, B at random
    ranks = [epoch_pairs(7, 3, seed=1, epoch=2, rank=r, world=3) for r in range(3)]
    assert [len(r) for r in ranks] == [3, 3, 3]  # padded by wrapping: DDP ranks take equal steps
    assert {int(i) for r in ranks for i in r[:, 0]} == set(range(7))


def _domains(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        _png(a / f"{i}.png", rng.integers(0, 255, (30, 40, 3), dtype=np.uint8))
        make_sprite(seed=i, size=(8, 8), n_colors=3).on_white().save(b / f"{i}.png")
    return open_domain(str(a), "A"), open_domain(str(b), "B")


def test_epoch_resumes_mid_way_and_replaces_files_that_broke_since_the_scan(tmp_path):
    dom_a, dom_b = _domains(tmp_path)
    pre = Preprocess(size=32, load_size=36)
    full = UnpairedEpoch(dom_a, dom_b, pre, seed=0, epoch=1)
    tail = UnpairedEpoch(dom_a, dom_b, pre, seed=0, epoch=1, start=2)
    assert len(full) == 4 and len(tail) == 2
    for i in range(2):
        assert torch.equal(full[2 + i]["A"], tail[i]["A"]) and torch.equal(full[2 + i]["B"], tail[i]["B"])
    item = full[0]
    assert item["A"].shape == (3, 32, 32) and item["A"].min() >= -1 and item["A"].max() <= 1 and item["bad"] == ""
    # a file corrupted after the scan: the next image stands in and the failure is reported
    broken = int(full.pairs[0][0])
    (tmp_path / "a" / f"{broken}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    item = full[0]
    assert f"{broken}.png" in item["bad"] and item["A"].shape == (3, 32, 32)
    loader = torch.utils.data.DataLoader(full, batch_size=2, num_workers=0)
    batches = list(loader)
    assert [b["A"].shape[0] for b in batches] == [2, 2] and any(b["bad"][0] for b in batches)


def test_samples_are_centred_and_fixed(tmp_path):
    dom_a, dom_b = _domains(tmp_path)
    pre = Preprocess(size=32, load_size=36)
    s1, s2 = sample_batch(dom_b, pre, 3), sample_batch(dom_b, pre, 3)
    assert s1.shape == (3, 3, 32, 32) and torch.equal(s1, s2)
    assert sample_batch(dom_a, pre, 10).shape[0] == 4


def test_domain_b_tensors_hold_only_the_arts_colours(tmp_path):
    """Through the whole loader path (decode, native, integer scale, grid crop, tensor): no new colours."""
    from training.data import to_image

    dom_a, dom_b = _domains(tmp_path)
    palette = set()
    for i in range(len(dom_b)):
        palette |= _colors(dom_b.load(i))
    epoch = UnpairedEpoch(dom_a, dom_b, Preprocess(size=32, load_size=36), seed=3, epoch=0)
    for i in range(len(epoch)):
        assert _colors(to_image(epoch[i]["B"])) <= palette | {(255, 255, 255)}


def test_native_recipe_keeps_one_pixel_per_art_pixel():
    """b_max_scale=1: a 12 px sprite stays 12 px on the crop (the default scales it 4x to fill 48)."""
    sprite = Image.fromarray(render(make_sprite(7, (12, 12)), background="solid", background_color=(255, 255, 255)).native_truth).convert("RGB")
    rng = np.random.default_rng(0)
    native = pixel_art_crop(sprite, 48, rng, flip=False, max_scale=1)
    ink = np.argwhere((np.asarray(native) != 255).any(-1))
    assert (ink.max(0) - ink.min(0) + 1).max() <= 12
    assert _colors(native) <= _colors(sprite) | {(255, 255, 255)}
    fitted = pixel_art_crop(sprite, 48, None, flip=False)
    ink = np.argwhere((np.asarray(fitted) != 255).any(-1))
    assert (ink.max(0) - ink.min(0) + 1).max() > 12


def test_b_scale_makes_every_art_pixel_k_by_k_and_windows_stay_on_the_art():
    """b_scale=2: the crop is 2x2 blocks on the even grid; a sheet too big for the crop is windowed on its ink."""
    sprite = Image.fromarray(render(make_sprite(7, (12, 12)), background="solid", background_color=(255, 255, 255)).native_truth).convert("RGB")
    sheet = Image.new("RGB", (200, 120), (255, 255, 255))
    sheet.paste(sprite, (150, 90))  # one figure in the far corner of a mostly empty sheet
    rng = np.random.default_rng(4)
    for art in (sprite, sheet):
        for gen in (rng, None):
            crop = np.asarray(pixel_art_crop(art, 48, gen, flip=True, max_scale=1, scale=2))
            assert crop.shape == (48, 48, 3)
            blocks = crop.reshape(24, 2, 24, 2, 3)
            assert (blocks == blocks[:, :1, :, :1]).all()  # every 2x2 block on the even grid is one colour
            assert _colors(Image.fromarray(crop)) <= _colors(sprite) | {(255, 255, 255)}
            ink = np.argwhere((crop != 255).any(-1))
            assert len(ink) > 40  # the window found the figure (a random window of the sheet is almost always empty)
    whole = np.asarray(pixel_art_crop(sprite, 48, None, flip=False, scale=2))
    ink = np.argwhere((whole != 255).any(-1))
    own = np.argwhere((np.asarray(sprite) != 255).any(-1))
    assert ((ink.max(0) - ink.min(0) + 1) == 2 * (own.max(0) - own.min(0) + 1)).all()  # the whole sprite, at 2x
    with pytest.raises(ConfigError, match="b_scale"):
        TrainConfig(domain_a="a", domain_b="b", output="o", size=48, b_scale=13).validate()


def test_box_resize_of_domain_a_matches_what_pixelate_does():
    """a_resize=box averages 2x2 blocks, as pixelate's box_average brings a picture to its cell grid."""
    rng = np.random.default_rng(1)
    pic = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    boxed = np.asarray(picture_crop(pic, 32, 32, None, flip=False, resize="box")).astype(int)
    want = np.asarray(pic).astype(float).reshape(32, 2, 32, 2, 3).mean((1, 3))
    assert np.abs(boxed - want).max() <= 1
    bicubic = np.asarray(picture_crop(pic, 32, 32, None, flip=False)).astype(int)
    assert np.abs(bicubic - want).max() > 8  # the reference filter is a different one


def test_domain_a_scale_jitter_places_small_pictures_on_white():
    """a_min_load_size: the same cartoon at several cell grids; smaller than the crop means whole, on white."""
    rng = np.random.default_rng(2)
    pic = Image.new("RGB", (64, 64), (200, 30, 30))
    widths = set()
    for _ in range(40):
        out = picture_crop(pic, 48, 48, rng, flip=True, resize="box", min_load_size=16)
        assert out.size == (48, 48)
        red = np.argwhere((np.asarray(out) != 255).any(-1))
        widths.add(int(red[:, 1].max() - red[:, 1].min() + 1))
    assert min(widths) <= 24 and max(widths) == 48 and len(widths) > 5
    assert picture_crop(pic, 48, 48, None, flip=False, resize="box", min_load_size=16).size == (48, 48)


def test_balanced_domain_b_draws_every_value_equally_often(tmp_path):
    # 18 rows of one source, 2 of another: the curated corpus's shape (12,105 LPC frames, 927 other files)
    built = build_dataset_folder(tmp_path / "ds", n_train=20, n_test=0, sources=("big",) * 9 + ("small",), canvas=16)
    b = open_domain(str(built.path), "B")
    small = np.array([row["source"] == "small" for row in built.rows["train"]])
    assert small.sum() == 2
    weights = b.balance_weights("source")
    assert weights.sum() == pytest.approx(1.0) and weights[small].sum() == pytest.approx(0.5)
    assert len(set(weights[small])) == 1 and len(set(weights[~small])) == 1  # rows within a value alike

    balanced = epoch_pairs(4000, len(b), seed=3, epoch=1, weights_b=weights)
    plain = epoch_pairs(4000, len(b), seed=3, epoch=1)
    assert abs(small[balanced[:, 1]].mean() - 0.5) < 0.03
    assert abs(small[plain[:, 1]].mean() - 0.1) < 0.03
    assert np.array_equal(balanced, epoch_pairs(4000, len(b), seed=3, epoch=1, weights_b=weights))  # resumable
    assert np.array_equal(balanced[:, 0], plain[:, 0])  # domain A's order is untouched
    # without weights the stream is the reference's, as before the option existed
    rng = np.random.default_rng([3, 1])
    assert np.array_equal(plain[:, 1], (rng.permutation(4000), rng.integers(0, len(b), size=4000))[1])


def test_balancing_needs_a_real_column_of_a_dataset(tmp_path):
    built = build_dataset_folder(tmp_path / "ds", n_train=4, n_test=0, canvas=16)
    b = open_domain(str(built.path), "B")
    with pytest.raises(DataError, match=r"no column 'sauce' to balance over \(columns: .*sha256.*source"):
        b.balance_weights("sauce")
    with pytest.raises(DataError, match="no column 'native'"):  # the image column itself is no grouping
        b.balance_weights("native")
    folder = tmp_path / "folder"
    folder.mkdir()
    make_sprite(seed=0, size=(8, 8), n_colors=3).on_white().save(folder / "a.png")
    with pytest.raises(DataError, match="image folder .* has no columns to balance over .*dataset folder or a Hub"):
        open_domain(str(folder), "B").balance_weights("source")


def test_lines_resize_of_domain_a_keeps_thin_lines_as_pixelate_does():
    """a_resize=lines: a 1 px dark line halved keeps its colour (box leaves a pale grey), flat areas average."""
    pic = np.full((96, 96, 3), 230, np.uint8)
    pic[:, 48:] = (200, 120, 60)  # a flat area: averaged as by box
    pic[10:40, 21] = 20  # a vertical 1 px dark line on the pale side
    img = Image.fromarray(pic)
    pre = Preprocess(48, 48, flip=False, a_resize="lines")
    lines = np.asarray(pre.a(img, None)).astype(int)
    boxed = np.asarray(Preprocess(48, 48, flip=False, a_resize="box").a(img, None)).astype(int)
    assert lines.shape == boxed.shape == (48, 48, 3)
    assert boxed[12:18, 10].mean() > 100  # box: the line is half its pixel, a grey
    assert np.abs(lines[12:18, 10] - 20).max() <= 1  # lines: the line's own colour
    assert np.abs(lines[:, 30:] - boxed[:, 30:]).max() <= 1  # elsewhere the same averages
    with pytest.raises(ConfigError, match="a_resize"):
        TrainConfig(domain_a="a", domain_b="b", output="o", a_resize="nearest").validate()


def test_picture_target_keeps_a_feature_that_halving_pales():
    """target_pool: the outline target found in the picture before halving keeps a 3 px eye at its colour,
    where the same target found in the halved input gives a paler cell; flat areas agree."""
    pic = np.full((96, 96, 3), (232, 178, 140), np.uint8)
    pic[41:44, 41:44] = (60, 30, 20)  # a 3 px eye, narrower than a 4 px cell of the picture
    img = Image.fromarray(pic)
    pre = Preprocess(48, 48, flip=False, a_resize="lines", target_pool=2)
    halved, target = pre.a_pair(img, None)
    assert target is not None and target.shape == (3, 24, 24)
    from_input = outline_target(to_tensor(halved)[None], 2)[0]
    eye = (slice(None), 10, 10)  # the 4 px cell (40..43, 40..43) holding most of the eye
    want = to_tensor(Image.fromarray(np.full((1, 1, 3), (60, 30, 20), np.uint8)))[:, 0, 0]
    assert torch.allclose(target[eye], want, atol=0.01)  # the eye's own colour
    assert (from_input[eye] - want).abs().max() > 0.1  # found after halving: paler
    assert torch.allclose(target[:, :4, :4], from_input[:, :4, :4], atol=0.01)  # the flat skin alike
    assert Preprocess(48, 48, flip=False, a_resize="lines").a_pair(img, None)[1] is None


def test_picture_target_medoids_keep_an_edge_one_sided():
    """target_reduce = medoid: off features, each target cell is one of its picture block's own pixels, so a cell
    straddling an edge is asked for one side; the mean asks for the blend."""
    pic = np.full((96, 96, 3), (240, 240, 240), np.uint8)
    pic[:, 42:] = (40, 90, 200)  # a vertical edge through the 4 px cells of columns 40..43
    img = Image.fromarray(pic)
    sides = [to_tensor(Image.fromarray(np.full((1, 1, 3), c, np.uint8)))[:, 0, 0] for c in ((240, 240, 240), (40, 90, 200))]
    targets = {r: Preprocess(48, 48, flip=False, a_resize="lines", target_pool=2, target_reduce=r).a_pair(img, None)[1]
               for r in ("mean", "medoid")}
    edge = targets["medoid"][:, :, 10]  # the column of cells holding the edge
    assert all(any(torch.allclose(edge[:, r], s, atol=0.01) for s in sides) for r in range(24))  # a side, never the blend
    assert all(min((targets["mean"][:, r, 10] - s).abs().max() for s in sides) > 0.3 for r in range(24))  # the mean blends
    assert torch.allclose(targets["medoid"][:, :, :8], targets["mean"][:, :, :8], atol=0.01)  # flat areas alike

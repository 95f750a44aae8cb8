"""Issue 15 regressions on real art (tests/fixtures/real, README there gives licence and author).

Each test is one failure the issue measured on the shared corpus, rebuilt from the same kind of
real image: LPC sheets rejected as not pixel art and never cut, JPEG copies rejected, key colours
missed when the sprite touches the border, scenes flood-filled, frames and recolours merged,
white figures kept invisible, large images decimated, smooth cartoons given a false grid.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curation.config import CanvasConfig, CurateConfig, load_config
from curation.dedup import same_artwork
from curation.pipeline import run
from curation.process import process_bytes
from curation.stages.background import to_white
from curation.stages.canvas import to_canvas
from curation.stages.native import recover_native
from curation.stages.pixelart import pixel_art_score
from pixelforge.imaging import composite_on_white

REAL = Path(__file__).parent / "fixtures" / "real"
ART = Path(__file__).parent / "fixtures" / "art"
KEY = (80, 160, 200)


def _open(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    composite_on_white(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _up(img: Image.Image, k: int) -> Image.Image:
    return img.resize((img.width * k, img.height * k), Image.Resampling.NEAREST)


def _on_key(img: Image.Image) -> Image.Image:
    """The sprite cropped tight (it touches every side) on a flat key colour."""
    rgba = img.convert("RGBA")
    rgba = rgba.crop(rgba.getbbox())
    base = Image.new("RGBA", rgba.size, (*KEY, 255))
    base.alpha_composite(rgba)
    return base.convert("RGB")


def test_lpc_sheet_is_pixel_art_and_cut_into_its_frames():
    data = (REAL / "lpc-body-male-light.png").read_bytes()
    sheet = _open(REAL / "lpc-body-male-light.png")
    score = pixel_art_score(sheet, recover_native(sheet))
    assert score.score >= 0.5, score.explanation  # hand anti-aliasing and ramps are pixel art
    assert score.components["aa_edge_share"] > 0.15  # ... although it blends many edges
    result = process_bytes(data, CurateConfig())
    alpha = np.asarray(sheet.convert("RGBA"))[..., 3].reshape(21, 64, 13, 64)
    frames = int(alpha.any(axis=(1, 3)).sum())
    assert frames > 100
    assert len(result.items) + len(result.rejected) == frames  # every non-empty frame, nothing else
    assert all(it.member.startswith("box:") and it.native_width == it.native_height == 64 for it in result.items)
    assert not [r for r in result.rejected if r.reason in ("not-pixel-art", "too-many-colors")]
    assert len(result.items) >= 0.9 * frames


def test_frames_and_recolours_stay_separate(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("lpc-capeclip-gray.png", "lpc-capeclip-green.png"):
        (src / name).write_bytes((REAL / name).read_bytes())
    report = run(src, tmp_path / "out", load_config(overrides=["workers=1"]), progress=False).report
    by_cluster: dict[int, set[str]] = {}
    for it in report["items"]:
        by_cluster.setdefault(it["cluster"], set()).add(it["pixel_sha256"])
    assert report["items"] and all(len(shas) == 1 for shas in by_cluster.values())  # only equal pixels merge
    # with the option on, a recolour is the same artwork
    sheets = [np.asarray(composite_on_white(_open(REAL / n))) for n in ("lpc-capeclip-gray.png", "lpc-capeclip-green.png")]
    ink = (sheets[0] != 255).any(-1).reshape(21, 64, 13, 64).sum(axis=(1, 3))
    y, x = (int(v) * 64 for v in np.unravel_index(np.argmax(ink), ink.shape))
    gray, green = (s[y:y + 64, x:x + 64] for s in sheets)
    assert not np.array_equal(gray, green)
    assert same_artwork(gray, green, tolerance=0) == ""
    assert same_artwork(gray, green, merge_recolors=True) == "recolour"


def test_same_artwork_rules():
    sheet = np.asarray(composite_on_white(_open(REAL / "lpc-body-male-light.png")))
    walk1, walk2 = sheet[512:576, 64:128], sheet[512:576, 128:192]
    assert not np.array_equal(walk1, walk2)
    assert same_artwork(walk1, walk2) == ""  # two animation frames
    assert same_artwork(walk1, walk1.copy(), tolerance=0) == "same"
    assert same_artwork(walk1, np.repeat(np.repeat(walk1, 3, 0), 3, 1)) == "rescale"
    padded = np.pad(walk1, ((5, 3), (2, 4), (0, 0)), constant_values=255)
    assert same_artwork(padded, walk1, tolerance=0) == "same"  # white margins do not count
    cropped = walk1[4:60, 2:62]
    assert same_artwork(walk1, cropped, tolerance=0) in ("same", "crop")


def test_jpeg_and_upscaled_copies_merge_into_the_lossless_native(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    jar = _open(REAL / "superpowers-jar-16x30.png")
    (src / "a-native.png").write_bytes((REAL / "superpowers-jar-16x30.png").read_bytes())
    (src / "b-x5.jpg").write_bytes(_jpeg(_up(jar, 5), 85))
    (src / "c-x7.jpg").write_bytes(_jpeg(_up(jar, 7), 80))
    (src / "d-x3.png").write_bytes(_png(_up(jar, 3)))
    (src / "e-key.png").write_bytes(_png(_up(_on_key(jar), 4)))
    report = run(src, tmp_path / "out", load_config(overrides=["workers=1"]), progress=False).report
    assert report["rejected"] == []  # JPEG noise no longer counts as colours
    assert report["counts"]["kept"] == 1
    kept = [it for it in report["items"] if it["kept"]]
    assert kept[0]["native_size"] == [16, 30]
    assert len(report["items"]) == 5
    head = report["clusters"][0]["inputs"][0]
    assert head["url"].endswith("a-native.png")  # the lossless native is the row kept


def test_key_colour_becomes_white_even_when_the_sprite_touches_the_border():
    jar = _open(REAL / "superpowers-jar-16x30.png")
    keyed = _on_key(jar)
    ring = np.concatenate([np.asarray(keyed)[0], np.asarray(keyed)[-1], np.asarray(keyed)[:, 0], np.asarray(keyed)[:, -1]])
    assert (ring != KEY).any(-1).mean() > 0.3  # the figure covers a good part of the border
    out = to_white(keyed)
    assert out.kind == "border" and out.border_color == KEY
    arr = np.asarray(out.image)
    assert not (np.abs(arr.astype(int) - KEY).max(-1) <= 24).any()  # no key colour left
    twin = np.asarray(composite_on_white(jar.convert("RGBA").crop(jar.convert("RGBA").getbbox())))
    assert np.array_equal(arr, twin)


@pytest.mark.parametrize("name", ["cybercity-far-buildings.png", "synth-layer-back.png"])
def test_scenes_are_never_flood_filled(name):
    img = _open(ART / "pixel" / name)
    result = process_bytes(_png(img.convert("RGB")), CurateConfig())
    assert result.items, result.rejected
    native = np.asarray(Image.open(io.BytesIO(result.items[0].native_png)).convert("RGB"))
    assert np.array_equal(native, np.asarray(composite_on_white(img)))  # not one pixel changed


def test_starfield_is_a_scene():
    rng = np.random.default_rng(3)
    sky = np.zeros((90, 160, 3), np.uint8)
    sky[...] = (12, 10, 40)
    for y, x in zip(rng.integers(0, 90, 60), rng.integers(0, 160, 60)):
        sky[y, x] = (255, 255, 220)
    out = to_white(Image.fromarray(sky))
    assert out.kind == "scene" and np.array_equal(np.asarray(out.image), sky)


def test_white_figure_on_transparency_is_rejected_not_kept():
    rgba = np.asarray(_open(REAL / "superpowers-jar-16x30.png").convert("RGBA")).copy()
    rgba[..., :3] = 255 - (255 - rgba[..., :3].astype(np.int32)) // 10  # a snow pile: near-white art
    result = process_bytes(_png(Image.fromarray(rgba, "RGBA")), CurateConfig())
    assert not result.items
    assert result.rejected[0].reason == "invisible-on-white"


def test_shading_ramps_are_pixel_art_and_smooth_cartoons_have_no_grid():
    fire = _open(REAL / "superpowers-element-9x12.png")
    assert pixel_art_score(fire, recover_native(fire)).score >= 0.5
    cartoon = _open(ART / "cartoon" / "bee.png").convert("RGBA")
    smooth = cartoon.resize((cartoon.width * 3, cartoon.height * 3), Image.Resampling.BICUBIC)
    assert not recover_native(smooth, lossless=True).upscaled
    # a grid whose cells are not uniform in a lossless file is not an upscale (a card back at "x16")
    jar = np.asarray(composite_on_white(_up(_open(REAL / "superpowers-jar-16x30.png"), 6))).astype(int)
    jar[::3, ::2] += np.random.default_rng(1).integers(-6, 7, jar[::3, ::2].shape)
    soft = Image.fromarray(np.clip(jar, 0, 255).astype(np.uint8))
    res = recover_native(soft, lossless=True)
    assert not res.upscaled and "not uniform" in res.rejected_grid, res
    assert recover_native(soft, lossless=False).upscaled  # the same cells in a JPEG are lossy noise
    result = process_bytes(_png(smooth), CurateConfig())
    assert not result.items and result.rejected  # a smooth cartoon is not kept as pixel art


def test_large_images_are_never_decimated():
    rng = np.random.default_rng(0)
    big = Image.fromarray(rng.integers(0, 4, (300, 600), dtype=np.uint8) * 60).convert("RGB")
    out = to_canvas(big, CanvasConfig(size=256))
    assert out.scale == 1 and out.image.size == (768, 768)
    top, left = (768 - 300) // 2, (768 - 600) // 2
    assert np.array_equal(np.asarray(out.image)[top:top + 300, left:left + 600], np.asarray(big))

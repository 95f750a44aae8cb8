"""Issue 15, key colours and scenes on real art (tests/fixtures/real, licences in its README).

Each case failed on the labelled real set (benchmarks/curation_quality.py): sprites cropped tight on
a key colour whose base spans a whole side were taken for scenes and kept with their key colour; a
forest framed by its own darkest colour was flood-filled (half its pixels turned white); key-colour
copies were kept beside their transparent twin (semi-transparent rims blended with the key colour,
key-colour holes or corner notches, transparent margins that moved every hash bit).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from curation.artwork import on_other_background, same_artwork
from curation.config import BackgroundConfig, CurateConfig, load_config
from curation.pipeline import run
from curation.process import process_bytes
from curation.stages.background import to_white
from curation.stages.native import recover_native
from pixelforge.imaging import composite_on_white
from tests.test_curation_real import REAL, _jpeg, _open, _png, _up

MAGENTA = (255, 0, 255)
OLIVE = (90, 110, 60)


def _on(img: Image.Image, key: tuple[int, int, int]) -> Image.Image:
    """Cropped tight (the figure touches every side), on a flat key colour: the benchmark's key copy."""
    rgba = img.convert("RGBA")
    rgba = rgba.crop(rgba.getbbox())
    base = Image.new("RGBA", rgba.size, (*key, 255))
    base.alpha_composite(rgba)
    return base.convert("RGB")


def _twin(img: Image.Image) -> np.ndarray:
    rgba = img.convert("RGBA")
    return np.asarray(composite_on_white(rgba.crop(rgba.getbbox())))


def _native(data: bytes) -> tuple[np.ndarray, str]:
    result = process_bytes(data, CurateConfig())
    assert result.items, result.rejected
    item = result.items[0]
    return np.asarray(Image.open(io.BytesIO(item.native_png)).convert("RGB")), item.background


@pytest.mark.parametrize(("name", "key"), [("superpowers-faceset-10-32x32.png", MAGENTA),
                                           ("superpowers-faceset-27-32x32.png", OLIVE)])
def test_a_sprite_whose_base_spans_a_side_is_not_a_scene(name, key):
    face = _open(REAL / name)
    keyed = _on(face, key)
    bottom = np.asarray(keyed)[-1]
    assert (bottom != key).any(-1).mean() >= 0.9  # the base covers the whole bottom side
    native, kind = _native(_png(_up(keyed, 5)))
    assert kind == "border"
    assert not (np.abs(native.astype(int) - key).max(-1) <= 24).any()  # no key colour left
    assert np.array_equal(native, _twin(face))  # exactly the transparent original on white


def test_a_scene_framed_by_its_own_darkest_colour_is_never_filled():
    forest = _open(REAL / "superpowers-forest-scene-137x89.png")
    out = to_white(forest.convert("RGB"))
    assert out.kind == "scene" and "shaded towards it" in out.reason, out.reason
    native, kind = _native(_png(forest))
    assert kind == "scene"
    assert np.array_equal(native, np.asarray(composite_on_white(forest)))  # not one pixel changed


def test_key_copies_merge_with_their_transparent_twin(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cases = {
        "shot": ("superpowers-shot-14x22.png", MAGENTA, 3),  # rim at alpha 128: blended with the key
        "leaf": ("superpowers-tea-leaf-16x16.png", (0, 255, 0), 8),  # transparent margins on the twin
        "weapon": ("superpowers-weapon-38x18.png", OLIVE, 8),  # key-colour holes inside the figure
        "head": ("superpowers-head-16x14.png", (0, 255, 0), 4),  # key colour only in two corner notches
        "face": ("superpowers-faceset-27-32x32.png", OLIVE, 6),  # the base spans the bottom side
        # holes left green and a rim blended with green: 7 dhash bits from the twin, found by the
        # hashes of the art with its key colour cleared
        "planet": ("superpowers-planet-64x68.png", (0, 255, 0), 2),
    }
    for stem, (name, key, k) in cases.items():
        (src / f"{stem}-a-native.png").write_bytes((REAL / name).read_bytes())
        (src / f"{stem}-b-key.png").write_bytes(_png(_up(_on(_open(REAL / name), key), k)))
    report = run(src, tmp_path / "out", load_config(overrides=["workers=1"]), progress=False).report
    assert report["rejected"] == []
    assert report["counts"]["kept"] == len(cases)
    for cluster in report["clusters"]:
        urls = sorted(i["url"] for i in cluster["inputs"])
        assert len(urls) == 2 and urls[0].endswith("-a-native.png") and urls[1].endswith("-b-key.png")
        assert cluster["inputs"][0]["url"].endswith("-a-native.png")  # the transparent original is kept


def test_other_background_is_one_blend_direction_on_the_rim_only():
    shot = _open(REAL / "superpowers-shot-14x22.png")
    twin = _twin(shot)
    keyed = np.asarray(to_white(_on(shot, MAGENTA)).image)
    assert not np.array_equal(keyed, twin)  # the rim was blended with magenta, not white
    assert on_other_background(keyed, twin)
    assert same_artwork(keyed, twin, tolerance=0) == ""  # only when the backgrounds differ
    assert same_artwork(keyed, twin, tolerance=0, backgrounds_differ=True) == "background"
    # a recolour of the rim's colours inside the figure, or pixels added in a colour the art uses, is not
    inner = twin.copy()
    figure = (twin != 255).any(-1)
    y, x = np.argwhere(figure)[len(np.argwhere(figure)) // 2]
    inner[y, x] = np.maximum(inner[y, x].astype(int) - 60, 0)
    assert not on_other_background(inner, twin)
    grown = twin.copy()
    outline = twin[figure][0]
    empty = np.argwhere(~figure)
    grown[tuple(empty[0])] = outline  # one more pixel of the figure's own colour, on the background
    assert not on_other_background(grown, twin)


def test_real_frames_are_not_one_drawing_on_two_backgrounds():
    sheet = np.asarray(composite_on_white(_open(REAL / "lpc-body-male-light.png")))
    frames = [sheet[8 * 64:9 * 64, i * 64:(i + 1) * 64] for i in range(1, 9)]  # a walk cycle
    for a, b in zip(frames, frames[1:]):
        assert same_artwork(a, b, tolerance=0, backgrounds_differ=True) == ""


def test_fill_holes_clears_key_colour_seen_through_the_figure():
    weapon = _open(REAL / "superpowers-weapon-38x18.png")
    keyed = _on(weapon, OLIVE)
    default = np.asarray(to_white(keyed).image)
    assert (default == OLIVE).all(-1).sum() > 0  # enclosed key pixels stay by default (they may be art)
    holes = to_white(keyed, BackgroundConfig(fill_holes=True))
    assert np.array_equal(np.asarray(holes.image), _twin(weapon))


def _jpeg_up(img: Image.Image, k: int, quality: int) -> bytes:
    """The benchmark's JPEG copy: upscaled x``k`` on white, saved as JPEG."""
    return _jpeg(_up(img, k), quality)


def test_a_jpeg_whose_edges_fall_on_every_other_cell_keeps_its_own_cell():
    box = _open(REAL / "superpowers-medium-box-32x32.png")
    jpeg = Image.open(io.BytesIO(_jpeg_up(box, 6, 85)))
    native = recover_native(jpeg, lossless=False)
    assert native.scale == (6.0, 6.0) and native.native_size == (32, 32)  # not x12 -> 17x17


@pytest.mark.parametrize(("name", "k", "quality"), [("superpowers-projectile-8x8.png", 3, 95),
                                                   ("superpowers-dollar-32x18.png", 5, 80)])
def test_white_corners_are_the_background_not_the_art_s_black_frame(name, k, quality):
    art = _open(REAL / name)
    native = recover_native(Image.open(io.BytesIO(_jpeg_up(art, k, quality))), lossless=False).image
    out = to_white(native.convert("RGB"))
    assert out.kind == "white", out.reason  # not complex (projectile), not a black key eating the frame (dollar)
    twin = np.asarray(composite_on_white(art)).astype(int)
    got = np.asarray(out.image).astype(int)
    assert got.shape == twin.shape and (np.abs(got - twin).max(-1) > 40).mean() < 0.03  # the frame is kept


def test_jpeg_copies_of_framed_and_cornered_art_merge_with_their_native(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cases = {"box": ("superpowers-medium-box-32x32.png", 6, 85), "projectile": ("superpowers-projectile-8x8.png", 3, 95),
             "dollar": ("superpowers-dollar-32x18.png", 5, 80), "ammo": ("superpowers-ammo-10x19.png", 3, 90)}
    for stem, (name, k, q) in cases.items():
        (src / f"{stem}-a-native.png").write_bytes((REAL / name).read_bytes())
        (src / f"{stem}-b-copy.jpg").write_bytes(_jpeg_up(_open(REAL / name), k, q))
    report = run(src, tmp_path / "out", load_config(overrides=["workers=1"]), progress=False).report
    assert report["rejected"] == []
    assert report["counts"]["kept"] == len(cases)
    for cluster in report["clusters"]:
        urls = [i["url"] for i in cluster["inputs"]]
        assert len(urls) == 2 and urls[0].endswith("-a-native.png") and urls[1].endswith("-b-copy.jpg")

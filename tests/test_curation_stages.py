"""Per-image stages of `curate run`, each on its own: expand, decode, background, filters, canvas, split."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from curation.config import BackgroundConfig, CanvasConfig, DecodeConfig, ExpandConfig, FilterConfig
from curation.stages.background import flood_from_border, to_white
from curation.stages.canvas import to_canvas
from curation.stages.decode import decode
from curation.stages.expand import expand, unsafe_name
from curation.stages.filters import first_failure, run_filters
from curation.stages.pixelart import PixelArtScore
from curation.stages.split import split_of
from pixelforge.decoding import ImageDecodeError
from pixelforge.imaging import count_colors
from pixelforge.testing.sprites import make_sprite, render


def png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def make_zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


SPRITE = png(make_sprite(1).on_white())


# ---- expand ----------------------------------------------------------------------------------


def test_plain_file_passes_through_whole():
    members, rejected = expand(SPRITE)
    assert [(m.name, m.data) for m in members] == [("", SPRITE)] and rejected == []


def test_zip_slip_members_are_rejected_and_good_members_kept(tmp_path):
    data = make_zip({"ok/a.png": SPRITE, "../evil.png": SPRITE, "/abs.png": SPRITE, "x/../../up.png": SPRITE,
                     "C:\\win.png": SPRITE})
    members, rejected = expand(data)
    assert [m.name for m in members] == ["ok/a.png"]
    assert sorted(r.member for r in rejected) == sorted(["../evil.png", "/abs.png", "x/../../up.png", "C:\\win.png"])
    assert {r.reason for r in rejected} == {"zip-slip"}
    assert list(tmp_path.iterdir()) == []  # nothing is ever extracted to disk
    assert unsafe_name("a/b.png") is False and unsafe_name("a/../../b") is True


def test_zip_limits_members_size_and_ratio():
    many = make_zip({f"{i}.png": SPRITE for i in range(5)})
    members, rejected = expand(many, ExpandConfig(max_members=4))
    assert members == [] and rejected[0].reason == "zip-too-many-members"
    assert len(expand(many, ExpandConfig(max_members=5))[0]) == 5

    bomb = make_zip({"zeros.png": b"\0" * 5_000_000, "a.png": SPRITE})
    members, rejected = expand(bomb)
    assert [m.name for m in members] == ["a.png"]
    assert [(r.member, r.reason) for r in rejected] == [("zeros.png", "zip-ratio")]

    big = make_zip({"a.png": SPRITE, "b.png": SPRITE}, compression=zipfile.ZIP_STORED)
    members, rejected = expand(big, ExpandConfig(max_member_bytes=len(SPRITE) - 1))
    assert members == [] and {r.reason for r in rejected} == {"zip-too-large"}
    members, rejected = expand(big, ExpandConfig(max_total_bytes=len(SPRITE) + 10))
    assert [m.name for m in members] == ["a.png"] and rejected[0].reason == "zip-too-large"


def test_nested_zips_one_level_deep_only():
    inner = make_zip({"s.png": SPRITE})
    outer = make_zip({"inner.zip": inner, "t.png": SPRITE})
    members, rejected = expand(outer)
    assert sorted(m.name for m in members) == ["inner.zip!/s.png", "t.png"] and rejected == []
    deeper = make_zip({"outer.zip": outer})
    members, rejected = expand(deeper)
    assert [m.name for m in members] == ["outer.zip!/t.png"]
    assert [(r.member, r.reason) for r in rejected] == [("outer.zip!/inner.zip", "zip-nested-too-deep")]


def test_corrupt_zip_is_a_rejection():
    data = make_zip({"a.png": SPRITE})
    members, rejected = expand(data[:40])
    assert members == [] and rejected[0].reason == "zip-corrupt"


# ---- decode ----------------------------------------------------------------------------------


def test_decode_modes_palette_trns_la_16bit_cmyk():
    base = Image.new("RGBA", (8, 8), (200, 30, 30, 255))
    base.putpixel((0, 0), (0, 0, 255, 0))
    pal = base.convert("RGB").convert("P")
    frame = decode(png(pal, transparency=pal.getpixel((0, 0))))[0]
    assert frame.source_mode == "P" and frame.image.mode == "RGBA" and frame.image.getpixel((0, 0))[3] == 0
    frame = decode(png(base.convert("LA")))[0]
    assert frame.image.mode == "RGBA" and frame.image.getpixel((0, 0))[3] == 0
    frame = decode(png(Image.fromarray(np.full((8, 8), 65535, np.uint16))))[0]
    assert frame.image.mode == "RGB" and frame.image.getpixel((3, 3)) == (255, 255, 255)
    buf = io.BytesIO()
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(buf, format="TIFF")
    frame = decode(buf.getvalue())[0]
    assert frame.source_mode == "CMYK" and frame.image.mode == "RGB" and frame.image.getpixel((1, 1)) == (255, 0, 0)
    opaque_rgba = decode(png(Image.new("RGBA", (8, 8), (1, 2, 3, 255))))[0]
    assert opaque_rgba.image.mode == "RGB"  # fully opaque alpha carries nothing: border fill may look at it


def test_animated_gif_first_or_all_frames():
    frames = [Image.new("P", (10, 10), i) for i in range(3)]
    for i, f in enumerate(frames):
        f.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
        f.putpixel((i, i), (i + 1) % 3)
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0, disposal=2)
    data = buf.getvalue()
    first = decode(data, DecodeConfig(frames="first"))
    assert len(first) == 1 and first[0].n_frames == 3 and first[0].member_suffix == "frame:0"
    every = decode(data, DecodeConfig(frames="all"))
    assert [f.frame for f in every] == [0, 1, 2]
    assert len({f.image.tobytes() for f in every}) == 3
    assert len(decode(data, DecodeConfig(frames="all", max_frames=2))) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
        (b"<!doctype html><title>x</title>", "unreadable"),
        (b"", "empty"),
        (SPRITE[: len(SPRITE) // 2], None),
    ],
)
def test_decode_rejects_with_reason(data, reason):
    with pytest.raises(ImageDecodeError) as e:
        decode(data)
    assert e.value.reason == reason if reason else e.value.reason in ("truncated", "unreadable")
    assert "0x" not in e.value.detail  # no object addresses: reports are identical across runs


def test_decompression_bomb_is_rejected_not_decoded():
    bomb = png(Image.new("1", (12000, 12000)))
    with pytest.raises(ImageDecodeError) as e:
        decode(bomb, DecodeConfig(max_pixels=50_000_000))
    assert e.value.reason == "too-large"


# ---- background ------------------------------------------------------------------------------


def test_transparent_background_is_composited_never_dropped():
    rendered = render(make_sprite(3), background="transparent", seed=5)
    out = to_white(rendered.image)
    assert out.kind == "alpha"
    assert np.array_equal(np.asarray(out.image), rendered.native_truth)


@pytest.mark.parametrize("seed", range(4))
def test_border_flood_fill_keeps_interior_pixels_of_the_background_colour(seed):
    rendered = render(make_sprite(seed, (20, 16)), background="solid-inside", seed=seed)
    mask = np.pad(rendered.sprite.mask, 2)
    src = np.asarray(rendered.image)
    inside_bg = mask & (src == rendered.background_color).all(axis=2)
    assert inside_bg.sum() > 0  # the case really has sprite pixels of the background colour
    out = to_white(rendered.image)
    assert out.kind == "border" and out.border_color == rendered.background_color
    got = np.asarray(out.image)
    assert np.array_equal(got[mask], src[mask])  # every sprite pixel stays, same-coloured ones included
    outside = border_connected(mask)
    assert (got[outside] == 255).all()
    # background-coloured holes enclosed by the outline don't touch the border: they stay, by design
    assert np.array_equal(got[~mask & ~outside], src[~mask & ~outside])


def border_connected(mask):
    labels, _ = ndimage.label(~mask)
    return np.isin(labels, np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])) & ~mask


def test_border_fill_tolerates_noise_and_respects_tolerance():
    rendered = render(make_sprite(8), background="solid", seed=1)
    arr = np.asarray(rendered.image).astype(int)
    noise = np.random.default_rng(0).integers(-6, 7, arr.shape)
    mask = np.pad(rendered.sprite.mask, 2)
    outside = border_connected(mask)
    arr[~mask] = np.clip(arr[~mask] + noise[~mask], 0, 255)
    noisy = Image.fromarray(arr.astype(np.uint8), "RGB")
    out = to_white(noisy, BackgroundConfig(tolerance=8))
    assert out.kind == "border"
    assert (np.asarray(out.image)[outside] == 255).all()
    assert np.array_equal(np.asarray(out.image)[mask], rendered.native_truth[mask])
    filled = flood_from_border(np.asarray(noisy), rendered.background_color, tolerance=2)
    assert 0 < filled.sum() < outside.sum()  # a tight tolerance leaves noisy pixels alone


def test_complex_background_is_kept_without_a_model():
    arr = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    out = to_white(Image.fromarray(arr))
    assert out.kind == "complex" and np.array_equal(np.asarray(out.image), arr)
    assert to_white(Image.fromarray(arr), BackgroundConfig(mode="none")).kind == "none"


# ---- filters ---------------------------------------------------------------------------------


def verdict_of(img, domain="B", score=None, config=None, **kw):
    failed = first_failure(run_filters(img, count_colors(img), score, domain, config or FilterConfig(), **kw))
    return None if failed is None else failed.name


def test_filters_each_with_its_reason():
    assert verdict_of(make_sprite(1, (16, 16)).on_white()) is None  # 16x16 is normal pixel art
    assert verdict_of(make_sprite(1, (8, 8)).on_white()) is None
    assert verdict_of(make_sprite(1, (7, 12)).on_white()) == "too-small"
    assert verdict_of(make_sprite(1, (80, 8)).on_white(), config=FilterConfig(min_size=4)) == "extreme-aspect"
    assert verdict_of(Image.new("RGB", (32, 32), "white")) == "near-blank"
    speck = Image.new("RGB", (64, 64), "white")
    speck.putpixel((3, 3), (0, 0, 0))
    assert verdict_of(speck) == "near-blank"
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    assert verdict_of(noise) == "too-many-colors"
    assert verdict_of(noise, domain="A") is None  # colour limits are for pixel art only
    low = PixelArtScore(score=0.2, components={"grid_fit": 0.1}, explanation="blurry edges")
    assert verdict_of(make_sprite(2).on_white(), score=low) == "not-pixel-art"
    assert verdict_of(make_sprite(2).on_white(), score=low, domain="A") is None
    assert verdict_of(make_sprite(2).on_white(), score=PixelArtScore(0.9)) is None
    assert verdict_of(make_sprite(2, (40, 40)).on_white(), max_side=32) == "larger-than-canvas"


# ---- canvas and split ------------------------------------------------------------------------


def test_canvas_is_integer_nearest_neighbour_and_adds_no_colours():
    sprite = make_sprite(5, (20, 12)).on_white()
    out = to_canvas(sprite, CanvasConfig(size=256))
    assert out.image.size == (256, 256) and out.scale == 12
    arr = np.asarray(out.image)
    assert count_colors(out.image) == count_colors(sprite)
    top, left = (256 - 12 * 12) // 2, (256 - 20 * 12) // 2
    block = arr[top : top + 144, left : left + 240]
    assert np.array_equal(block[::12, ::12], np.asarray(sprite))
    assert np.array_equal(block, np.repeat(np.repeat(np.asarray(sprite), 12, 0), 12, 1))


def test_split_is_deterministic_and_close_to_the_fraction():
    keys = [f"{i:064x}" for i in range(4000)]
    splits = [split_of(k, 0.1) for k in keys]
    assert splits == [split_of(k, 0.1) for k in keys]
    assert 0.08 < splits.count("test") / len(keys) < 0.12
    assert [split_of(k, 0.1, salt="x") for k in keys] != splits
    assert {split_of(k, 0.0) for k in keys} == {"train"} and {split_of(k, 1.0) for k in keys} == {"test"}

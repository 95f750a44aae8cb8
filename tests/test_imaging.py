import io

import numpy as np
import pytest
from PIL import Image

from pixelforge.decoding import ImageDecodeError, open_image
from pixelforge.imaging import (
    composite_on_white,
    count_colors,
    pixel_sha256,
    place_on_canvas,
    png_bytes,
    rgb_on_white,
    scale_nearest,
)
from pixelforge.testing.sprites import make_sprite, render


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_identical_transparent_sprites_hash_equal_after_compositing():
    sprite = make_sprite(7)
    a = render(sprite, background="transparent", seed=1).image
    b = render(sprite, background="transparent", seed=2).image
    assert not np.array_equal(np.asarray(a), np.asarray(b))  # different garbage under alpha
    assert pixel_sha256(a) == pixel_sha256(b)
    assert np.array_equal(np.asarray(composite_on_white(a)), render(sprite, background="transparent").native_truth)


def test_composite_is_the_exact_blend_for_every_value_and_alpha():
    value, alpha = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = np.stack([value, 255 - value, (value * 7) % 256, alpha], axis=-1).astype(np.uint8)
    got = np.asarray(composite_on_white(Image.fromarray(rgba, "RGBA"))).astype(int)
    c, a = rgba[..., :3].astype(int), rgba[..., 3:].astype(int)
    assert np.array_equal(got, (c * a + 255 * (255 - a) + 127) // 255)  # round(blend / 255), no half cases


@pytest.mark.parametrize("mode", ["P", "LA", "I;16", "CMYK", "L", "RGB"])
def test_composite_handles_every_mode(mode):
    base = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    base.putpixel((0, 0), (0, 0, 255, 0))
    if mode == "P":
        img = base.convert("RGB").convert("P")
        img.info["transparency"] = img.getpixel((0, 0))
    elif mode == "LA":
        img = base.convert("LA")
    elif mode == "I;16":
        img = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    else:
        img = base.convert(mode)
    out = composite_on_white(img)
    assert out.mode == "RGB" and out.size == (4, 4)
    if mode in ("P", "LA"):
        assert out.getpixel((0, 0)) == (255, 255, 255)
    if mode == "I;16":
        assert out.getpixel((1, 1)) == (255, 255, 255)


def test_open_image_rejects_bad_inputs_with_reasons(tmp_path):
    with pytest.raises(ImageDecodeError) as e:
        open_image(b"")
    assert e.value.reason == "empty"
    with pytest.raises(ImageDecodeError) as e:
        open_image(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    assert e.value.reason == "svg"
    with pytest.raises(ImageDecodeError) as e:
        open_image(b"<!doctype html><html></html>")
    assert e.value.reason == "unreadable"
    data = _png(Image.new("RGB", (64, 64), (1, 2, 3)))
    with pytest.raises(ImageDecodeError) as e:
        open_image(data[: len(data) // 2])
    assert e.value.reason in ("truncated", "unreadable")
    with pytest.raises(ImageDecodeError) as e:
        open_image(data, max_pixels=1000)
    assert e.value.reason == "too-large"
    assert open_image(data).image.size == (64, 64)
    path = tmp_path / "x.png"
    path.write_bytes(data)
    assert open_image(path).format == "PNG"


def test_decompression_bomb_is_a_rejection():
    # a 20000x20000 PNG compresses to a few hundred KB; it must never be decoded
    img = Image.new("1", (20000, 20000))
    data = _png(img)
    with pytest.raises(ImageDecodeError) as e:
        open_image(data, max_pixels=10_000_000)
    assert e.value.reason == "too-large"


def test_scale_nearest_is_exact_blocks():
    img = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4), "L")
    up = np.asarray(scale_nearest(img, 3))
    assert up.shape == (9, 12)
    assert np.array_equal(up[::3, ::3], np.asarray(img))
    assert len(np.unique(up)) == 12
    with pytest.raises(ValueError):
        scale_nearest(img, 0)


def test_place_on_canvas_uses_integer_scale_and_adds_no_colours():
    sprite = make_sprite(4, (20, 12)).on_white()
    canvas, scale = place_on_canvas(sprite, 64)
    assert canvas.size == (64, 64) and scale == 3
    assert count_colors(canvas) == count_colors(sprite)
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8))
    canvas, scale = place_on_canvas(big, 64)
    assert scale == -5 and canvas.size == (64, 64)


def test_png_bytes_are_deterministic():
    img = make_sprite(9).on_white()
    assert png_bytes(img) == png_bytes(img.copy())
    assert Image.open(io.BytesIO(png_bytes(img))).tobytes() == img.tobytes()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P", "I;16"])
@pytest.mark.parametrize("size", [(1, 1), (1, 7), (13, 1), (37, 29)])
def test_png_bytes_round_trip_every_mode(mode, size):
    rng = np.random.default_rng(sum(size))
    arr = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    if mode == "I;16":
        img = Image.frombytes(mode, size, (arr[..., 0].astype("<u2") * 257).tobytes())
    else:
        img = Image.fromarray(arr, "RGBA").convert(mode)
    data = png_bytes(img, 3)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and png_bytes(img.copy(), 3) == data
    back = Image.open(io.BytesIO(data))
    back.load()  # checks every CRC and the zlib stream
    assert back.size == img.size
    assert np.array_equal(np.asarray(back.convert(img.mode) if mode == "P" else back), np.asarray(img))
    assert back.info.keys() <= {"dpi", "transparency"}, "no metadata beyond what Pillow adds for palettes"


def test_scale_nearest_keeps_palette_and_transparency():
    rgba = Image.fromarray(np.array([[[255, 0, 0, 255], [0, 0, 255, 0]]], np.uint8), "RGBA")
    pal = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    pal.info["transparency"] = pal.getpixel((1, 0))
    up = scale_nearest(pal, 4)
    assert up.mode == "P" and up.size == (8, 4)
    assert np.array_equal(np.asarray(up.convert("RGB")), np.asarray(scale_nearest(pal.convert("RGB"), 4)))
    assert composite_on_white(up).getpixel((7, 0)) == (255, 255, 255)
    assert composite_on_white(up).getpixel((0, 0)) == (255, 0, 0)


def test_rgb_on_white_skips_only_the_copy():
    transparent = render(make_sprite(4), background="transparent", seed=2).image
    white = rgb_on_white(transparent)
    assert white.mode == "RGB" and np.array_equal(np.asarray(white), np.asarray(composite_on_white(transparent)))
    assert rgb_on_white(white) is white  # already RGB: the same object, no copy
    assert count_colors(np.asarray(white)) == count_colors(white) == count_colors(transparent)


@pytest.mark.parametrize("size", [(1, 1), (13, 1), (37, 29)])
def test_an_rgb_array_hashes_counts_and_encodes_like_its_image(size):
    """Stages that hold an image's array pass it instead of converting again: same results, byte for byte."""
    rng = np.random.default_rng(size[0])
    arr = rng.integers(0, 4, (size[1], size[0], 3), dtype=np.uint8) * 60
    img = Image.fromarray(arr, "RGB")
    assert png_bytes(arr, 3) == png_bytes(img, 3)
    assert pixel_sha256(arr) == pixel_sha256(img)
    assert count_colors(arr) == count_colors(img) == len({tuple(p) for p in arr.reshape(-1, 3)})
    assert pixel_sha256(arr) != pixel_sha256(arr.reshape(size[0], size[1], 3)) or size == (1, 1)  # the size counts

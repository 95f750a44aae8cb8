import io

import numpy as np
import pytest
from PIL import Image

from pixelforge.testing.sprites import BACKGROUNDS, make_sprite, random_case, render


def test_sprite_is_deterministic_and_matches_its_truth():
    a, b = make_sprite(3, (20, 14)), make_sprite(3, (20, 14))
    assert np.array_equal(a.pixels, b.pixels) and np.array_equal(a.mask, b.mask)
    assert a.size == (20, 14)
    assert not np.array_equal(a.pixels, make_sprite(4, (20, 14)).pixels)
    # background pixels are white, and every opaque pixel uses the recorded palette
    assert (a.pixels[~a.mask] == 255).all()
    used = {tuple(p) for p in a.pixels[a.mask]}
    assert used == set(a.palette)
    # the mask never touches the border, so sprites have a background all around
    assert not a.mask[0].any() and not a.mask[-1].any() and not a.mask[:, 0].any() and not a.mask[:, -1].any()


@pytest.mark.parametrize("scale,phase", [(1, (0, 0)), (3, (0, 0)), (4, (1, 3)), (7, (6, 2))])
def test_render_grid_phase_and_native_truth(scale, phase):
    sprite = make_sprite(11, (16, 16))
    r = render(sprite, scale=scale, phase=phase, background="solid", margin=2)
    native_w, native_h = 16 + 4, 16 + 4
    assert r.native_size == (native_w, native_h)
    assert r.image.size == (native_w * scale - phase[0], native_h * scale - phase[1])
    arr = np.asarray(r.image)
    # undo the crop: pixel (x, y) of the image lies in native cell ((x + px) // s, (y + py) // s)
    ys, xs = np.mgrid[0 : arr.shape[0], 0 : arr.shape[1]]
    cells = np.asarray(render(sprite, 1, (0, 0), "solid", margin=2).image)
    expected = cells[(ys + phase[1]) // scale, (xs + phase[0]) // scale]
    assert np.array_equal(arr, expected)


def test_transparent_background_hides_garbage_under_alpha():
    r = render(make_sprite(5), scale=2, background="transparent")
    arr = np.asarray(r.image)
    assert r.image.mode == "RGBA"
    hidden = arr[arr[..., 3] == 0][:, :3]
    assert len(np.unique(hidden.reshape(-1, 3), axis=0)) > 10  # garbage, not white
    assert set(np.unique(arr[..., 3])) == {0, 255}


def test_solid_inside_puts_background_colour_inside_the_sprite():
    color = (90, 200, 120)
    sprite = make_sprite(8, (24, 24))
    r = render(sprite, background="solid-inside", background_color=color, margin=2)
    inside = r.native_truth[2:-2, 2:-2][sprite.mask]
    assert (inside == color).all(axis=1).any(), "no interior pixel shares the background colour"
    # and no such interior pixel touches the border of the sprite's mask
    assert not (sprite.pixels[~sprite.interior & sprite.mask] == color).all(axis=1).any()


def test_jpeg_reencoding_changes_pixels_but_keeps_size():
    r = render(make_sprite(2), scale=4, phase=(1, 2), background="solid", jpeg_quality=85)
    clean = render(make_sprite(2), scale=4, phase=(1, 2), background="solid")
    assert r.image.size == clean.image.size
    assert not np.array_equal(np.asarray(r.image), np.asarray(clean.image))
    assert Image.open(io.BytesIO(r.encoded())).format == "JPEG"


def test_random_cases_cover_all_backgrounds_and_scales():
    cases = [random_case(i) for i in range(60)]
    assert {c.background for c in cases} == set(BACKGROUNDS)
    assert {c.scale for c in cases} >= {2, 3, 4, 5, 6, 7, 8}
    assert any(c.phase != (0, 0) for c in cases)
    with pytest.raises(ValueError):
        render(make_sprite(1), scale=2, phase=(2, 0))

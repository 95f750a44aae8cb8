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

from curation.config import BackgroundConfig, CurateConfig
from curation.process import process_bytes
from curation.stages.background import to_white
from pixelforge.imaging import composite_on_white
from tests.test_curation_real import REAL, _open, _png, _up

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


def test_fill_holes_clears_key_colour_seen_through_the_figure():
    weapon = _open(REAL / "superpowers-weapon-38x18.png")
    keyed = _on(weapon, OLIVE)
    default = np.asarray(to_white(keyed).image)
    assert (default == OLIVE).all(-1).sum() > 0  # enclosed key pixels stay by default (they may be art)
    holes = to_white(keyed, BackgroundConfig(fill_holes=True))
    assert np.array_equal(np.asarray(holes.image), _twin(weapon))

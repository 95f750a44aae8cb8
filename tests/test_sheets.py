"""Sprite-sheet slicing (issue #5): components on the background, gap merging, frame and tile grids."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from curation.stages.native import recover_native
from curation.stages.sheets import SheetConfig, SpriteBox, background_mask, slice_sheet
from pixelforge.testing.recovery_truth import PIXEL_ART
from pixelforge.testing.sprites import make_sprite


def _rgba(seed: int, size: tuple[int, int]) -> np.ndarray:
    sp = make_sprite(seed, size)
    return np.dstack([sp.pixels, np.where(sp.mask, 255, 0).astype(np.uint8)])


def _tight(a: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(a[..., 3])
    return (x + xs.min(), y + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)


def test_irregular_sheet_gives_tight_boxes_in_reading_order():
    sheet = np.zeros((90, 130, 4), np.uint8)
    placed = [(3, 5, (20, 16)), (44, 30, (30, 24)), (95, 8, (14, 30)), (10, 60, (18, 18))]
    truth = []
    for k, (x, y, size) in enumerate(placed):
        a = _rgba(10 + k, size)
        sheet[y : y + size[1], x : x + size[0]] = a
        truth.append(_tight(a, x, y))
    boxes = slice_sheet(Image.fromarray(sheet, "RGBA"))
    assert {(b.x, b.y, b.width, b.height) for b in boxes} == set(truth)
    assert all(b.kind == "component" for b in boxes)
    assert [b.y for b in boxes] == sorted(b.y for b in boxes)


def test_solid_background_and_jpeg_tolerance():
    bg = np.full((60, 100, 3), (40, 90, 200), np.uint8)
    truth = []
    for k, x in enumerate((4, 37, 70)):
        sp = make_sprite(20 + k, (22, 22))
        region = bg[10 + k * 5 : 32 + k * 5, x : x + 22]
        region[sp.mask] = sp.pixels[sp.mask]
        ys, xs = np.nonzero(sp.mask)
        truth.append((x + xs.min(), 10 + k * 5 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1))
    img = Image.fromarray(bg)
    assert [(b.x, b.y, b.width, b.height) for b in slice_sheet(img)] == sorted(truth, key=lambda t: (t[1], t[0]))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    lossy = slice_sheet(Image.open(io.BytesIO(buf.getvalue())))
    assert len(lossy) == 3
    for got, want in zip(lossy, sorted(truth, key=lambda t: (t[1], t[0]))):
        assert abs(got.x - want[0]) <= 2 and abs(got.width - want[2]) <= 4


def test_animation_strip_is_cut_on_its_frame_grid():
    sheet = np.zeros((32, 128, 4), np.uint8)
    for i in range(4):
        a = _rgba(i, (16 + i, 20))
        sheet[32 - 2 - 20 :30, i * 32 + 4 : i * 32 + 4 + a.shape[1]] = a  # bottom-aligned feet
    boxes = slice_sheet(Image.fromarray(sheet, "RGBA"))
    assert boxes == [SpriteBox(i * 32, 0, 32, 32, "grid") for i in range(4)]
    # with grid detection off the same sheet gives tight boxes
    tight = slice_sheet(Image.fromarray(sheet, "RGBA"), SheetConfig(detect_grid=False))
    assert len(tight) == 4 and all(b.kind == "component" and b.width < 32 for b in tight)


def test_icon_grid_with_empty_cells():
    sheet = np.zeros((48, 64, 4), np.uint8)
    filled = [(0, 0), (1, 0), (3, 0), (0, 1), (2, 2)]
    for k, (cx, cy) in enumerate(filled):
        a = _rgba(40 + k, (12, 12))
        sheet[cy * 16 + 2 : cy * 16 + 14, cx * 16 + 2 : cx * 16 + 14] = a
    boxes = slice_sheet(Image.fromarray(sheet, "RGBA"))
    assert [(b.x // 16, b.y // 16) for b in boxes] == sorted(filled, key=lambda c: (c[1], c[0]))
    assert all((b.width, b.height, b.kind) == (16, 16, "grid") for b in boxes)


def test_opaque_tileset_is_cut_on_tiles_and_flat_tiles_skipped():
    rng = np.random.default_rng(0)
    tiles = np.zeros((48, 64, 3), np.uint8)
    for ty in range(3):
        for tx in range(4):
            t = np.tile(rng.integers(0, 200, 3), (16, 16, 1))
            if (tx, ty) != (3, 2):  # one flat tile
                t[rng.random((16, 16)) < 0.2] += 40
            tiles[ty * 16 : (ty + 1) * 16, tx * 16 : (tx + 1) * 16] = t
    boxes = slice_sheet(Image.fromarray(tiles))
    assert len(boxes) == 11 and all((b.width, b.height, b.kind) == (16, 16, "tile") for b in boxes)
    assert SpriteBox(48, 32, 16, 16, "tile") not in boxes


def test_parts_within_merge_gap_are_one_sprite():
    sheet = np.zeros((40, 80, 4), np.uint8)
    sheet[10:30, 10:20] = 255  # body
    sheet[10:30, 21:24] = 255  # sword, one transparent column away
    sheet[10:30, 50:62] = 255  # another sprite far away
    img = Image.fromarray(sheet, "RGBA")
    merged = slice_sheet(img, SheetConfig(merge_gap=1, detect_grid=False))
    assert [(b.x, b.width) for b in merged] == [(10, 14), (50, 12)]
    apart = slice_sheet(img, SheetConfig(merge_gap=0, detect_grid=False, min_sprite_size=3))
    assert [(b.x, b.width) for b in apart] == [(10, 10), (21, 3), (50, 12)]


def test_specks_are_dropped_and_single_pictures_are_not_sheets():
    sheet = np.zeros((40, 40, 4), np.uint8)
    sheet[5:35, 5:30] = _rgba(7, (25, 30))
    sheet[37, 37] = 255  # a stray pixel
    assert slice_sheet(Image.fromarray(sheet, "RGBA")) == []
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (50, 50, 3), dtype=np.uint8))
    assert background_mask(photo) is None
    assert slice_sheet(photo) == []


def test_min_sprites_and_crop():
    sheet = np.zeros((30, 70, 4), np.uint8)
    sheet[5:25, 5:25] = _rgba(1, (20, 20))
    sheet[5:25, 40:60] = _rgba(2, (20, 20))
    img = Image.fromarray(sheet, "RGBA")
    assert len(slice_sheet(img, SheetConfig(detect_grid=False))) == 2
    assert slice_sheet(img, SheetConfig(min_sprites=3)) == []
    box = slice_sheet(img, SheetConfig(detect_grid=False))[1]
    crop = box.crop(img)
    assert crop.mode == "RGBA" and crop.size == (box.width, box.height)
    assert box.as_member() == f"box:{box.x},{box.y},{box.width},{box.height}"


@pytest.mark.parametrize("path", sorted(PIXEL_ART.glob("synth-car-*.png"))[:2], ids=lambda p: p.name)
def test_upscaled_real_frames_slice_after_native_recovery(path):
    """Sheets are sliced at native resolution: recover first, then cut (boxes in native pixels)."""
    frame = Image.open(path).convert("RGBA")
    strip = Image.new("RGBA", (frame.width * 3, frame.height), (0, 0, 0, 0))
    for i in range(3):
        strip.paste(frame, (i * frame.width, 0))
    big = strip.resize((strip.width * 3, strip.height * 3), Image.Resampling.NEAREST)
    native = recover_native(big)
    assert native.image.size == strip.size
    boxes = slice_sheet(native.image)
    assert boxes == [SpriteBox(i * frame.width, 0, frame.width, frame.height, "grid") for i in range(3)]


@pytest.mark.parametrize("path", sorted(PIXEL_ART.parent.glob("*/*.png")), ids=lambda p: p.name)
def test_single_pictures_and_scenes_are_not_sheets(path):
    """Every fixture is one sprite or one scene (cybercity-far-buildings: a skyline on a plain sky
    with a few detached details); none may be cut."""
    assert slice_sheet(Image.open(path), SheetConfig(enabled=True)) == []

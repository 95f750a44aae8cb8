"""Property tests for the parsers and decoders input can reach: palettes, checkpoint headers, images.

Whatever the bytes, each either succeeds within its limits or raises its own error type
(PaletteError, CheckpointError, ImageDecodeError): never another exception, never a big allocation.
"""

from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file

from inference.palette import MAX_COLORS, PaletteError, parse_gpl, parse_hex
from pixelforge.decoding import FrameBudget, ImageDecodeError, iter_frames, open_image
from pixelforge.model.checkpoint import SPEC_RANGES, CheckpointError, read_header
from pixelforge.model.loading import load_generator
from pixelforge.model.networks import GeneratorSpec
from tests.test_hostile_pixelate import gif

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _palette_ok(arr: np.ndarray) -> None:
    assert arr.dtype == np.uint8 and arr.ndim == 2 and arr.shape[1] == 3 and 1 <= len(arr) <= MAX_COLORS
    assert len({tuple(c) for c in arr}) == len(arr)  # repeats dropped


hex_line = st.one_of(st.integers(0, 0xFFFFFF).map(lambda c: f"#{c:06x}"), st.text(max_size=12), st.just(""),
                     st.integers(0, 0xFFFFFF).map(lambda c: f"{c:06X} ; comment"))


@FAST
@given(st.lists(hex_line, max_size=80))
def test_hex_files_parse_or_say_why(lines):
    try:
        _palette_ok(parse_hex("\n".join(lines)))
    except PaletteError as exc:
        assert str(exc)


@FAST
@given(st.lists(st.one_of(st.tuples(st.integers(-5, 300), st.integers(0, 255), st.integers(0, 255), st.text(max_size=5))
                          .map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]}"), st.text(max_size=20)), max_size=300),
       st.sampled_from(["GIMP Palette", "GIMP palette", ""]))
def test_gpl_files_parse_or_say_why(lines, header):
    try:
        _palette_ok(parse_gpl("\n".join([header, *lines])))
    except PaletteError as exc:
        assert str(exc)


@FAST
@given(st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=600))
def test_valid_hex_palettes_round_trip_or_exceed_the_cap(colors):
    text = "\n".join(f"{c:06X}" for c in colors)
    distinct = list(dict.fromkeys(colors))
    if len(distinct) > MAX_COLORS:
        with pytest.raises(PaletteError, match="at most 256"):
            parse_hex(text)
    else:
        arr = parse_hex(text)
        assert [(int(r) << 16) | (int(g) << 8) | int(b) for r, g, b in arr] == distinct


# ---- checkpoint headers -------------------------------------------------------------------------------

FIELD = st.one_of(st.integers(-10, 5000).map(str), st.text(max_size=8), st.just("1e9"), st.just("64"), st.just("3"))
META = st.fixed_dictionaries(
    {"format": st.sampled_from(["pixelforge", "other"]), "arch": st.sampled_from(["resnet_generator", "x"])},
    optional={name: FIELD for name in ("input_nc", "output_nc", "ngf", "n_blocks", "direction", "size")},
)
TENSORS = st.dictionaries(st.sampled_from(["model.1.weight", "model.1.bias", "w", "module.model.1.weight"]),
                          st.lists(st.integers(0, 4), min_size=0, max_size=4), max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=META, tensors=TENSORS)
def test_checkpoint_metadata_loads_or_is_refused_without_building_big_networks(tmp_path, monkeypatch, meta, tensors):
    path = tmp_path / "G_A.safetensors"
    save_file({k: torch.zeros(tuple(shape)) for k, shape in tensors.items()}, str(path), metadata=meta)
    built = []
    real = GeneratorSpec.build

    def spy(self):
        net = real(self)
        if next(net.parameters()).device.type != "meta":
            built.append(self)
        return net

    monkeypatch.setattr(GeneratorSpec, "build", spy)
    try:
        _, spec = load_generator(path)
        assert all(lo <= getattr(spec, k) <= hi for k, (lo, hi) in SPEC_RANGES.items())
    except CheckpointError as exc:
        assert str(exc)
    finally:
        monkeypatch.undo()
    # only a file whose tensors match the architecture gets a real network, and these files hold almost nothing
    assert built == []


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                       max_leaves=12)


@FAST
@given(header=st.one_of(JSONISH, st.dictionaries(st.sampled_from(["__metadata__", "model.1.weight", "a"]), JSONISH)),
       declared=st.one_of(st.none(), st.integers(0, 2**64 - 1)), junk=st.binary(max_size=16))
def test_raw_safetensors_headers_never_escape_checkpoint_error(tmp_path, header, declared, junk):
    body = json.dumps(header).encode()
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(body) if declared is None else declared) + body + junk)
    try:
        shapes, meta = read_header(path)
        assert all(isinstance(v, str) for v in meta.values()) and all(isinstance(s, tuple) for s in shapes.values())
        load_generator(path)
    except CheckpointError:
        pass


# ---- the image decode guard --------------------------------------------------------------------------


def _encoded(fmt: str) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(np.arange(8 * 6 * 3, dtype=np.uint8).reshape(6, 8, 3))
    if fmt == "GIF":
        img.save(buf, format="GIF", save_all=True, append_images=[img.rotate(180)])
    else:
        img.save(buf, format=fmt)
    return buf.getvalue()


SAMPLES = {fmt: _encoded(fmt) for fmt in ("PNG", "GIF", "BMP", "WEBP", "TIFF", "JPEG")}
BUDGET = FrameBudget(max_pixels=100_000, max_frames=50, max_total_pixels=400_000)


def _decode_all(data: bytes) -> None:
    try:
        first = open_image(data, max_pixels=BUDGET.max_pixels).image
        assert first.width * first.height <= BUDGET.max_pixels
        total = 0
        for decoded in iter_frames(data, BUDGET):
            total += decoded.image.width * decoded.image.height
            assert decoded.image.width * decoded.image.height <= BUDGET.max_pixels
        assert total <= BUDGET.max_total_pixels
    except ImageDecodeError as exc:
        assert exc.reason in {"empty", "too-large", "too-many-frames", "truncated", "svg", "unreadable"}


@FAST
@given(fmt=st.sampled_from(sorted(SAMPLES)), cut=st.integers(0, 400))
def test_truncated_images_fail_with_a_decode_error(fmt, cut):
    _decode_all(SAMPLES[fmt][:cut])


@FAST
@given(fmt=st.sampled_from(sorted(SAMPLES)), edits=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), max_size=8))
def test_corrupted_bytes_fail_with_a_decode_error(fmt, edits):
    data = bytearray(SAMPLES[fmt])
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    _decode_all(bytes(data))


@FAST
@given(width=st.integers(0, 65535), height=st.integers(0, 65535))
def test_huge_declared_png_sizes_are_refused_before_decoding(width, height):
    data = bytearray(SAMPLES["PNG"])
    data[16:24] = struct.pack(">II", width, height)  # IHDR width/height (the CRC no longer matches either)
    _decode_all(bytes(data))


@FAST
@given(frames=st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 3), st.integers(0, 3)),
                       min_size=1, max_size=60),
       screen=st.tuples(st.integers(0, 65535), st.integers(0, 65535)), disposal=st.integers(0, 3))
def test_gifs_with_frames_anywhere_stay_within_the_budget(frames, screen, disposal):
    _decode_all(gif(frames, screen=screen, disposal=disposal))

"""A sheet's repeated frames: computed once, recorded for every cell with its own name and the same outcome."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
from PIL import Image

from curation.config import load_config
from curation.process import process_bytes


def frame(seed: int) -> np.ndarray:
    """A 64 px sprite on transparency: a body of a few palette colours with an outline."""
    rng = np.random.default_rng(seed)
    out = np.zeros((64, 64, 4), np.uint8)
    palette = rng.integers(0, 200, (4, 3))
    body = rng.integers(0, 4, (12, 8)).repeat(3, 0).repeat(3, 1)
    out[14:50, 20:44, :3] = palette[body]
    out[14:50, 20:44, 3] = 255
    out[13, 19:45, 3] = out[50, 19:45, 3] = 255  # dark outline rows
    return out


def sheet_png(cells: list[np.ndarray | None], columns: int = 5) -> bytes:
    rows = -(-len(cells) // columns)
    sheet = np.zeros((rows * 64, columns * 64, 4), np.uint8)
    for i, cell in enumerate(cells):
        if cell is not None:
            sheet[i // columns * 64 : i // columns * 64 + 64, i % columns * 64 : i % columns * 64 + 64] = cell
    buf = io.BytesIO()
    Image.fromarray(sheet, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


def speck() -> np.ndarray:
    out = np.zeros((64, 64, 4), np.uint8)
    out[30:32, 30:32] = (90, 40, 40, 255)  # near-blank: rejected with a reason
    return out


def test_repeated_frames_get_the_outcome_of_their_first_copy():
    a, b = frame(1), frame(2)
    cells = [a, b, a, speck(), a, b, speck(), frame(3), None, a]
    config = load_config()
    result = process_bytes(sheet_png(cells), config)
    kept = {item.member: item for item in result.items}
    rejected = {r.member: r for r in result.rejected}
    assert len(kept) + len(rejected) == 9  # every non-empty cell once, repeats included
    first_a = result.items[0]  # cell 0, in reading order
    copies_of_a = [item for item in result.items if item.pixel_sha256 == first_a.pixel_sha256]
    assert len(copies_of_a) == 4 and len({item.member for item in copies_of_a}) == 4
    for copy in copies_of_a:  # the same row in every field but the name
        assert replace(copy, member=first_a.member) == first_a
    assert len(rejected) == 2 and {r.reason for r in rejected.values()} == {next(iter(rejected.values())).reason}
    stages = result.stages
    assert stages["background"]["in"] == stages["background"]["out"] == 9
    assert stages["filters"]["in"] == 9 and stages["filters"]["out"] == len(kept) == 7
    assert stages["canvas"]["in"] == stages["canvas"]["out"] == 7


def test_repeats_match_a_sheet_without_repeats_and_the_trace_names_them():
    a, b = frame(4), frame(5)
    config = load_config()
    once = process_bytes(sheet_png([a, b]), config)
    twice = process_bytes(sheet_png([a, b, a, b]), config, trace=True)
    assert [i.pixel_sha256 for i in twice.items] == [i.pixel_sha256 for i in once.items] * 2
    assert [i.native_png for i in twice.items[2:]] == [i.native_png for i in once.items]
    steps = twice.trace[0]["items"]
    assert [s.get("repeat_of") for s in steps] == [None, None, steps[0]["member"], steps[1]["member"]]
    assert all(s["verdict"]["kept"] for s in steps)

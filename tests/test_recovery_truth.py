"""The recovery grader itself must be right: it accepts the truth and rejects a shifted grid."""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixelforge.imaging import composite_on_white
from pixelforge.testing.recovery_truth import grade, real_cases, sprite_case


def test_grader_accepts_the_truth_and_rejects_a_shifted_grid():
    from curation.stages.native import NativeResult

    for jpeg in (False, True):
        case = sprite_case(3, jpeg)
        truth_img = Image.fromarray(case.truth, "RGB")
        perfect = NativeResult(truth_img, (float(case.scale),) * 2, case.phase, 1.0, True)
        g = grade(case, perfect)
        assert g.scale_ok and g.phase_ok and g.size_ok and g.cells_right == g.cells_total
        shifted = NativeResult(Image.fromarray(np.roll(case.truth, 1, axis=1), "RGB"), (2.0, 2.0), (0, 0), 1.0, True)
        g = grade(case, shifted)
        assert g.cells_right < 0.9 * g.cells_total
        assert not grade(case, NativeResult(truth_img.crop((0, 0, 5, 5)), (1.0, 1.0), (0, 0), 0.0, False)).size_ok


def test_real_cases_reproduce_their_input_from_the_truth():
    """Upscaling the truth with the recorded phase gives back the (PNG) input exactly."""
    for case in real_cases(1, seed=5)[:6:2]:
        s, (bx, by) = case.scale, case.phase
        up = np.repeat(np.repeat(case.truth, s, 0), s, 1)
        px, py = (s - bx) % s, (s - by) % s
        arr = np.asarray(composite_on_white(case.image))
        assert np.array_equal(up[py : py + arr.shape[0], px : px + arr.shape[1]], arr)

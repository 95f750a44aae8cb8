"""What a published generator's file records about how to run it, read back and checked.

``train publish`` writes these safetensors metadata keys beside the architecture: the generator resolution its
publisher measured best, the input it was trained on, and the pixelate options it was measured with. ``pixelate``
reads them so a model runs as measured unless its caller says otherwise; a value out of range is an error, never
a guess. A reference ``.pth`` file records none of them.
"""

from __future__ import annotations

from pathlib import Path

from pixelforge.model.checkpoint import CheckpointError, generator_file, read_header

#: metadata key of a published generator: the generator resolution it is meant to run at (``pixelate
#: --pixels-per-cell``), measured by its publisher; a caller's own choice always wins
PIXELS_PER_CELL = "pixels_per_cell"
#: the largest resolution a model may record: 64x64 generator pixels per cell is a typo, not a setting
MAX_PIXELS_PER_CELL = 64


def _recorded(path: str | Path, which: str, key: str) -> tuple[Path, str | None]:
    """A generator's file and the value its metadata records under ``key`` (None: no such key, or a file
    without metadata: a reference ``.pth``). ``path`` is any form :func:`pixelforge.model.loading.load_generator` takes."""
    path = Path(path)
    file = generator_file(path, which) if path.is_dir() else path
    if file.suffix.lower() != ".safetensors" or not file.is_file():
        return file, None
    return file, read_header(file)[1].get(key)


def recommended_pixels_per_cell(path: str | Path, which: str = "G_A") -> int | None:
    """The generator resolution a published model asks for (``train publish --pixels-per-cell``), if any.

    Reference ``.pth`` files and files without the key say nothing (None), and a value that is not a small
    non-negative integer is an error, not a guess.
    """
    file, raw = _recorded(path, which, PIXELS_PER_CELL)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_PIXELS_PER_CELL:
        raise CheckpointError(f"{file}: metadata {PIXELS_PER_CELL}={raw!r} must be an integer from 0 to {MAX_PIXELS_PER_CELL}")
    return int(raw)


#: metadata key of a G_A trained on an input other than pixelate's default ("lines", the picture halved keeping
#: thin lines): "cells" (``a_resize = "cells"``) asks for the picture's thin-feature cells drawn into it as whole
#: blocks, "dark-cells" for its dark ones only
MODEL_INPUT = "input"
MODEL_INPUTS = ("lines", "cells", "dark-cells", "classic-dark-cells", "classic-line-cells", "classic-thin-cells")
#: the inputs that draw the picture's feature cells in (every one but "lines"; which cells:
#: ``inference.classic.feature_cells``, ``training.outlines.with_feature_cells``)
FEATURE_INPUTS = MODEL_INPUTS[1:]


def recorded_input(path: str | Path, which: str = "G_A") -> str | None:
    """The input a generator was trained on, when its file records one (:data:`MODEL_INPUT`), else None."""
    file, raw = _recorded(path, which, MODEL_INPUT)
    if raw is not None and raw not in MODEL_INPUTS:
        raise CheckpointError(f"{file}: metadata {MODEL_INPUT}={raw!r} must be one of {', '.join(MODEL_INPUTS)}")
    return raw


#: metadata key of a G_A its publisher measured best with ``pixelate --anchor-within`` (``train publish --anchor-within``):
#: a model that draws the picture's features in place keeps a figure's colour fix on the figure with it
ANCHOR_WITHIN_KEY = "anchor_within"
#: the largest value it may hold (``pixelate --anchor-within`` refuses more)
MAX_ANCHOR_WITHIN = 100.0


def recorded_anchor_within(path: str | Path, which: str = "G_A") -> float | None:
    """The ``--anchor-within`` a published generator asks for (:data:`ANCHOR_WITHIN_KEY`), if its file records one."""
    file, raw = _recorded(path, which, ANCHOR_WITHIN_KEY)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_ANCHOR_WITHIN:  # NaN fails too
        raise CheckpointError(f"{file}: metadata {ANCHOR_WITHIN_KEY}={raw!r} must be a number from 0 to {MAX_ANCHOR_WITHIN:g}")
    return value


#: metadata key of a G_A its publisher measured best with ``pixelate --keep-features`` (``train publish --keep-features``):
#: "1" (on) or "0"
KEEP_FEATURES_KEY = "keep_features"


def recorded_keep_features(path: str | Path, which: str = "G_A") -> bool | None:
    """The ``--keep-features`` a published generator asks for (:data:`KEEP_FEATURES_KEY`), if its file records one."""
    file, raw = _recorded(path, which, KEEP_FEATURES_KEY)
    if raw is None:
        return None
    if raw not in ("0", "1"):
        raise CheckpointError(f"{file}: metadata {KEEP_FEATURES_KEY}={raw!r} must be 1 (on) or 0 (off)")
    return raw == "1"

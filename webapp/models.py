"""The model dropdown: the classical method, shipped models and ``--checkpoint`` run folders.

Each model loads once and is then shared by every request through
:meth:`inference.Pixelator.with_options`; a lock per model serialises generator passes,
because tiled inference switches the shared norm layers' mode while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from inference import Pixelator
from inference.shipped import DEFAULT_METHOD, SHIPPED_DIR, SHIPPED_NAME

CLASSICAL = "classical"

#: Models that ship with pixelforge: dropdown label -> checkpoint (run folder, folder or file);
#: entries whose file is missing are left out of the dropdown.
SHIPPED_G_A = str(SHIPPED_DIR / "G_A.safetensors")
SHIPPED_MODELS: dict[str, Path] = {SHIPPED_NAME: Path(SHIPPED_G_A)}


class ModelError(ValueError):
    """A model choice that is not offered, or a checkpoint that does not load."""


class Models:
    """What the model dropdown offers, and each offer's loaded :class:`Pixelator`."""

    def __init__(self, checkpoints: Sequence[str] = (), shipped: dict[str, Path] | None = None) -> None:
        shipped = SHIPPED_MODELS if shipped is None else shipped
        self.labels: dict[str, str] = {CLASSICAL: "classical (no ML)"}
        for name, path in shipped.items():
            if path.exists():
                self.labels[str(path)] = f"shipped: {name}"
        for path in checkpoints:
            self.labels[str(path)] = f"checkpoint: {path}"
        self._loaded: dict[str, Pixelator] = {}
        self._locks = {value: threading.Lock() for value in self.labels if value != CLASSICAL}
        self._loading = threading.Lock()

    @property
    def default(self) -> str:
        """What the CLI does without --checkpoint: classical until the shipped model is made the default."""
        return SHIPPED_G_A if DEFAULT_METHOD == "shipped" and SHIPPED_G_A in self.labels else CLASSICAL


    def choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the dropdown; the value is what the API takes."""
        return [(label, value) for value, label in self.labels.items()]

    def load_all(self) -> None:
        """Load every checkpoint now, so a bad ``--checkpoint`` stops the server at start, not a user's job."""
        for value in self._locks:
            self._base(value)

    def _base(self, value: str) -> Pixelator:
        with self._loading:
            if value not in self._loaded:
                try:
                    self._loaded[value] = Pixelator.from_checkpoint(value)
                except ValueError as exc:  # CheckpointError says what is wrong with the file
                    raise ModelError(f"model {value}: {exc}") from exc
            return self._loaded[value]

    def pixelator(self, value: str, **options: object) -> Pixelator:
        """The chosen model with these output options (cell size, palette, dither, native)."""
        if value not in self.labels:
            offered = ", ".join(repr(v) for v in self.labels)
            raise ModelError(f"unknown model {value!r}: choose one of {offered}")
        if value == CLASSICAL:
            return Pixelator.classic(**options)
        return self._base(value).with_options(**options)

    @contextmanager
    def running(self, value: str) -> Iterator[None]:
        """Hold the model's lock while its generator runs (the classical method needs none)."""
        with self._locks.get(value) or nullcontext():
            yield

    def describe(self, value: str) -> str:
        return self.labels.get(value, value)

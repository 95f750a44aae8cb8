"""The task an engine's worker runs: :func:`curation.workers.process_raw`, the local pool's own
task, so an engine's results are the local pool's, byte for byte. A worker process keeps one
rembg session per config, built on its first task.
"""

from __future__ import annotations

from typing import Any

from curation.config import CurateConfig
from curation.stages.background import load_rembg_session
from curation.workers import Outcome, Task, process_raw

_SESSIONS: dict[str, Any] = {}


def _session(config: CurateConfig) -> Any:
    if not config.background.uses_rembg():
        return None
    key = config.image_key()
    if key not in _SESSIONS:
        _SESSIONS[key] = load_rembg_session(config.background, 1)
    return _SESSIONS[key]


def process_file(task: Task, config: CurateConfig) -> Outcome:
    """:func:`curation.workers.process_raw` with this worker's rembg session for ``config``."""
    return process_raw(task, config, _session(config))


def process_batch(batch: list[Task], config: CurateConfig) -> list[Outcome]:
    """A few files per task, so scheduling costs little next to the images."""
    return [process_file(task, config) for task in batch]

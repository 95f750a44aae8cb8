"""One raw file by path or fsspec URL -> its cacheable result: the task an engine's worker runs.

The same steps and rejection reasons as :func:`curation.workers.work` (which reads local paths
only), so an engine's results are the local pool's, byte for byte. A worker process keeps one
rembg session per config, built on its first task.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from curation.cache import CachedFile
from curation.config import CurateConfig
from curation.process import FileResult, process_bytes
from curation.stages.background import load_rembg_session
from curation.workers import Outcome, Task

_SESSIONS: dict[str, Any] = {}


def is_url(source: str | Path) -> bool:
    return "://" in str(source)


def read_bytes(path: str) -> bytes:
    """A file's bytes from a local path or any fsspec URL (``file://``, ``s3://``, ...)."""
    if not is_url(path):
        return Path(path).read_bytes()
    import fsspec

    with fsspec.open(path, "rb") as fh:
        return fh.read()


def _session(config: CurateConfig) -> Any:
    if not config.background.uses_rembg():
        return None
    key = config.image_key()
    if key not in _SESSIONS:
        _SESSIONS[key] = load_rembg_session(config.background, 1)
    return _SESSIONS[key]


def rejected_file(sha: str, reason: str, detail: str) -> Outcome:
    result = FileResult()
    result.reject("", "input", reason, detail)
    return (sha, *CachedFile.of(result))


def process_file(task: Task, config: CurateConfig) -> Outcome:
    """Every failure becomes a rejection with its reason, never an exception."""
    sha, path = task
    try:
        data = read_bytes(path)
    except OSError as exc:
        return rejected_file(sha, "unreadable", str(exc))
    if hashlib.sha256(data).hexdigest() != sha:
        return rejected_file(sha, "sha256-mismatch", f"{path} does not hash to its manifest sha256")
    try:
        result = process_bytes(data, config, _session(config))
    except Exception as exc:  # one bad file never aborts the run
        result = FileResult()
        result.reject("", "internal", "error", f"{type(exc).__name__}: {exc}")
    return (sha, *CachedFile.of(result))


def process_batch(batch: list[Task], config: CurateConfig) -> list[Outcome]:
    """A few files per task, so scheduling costs little next to the images."""
    return [process_file(task, config) for task in batch]

"""Engines: where `curate run` runs the per-image stages and the near-duplicate search.

An engine has ``results(tasks, config, session)`` (the contract of
:func:`curation.workers.local_results`: one outcome per file, in completion order),
``deduplicate`` (the signature and result of :func:`curation.dedup.deduplicate`), ``workers``
and ``close()``. The pipeline picks one by name and does everything else (cache, progress,
dedup over the cached results, shards, report) the same way, so outputs are byte-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from curation.config import CurateConfig
from curation.dedup import DedupResult, deduplicate
from curation.workers import Outcome, Task, is_url, local_results
from pixelforge.config import ConfigError

ENGINES = ("local", "dask")


class Engine(Protocol):
    name: str
    workers: int

    def results(self, tasks: list[Task], config: CurateConfig, session: Any = None) -> Iterator[Outcome]: ...

    def deduplicate(self, *args: Any, **kwargs: Any) -> DedupResult: ...

    def close(self) -> None: ...


class LocalEngine:
    """This machine's process pool and the multi-index dedup (the default)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.deduplicate = deduplicate

    def results(self, tasks: list[Task], config: CurateConfig, session: Any = None) -> Iterator[Outcome]:
        return local_results([(sha, local_path(path)) for sha, path in tasks], config, self.workers, session)

    def close(self) -> None:
        pass


def local_path(path: str) -> str:
    """``file://`` URLs are local files; other URLs need an engine whose workers read them."""
    if not is_url(path):
        return path
    import fsspec

    fs, inner = fsspec.core.url_to_fs(path)
    if "file" not in fs.protocol:
        raise ConfigError(f"--engine local reads local files only, not {path}: use --engine dask")
    return inner


def open_engine(name: str = "local", *, address: str | None = None, workers: int = 1, **options: Any) -> Engine:
    """The engine ``name`` (``local`` or ``dask``); ``address`` is an existing Dask scheduler, else
    a local cluster of ``workers`` processes is started (and stopped by ``close()``); ``options``
    go to the engine's class."""
    if name == "local":
        if address:
            raise ConfigError("--address needs --engine dask")
        return LocalEngine(workers)
    if name == "dask":
        try:
            from curation.engines.dask_engine import DaskEngine
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise ImportError('--engine dask needs Dask: pip install "pixelforge[cluster]"') from exc
        return DaskEngine(address, workers, **options)
    raise ConfigError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")

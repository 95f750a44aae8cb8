"""Worker side of `curate run`: one raw file in, its cacheable result out; a local process pool.

Each worker builds its rembg session once (sessions do not cross processes); with one worker
the caller's session is reused, so the model is loaded once per process, never per file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterator
from typing import Any

from curation.allocator import keep_freed_memory
from curation.cache import CachedFile, Images
from curation.config import CurateConfig
from curation.inputs import ReadRefused, read_regular
from curation.process import FileResult, process_bytes
from curation.stages.background import load_rembg_session

#: (raw sha256, path of its bytes)
Task = tuple[str, str]
Outcome = tuple[str, CachedFile, Images]

_WORKER: dict[str, Any] = {}


def _init_worker(config: CurateConfig, session: Any = None, threads: int | None = None) -> None:
    if session is None and config.background.uses_rembg():
        session = load_rembg_session(config.background, threads)
    _WORKER["config"] = config
    _WORKER["session"] = session


def _init_pool_worker(config: CurateConfig, threads: int | None = None) -> None:
    keep_freed_memory()  # a worker process does nothing but image batches
    _init_worker(config, None, threads)


def _rejected(reason: str, detail: str) -> FileResult:
    result = FileResult()
    result.reject("", "input", reason, detail)
    return result


def rejected_file(sha: str, reason: str, detail: str) -> Outcome:
    """A raw file that produced nothing, as an outcome: one input-stage rejection."""
    return (sha, *CachedFile.of(_rejected(reason, detail)))


def is_url(source: str | os.PathLike[str]) -> bool:
    """An fsspec URL (``file://``, ``s3://``, ...) rather than a local path."""
    return "://" in str(source)


def read_raw(path: str, limit: int) -> bytes:
    """A raw file's bytes under the file-size budget: a local path (regular files only) or an fsspec
    URL (``file://``, ``s3://``, ...), whose size is checked before reading when the store tells it."""
    if not is_url(path):
        return read_regular(path, limit)
    import fsspec

    key = "expand.max_file_bytes"
    with fsspec.open(path, "rb") as fh:
        size = getattr(fh, "size", None)
        if isinstance(size, int) and size > limit:
            raise ReadRefused("file-too-large", f"{size} bytes > {key} = {limit}")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ReadRefused("file-too-large", f"more than {key} = {limit} bytes")
    return data


def process_raw(task: Task, config: CurateConfig, session: Any = None) -> Outcome:
    """Process one raw file (path or URL); every failure becomes a rejection with its reason, never an
    exception. The one task of every engine, so their results are the same, byte for byte."""
    sha, path = task
    limit = config.expand.max_file_bytes
    try:
        data = read_raw(path, limit)
    except ReadRefused as exc:
        return rejected_file(sha, exc.reason, exc.detail)
    except OSError as exc:
        return rejected_file(sha, "unreadable", f"{path}: {exc.strerror or exc}")
    except MemoryError:
        return rejected_file(sha, "out-of-memory", f"reading {path}; lower expand.max_file_bytes (now {limit})"
                                                   " or use fewer workers")
    if hashlib.sha256(data).hexdigest() != sha:
        return rejected_file(sha, "sha256-mismatch", f"{path} does not hash to its manifest sha256")
    try:
        result = process_bytes(data, config, session)
    except MemoryError:
        del data  # give the memory back before building the answer
        result = _rejected("out-of-memory", "processing this file ran out of memory; lower expand.max_total_bytes"
                                            " or decode.max_pixels, or use fewer workers")
    except Exception as exc:  # one bad file never aborts the run
        result = FileResult()
        result.reject("", "internal", "error", f"{type(exc).__name__}: {exc}")
    return (sha, *CachedFile.of(result))


def work(task: Task) -> Outcome:
    """The pool's task: :func:`process_raw` with this worker process's config and rembg session."""
    return process_raw(task, _WORKER["config"], _WORKER["session"])


def start_method() -> str:
    """``fork`` when this process runs no other thread, else ``forkserver``.

    Forking is fastest (workers inherit the imported stages), but a child forked while another
    thread holds a lock (a Dask client, an HTTP pool, a progress monitor) can wait on it forever;
    the fork server starts workers from a clean single-threaded process instead.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def local_results(tasks: list[Task], config: CurateConfig, workers: int, session: Any = None) -> Iterator[Outcome]:
    """Results in completion order: in this process for one worker, else from a process pool."""
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(config, session)
        for task in tasks:
            yield work(task)
        return
    ctx = multiprocessing.get_context(start_method())
    with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(config, 1)) as pool:
        yield from pool.imap_unordered(work, tasks, chunksize=max(1, min(16, len(tasks) // (workers * 8))))

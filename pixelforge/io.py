"""Atomic writes, one helper: a file is either its old self or whole, never half-written.

Write to a temporary sibling (same folder, so the rename stays on one file system), then
``os.replace`` it over the target. A crash or a full disk leaves the target untouched and
removes the temporary file. The temporary file gets the permissions a plain ``open()`` would
have given the target (``tempfile`` makes it private, 0600), or the replaced file's own.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _read_umask() -> int:
    """The process umask, read without changing it where Linux says it (``os.umask`` can only set and return)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(*, directory: bool = False) -> int:
    """The mode ``open()`` (0666) or ``mkdir()`` (0777) gives a new file or folder under the process umask."""
    return (0o777 if directory else 0o666) & ~_read_umask()


def public_mode(path: str | os.PathLike[str], *, like: str | os.PathLike[str] | None = None) -> None:
    """Give ``path``, made private by ``tempfile``, the mode of ``like`` if that exists, else the umask's default."""
    path = Path(path)
    try:
        mode = os.stat(like).st_mode & 0o7777 if like is not None else None
    except OSError:
        mode = None
    os.chmod(path, mode if mode is not None else default_mode(directory=path.is_dir()))


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    For writers that want a file name (Pillow, PyAV, pyarrow) rather than bytes in memory.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part" + target.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        public_mode(tmp, like=target)  # after the writer: some (safetensors) make their own private file
        if fsync:
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = False) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically and return the path."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


def replace_dir(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Move a fully written temporary folder to ``final``, replacing any older one.

    ``rename`` cannot replace a non-empty folder, so the old one is first renamed aside to
    ``.<name>.old``; a crash between the two renames leaves that copy, which readers may fall
    back to (the checkpoint loader does).
    """
    tmp, final = Path(tmp), Path(final)
    old = final.parent / f".{final.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)

"""The one error type `curate` prints as a single clear line (exit 2) instead of a traceback."""

from __future__ import annotations

import errno
import os
import shutil


class CurateError(Exception):
    """A run that cannot start or finish; the message says what happened and what to do."""


def is_disk_full(exc: BaseException, where: str | os.PathLike[str] | None = None) -> bool:
    """ENOSPC / EDQUOT from the OS, SQLite ("database or disk is full") or Arrow ("No space left").

    With ``where``, also when that folder's file system has under 1 MiB free: SQLite may report a
    full disk as a plain I/O error.
    """
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    if "no space left" in text or "disk is full" in text or "disk quota" in text:
        return True
    if where is not None:
        try:
            return shutil.disk_usage(where).free < (1 << 20)
        except OSError:
            return False
    return False

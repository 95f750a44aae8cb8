"""Keep freed memory inside a batch worker instead of handing it back to the OS (glibc only).

Every image allocates and frees a few full-size buffers: the decoded frame, its composite on
white, numpy temporaries, the canvas. glibc returns large freed blocks to the kernel (mmap
threshold, heap trimming), so the next image page-faults and zero-fills them all again: about 160
page faults per image in ``curate run``, 15-20% of its CPU time on the development machine
(``benchmarks/curate.py``). Fixing both thresholds keeps those blocks in the heap for reuse.

The limits stay bounded: blocks above 32 MiB still come from mmap and go back when freed, and the
heap is trimmed once 256 MiB at its top are free. Elsewhere (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest accepted value on 64-bit
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Set the process's malloc thresholds for batch image work; True when they were applied.

    Call it once in a worker process: it changes the whole process's allocator.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


__all__ = ["keep_freed_memory"]

"""Stage 7: a deterministic train/test split by content hash.

The split of a row depends only on its pixel hash (and an optional salt), so it is stable across
re-runs, worker counts and additions of new files: adding data never moves an old row to test.
"""

from __future__ import annotations

import hashlib


def split_of(pixel_sha256: str, test_fraction: float, salt: str = "") -> str:
    """"test" for a ``test_fraction`` share of hashes, "train" for the rest."""
    digest = hashlib.sha256(f"{salt}:{pixel_sha256}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "test" if u < test_fraction else "train"


def held_out(raw_sha256s: list[str], prefixes: tuple[str, ...]) -> bool:
    """True when any file of a duplicate cluster is in the held-out set (a copy must not leak into train)."""
    return bool(prefixes) and any(sha.startswith(prefixes) for sha in raw_sha256s)

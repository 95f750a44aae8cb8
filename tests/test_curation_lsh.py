"""The banded near-duplicate search (curation.lsh) is exact: the same pairs as brute force for
every radius and band plan, and the same clusters as curation.dedup.deduplicate."""

import numpy as np
import pandas as pd
import pytest

from curation import lsh
from curation.dedup import brute_force_pairs, deduplicate
from curation.lsh import Banding, components, deduplicate_sharded, local_near_pairs


def _hashes(n, seed=0, flips=3):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**64, n // 2, dtype=np.uint64)
    near = base.copy()
    for _ in range(flips):
        near ^= np.uint64(1) << rng.integers(0, 64, len(base)).astype(np.uint64)
    h = np.concatenate([base, near])
    h[:40] = np.uint64(0xFF) << rng.integers(0, 56, 40).astype(np.uint64)  # a skewed corner
    return h


def _frame(h):
    return pd.DataFrame({"idx": np.arange(len(h)), "dhash": h, "phash": h, "aspect": np.full(len(h), np.nan)})


@pytest.mark.parametrize("radius", [0, 1, 4, 6, 9])
@pytest.mark.parametrize("t", [1, 2, 3])
def test_banded_pairs_equal_brute_force(radius, t):
    h = _hashes(2000, seed=radius * 10 + t)
    m = radius + t
    base, extra = divmod(64, m)
    banding = Banding(radius, tuple(base + 1 if i < extra else base for i in range(m)), t)
    ref = brute_force_pairs(h, radius)
    assert len(ref) > 0 or radius == 0
    assert np.array_equal(local_near_pairs(_frame(h), banding, 64, 10.0), ref)


def test_long_runs_of_equal_keys_are_searched_blockwise(monkeypatch):
    monkeypatch.setattr(lsh, "BIG_RUN", 8)
    h = np.concatenate([np.uint64(1) << np.arange(64, dtype=np.uint64), _hashes(400)])  # 64 keys share bands
    banding = Banding.plan(6, len(h))
    assert np.array_equal(local_near_pairs(_frame(h), banding, 64, 10.0), brute_force_pairs(h, 6))


def test_plan_trades_sorts_for_collisions():
    assert [Banding.plan(6, n).t for n in (1000, 10**5, 10**7, 10**8)] == [1, 2, 3, 4]
    for n in (100, 10**5, 10**8):
        b = Banding.plan(6, n)
        assert sum(b.widths) == 64 and len(b.widths) == 6 + b.t


def _planted(seed):
    rng = np.random.default_rng(seed)
    dh, ph, sizes = [], [], []
    for _ in range(400):
        base_d, base_p = rng.integers(0, 2**64, 2, dtype=np.uint64)
        for _ in range(int(rng.integers(1, 5))):
            mask = sum(1 << int(f) for f in rng.choice(64, int(rng.integers(0, 9)), replace=False))
            dh.append(base_d ^ np.uint64(mask))
            ph.append(base_p ^ np.uint64(sum(1 << int(f) for f in rng.choice(64, int(rng.integers(0, 20)), False))))
            sizes.append((int(rng.integers(10, 13)), 10))
    pixel = [f"{int(d):016x}" if i % 50 else "dup" for i, d in enumerate(dh)]
    return pixel, [f"{int(p):016x}" for p in ph], [f"{int(d):016x}" for d in dh], sizes


@pytest.mark.parametrize("kwargs", [{}, {"sizes": None}, {"near": False}, {"dhash_distance": 3, "phash_distance": 8}])
def test_sharded_dedup_returns_the_local_clusters(kwargs):
    pixel, ph, dh, sizes = _planted(1)
    args = {"sizes": sizes, **kwargs}
    rank = lambda i: (-i,)  # noqa: E731 - any rank: the kept member must follow it
    ref = deduplicate(pixel, ph, dh, rank, **args)
    assert deduplicate_sharded(pixel, ph, dh, rank, **args) == ref
    assert ref.exact_duplicates > 0 and (ref.near_duplicates > 10 or kwargs.get("near") is False)


def test_components_are_the_union_of_pairs():
    pairs = np.array([[5, 9], [1, 2], [2, 7], [9, 11]])
    assert components(pairs) == [[1, 2, 7], [5, 9, 11]]
    assert components(np.zeros((0, 2), np.int64)) == []

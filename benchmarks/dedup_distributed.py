"""Banded near-duplicate search through a Dask cluster vs the local multi-index search.

N synthetic 64-bit dhash/phash pairs, with planted groups (2-5 members, dhash within 6 bits and
phash within 16 bits of each other pairwise) among random hashes. The partitions are generated
on the workers, so the driver never holds the hashes; only the confirmed pairs come back.
Checks: every planted group is found whole (recall 1.0) and nothing else is merged; reports wall
time and each worker's peak RSS. The local search (``curation.dedup.mih_pairs`` + the same
confirmation) runs on the same hashes in this process unless ``--local-max`` is exceeded.

    nice python benchmarks/dedup_distributed.py --n 100000            # development size
    nice python benchmarks/dedup_distributed.py --n 10000000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time

import numpy as np
import pandas as pd

from curation.dedup import mih_pairs
from curation.lsh import Banding, components, confirm

RADIUS, PHASH_RADIUS, ASPECT = 6, 16, 1.1
ROWS = 250_000  # per generated partition


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64: a deterministic, vectorised stream of 64-bit values from indices."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _flips(seed: np.ndarray, k_max: int) -> np.ndarray:
    """Masks of 0..k_max random bits (distinct positions not required: fewer bits is still within)."""
    mask = np.zeros(len(seed), np.uint64)
    count = _mix(seed) % np.uint64(k_max + 1)
    for j in range(k_max):
        bit = _mix(seed * np.uint64(k_max + 7) + np.uint64(j + 1)) % np.uint64(64)
        mask |= np.where(count > np.uint64(j), np.uint64(1) << bit, np.uint64(0))
    return mask


def planted_layout(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(global index, group) of every planted member: n/100 groups of 2-5 members, scattered."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, max(1, n // 100))
    groups = np.repeat(np.arange(len(sizes)), sizes)
    where = rng.choice(n, len(groups), replace=False)
    return where.astype(np.int64), groups.astype(np.int64)


def make_partition(start: int, stop: int, where: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    """Rows ``start..stop``: random hashes, except the planted members (given for this range)."""
    idx = np.arange(start, stop, dtype=np.int64)
    dh, ph = _mix(idx * 2), _mix(idx * 2 + 1)
    at = where - start
    g = groups.astype(np.uint64)
    dh[at] = _mix(g + np.uint64(1 << 40)) ^ _flips(where.astype(np.uint64) * np.uint64(3), RADIUS // 2)
    ph[at] = _mix(g + np.uint64(1 << 41)) ^ _flips(where.astype(np.uint64) * np.uint64(3) + np.uint64(1), 8)
    return pd.DataFrame({"idx": idx, "dhash": dh, "phash": ph, "aspect": np.ones(len(idx))})


def _ranges(n: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + ROWS)) for s in range(0, n, ROWS)]


def _check(found: list[list[int]], where: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    planted: dict[int, set[int]] = {}
    for w, g in zip(where.tolist(), groups.tolist()):
        planted.setdefault(g, set()).add(w)
    planted_sets = {frozenset(s) for s in planted.values()}
    found_sets = {frozenset(c) for c in found}
    whole = len(planted_sets & found_sets)
    return {"planted_groups": len(planted_sets), "found_groups": len(found_sets), "recall": whole / len(planted_sets),
            "false_merges": len(found_sets - planted_sets)}


def run_cluster(n: int, workers: int, memory_limit: str) -> dict:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from curation.engines.dask_engine import shuffled_near_pairs

    where, groups = planted_layout(n)
    order = np.argsort(where)
    where, groups = where[order], groups[order]
    ranges = _ranges(n)
    cuts = np.searchsorted(where, [s for s, _ in ranges] + [n])
    pieces = [(s, e, where[cuts[i] : cuts[i + 1]], groups[cuts[i] : cuts[i + 1]]) for i, (s, e) in enumerate(ranges)]
    banding = Banding.plan(RADIUS, n)
    out_parts = max(len(ranges), (n * len(banding.first_bands())) // 1_000_000)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None, silence_logs=logging.ERROR) as lc, Client(lc) as client:
        started = time.perf_counter()
        hashes = dd.from_map(lambda p: make_partition(*p), pieces,
                             meta=make_partition(0, 0, np.zeros(0, np.int64), np.zeros(0, np.int64)))
        pairs = shuffled_near_pairs(hashes, banding, PHASH_RADIUS, ASPECT, partitions=out_parts)
        clusters = components(pairs)
        wall = time.perf_counter() - started
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"engine": "dask", "n": n, "workers": workers, "banding": {"bands": len(banding.widths), "t": banding.t},
            "shuffle_partitions": out_parts, "wall_s": round(wall, 1), "pairs": len(pairs),
            "peak_rss_mib_per_worker": sorted(round(v) for v in peaks.values()), **_check(clusters, where, groups)}


def run_local(n: int) -> dict:
    where, groups = planted_layout(n)
    frames = []
    order = np.argsort(where)
    where, groups = where[order], groups[order]
    for s, e in _ranges(n):
        lo, hi = np.searchsorted(where, [s, e])
        frames.append(make_partition(s, e, where[lo:hi], groups[lo:hi]))
    frame = pd.concat(frames, ignore_index=True)
    dh, ph = frame["dhash"].to_numpy(np.uint64), frame["phash"].to_numpy(np.uint64)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    pairs = mih_pairs(dh, RADIUS)
    ok = confirm(ph[pairs[:, 0]], ph[pairs[:, 1]], np.ones(len(pairs)), np.ones(len(pairs)), PHASH_RADIUS, ASPECT)
    clusters = components(pairs[ok])
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": "local mih_pairs", "n": n, "wall_s": round(wall, 1), "pairs": int(ok.sum()),
            "peak_rss_mib": round(peak), "peak_rss_mib_before_search": round(before), **_check(clusters, where, groups)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="2GiB", help="per worker (Dask pauses, spills, then restarts above it)")
    ap.add_argument("--local-max", type=int, default=10_000_000, help="skip the local search above this n")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    results = [run_cluster(args.n, args.workers, args.memory_limit)]
    print(json.dumps(results[-1]), flush=True)
    if args.n <= args.local_max:
        results.append(run_local(args.n))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()

"""Near-duplicate search that shards: exact locality-sensitive banding of 64-bit hashes.

Why: :func:`curation.dedup.mih_pairs` needs every hash in one process (476 MiB per million).
Here each step sees one shard: the hashes are cut into ``m = radius + t`` bands; two hashes within
Hamming distance ``radius`` differ in at most ``radius`` bands, so at least ``t`` bands are equal
(pigeonhole; recall is exact, not probabilistic). A pair is found once, under its *canonical*
bands, the first ``t`` equal ones ``b0 < b1 < ...``:

1. shuffle: for every band ``b0`` a hash is sent to the shard that owns its band-``b0`` value
   (a group-by on the band key; any engine's shuffle does it, :func:`band_frame` builds the rows);
2. each shard groups its rows by ``b0``'s value plus each choice of ``t - 1`` later bands, checks
   pairs inside a group by XOR + popcount, keeps those whose canonical bands are exactly these
   (so no pair is reported twice, by any shard), and confirms them with the same rule as
   :func:`curation.dedup.deduplicate` (phash distance, aspect change): :func:`band_pairs`;
3. a union-find over the confirmed pairs, which are few (only duplicates), gives the clusters.

:func:`deduplicate_sharded` returns exactly :func:`curation.dedup.deduplicate`'s result for the
same input; ``near_pairs`` chooses where step 1-2 run (in this process, or an engine's cluster).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from curation.dedup import (
    DedupResult,
    UnionFind,
    brute_force_pairs,
    exact_groups,
    hex_to_u64,
    ranked_clusters,
)

#: a run of equal keys longer than this is searched blockwise (skewed hashes, e.g. blank images)
BIG_RUN = 2048
#: cost of sorting one row for one band choice, in pair checks (measured: see docs/cluster.md)
SORT_COST = 8.0
FRAME_COLUMNS = ("idx", "dhash", "phash", "aspect")


@dataclass(frozen=True)
class Banding:
    """``widths`` of the m bands (least significant first) and ``t``, the equal bands a pair must share."""

    radius: int
    widths: tuple[int, ...]
    t: int

    @classmethod
    def plan(cls, radius: int, n: int) -> Banding:
        """The ``t`` with the least expected work for ``n`` uniform hashes: more bands per key mean
        more sorts (``C(m, t)`` of them) but fewer chance collisions to check."""
        best: tuple[float, int] | None = None
        for t in range(1, 5):
            m = radius + t
            if m > 64:
                break
            bucket = n / 2.0 ** (64 * t / m)
            cost = math.comb(m, t) * (SORT_COST + bucket / 2)
            if best is None or cost < best[0]:
                best = (cost, t)
        t = best[1] if best else 1
        m = min(64, radius + t)
        base, extra = divmod(64, m)
        return cls(radius, tuple(base + 1 if i < extra else base for i in range(m)), t)

    @property
    def shifts(self) -> list[int]:
        return np.cumsum((0, *self.widths[:-1])).tolist()

    def first_bands(self) -> range:
        """Bands that can be a pair's first equal band (``t - 1`` later bands must exist)."""
        return range(len(self.widths) - self.t + 1)

    def band(self, hashes: np.ndarray, b: int) -> np.ndarray:
        return (hashes >> np.uint64(self.shifts[b])) & np.uint64((1 << self.widths[b]) - 1)


def band_frame(part: pd.DataFrame, banding: Banding) -> pd.DataFrame:
    """Map side of the shuffle: every row once per possible first band, with ``band`` and ``key``
    (the row's value of that band): the group-by key; one shuffle serves every band."""
    h = part["dhash"].to_numpy(np.uint64)
    frames = [part.assign(band=np.full(len(part), b, np.int8), key=banding.band(h, b))
              for b in banding.first_bands()]
    return pd.concat(frames, ignore_index=True)


def shard_pairs(part: pd.DataFrame, banding: Banding, phash_distance: int, max_aspect_change: float) -> pd.DataFrame:
    """Reduce side of the shuffle: :func:`band_pairs` for every band present in the shard."""
    band_of = part["band"].to_numpy(np.int8)
    found = [band_pairs(part[band_of == b], banding, int(b), phash_distance, max_aspect_change)
             for b in np.unique(band_of)]
    return pd.concat(found, ignore_index=True) if found else _no_pairs()


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame({"a": np.zeros(0, np.int64), "b": np.zeros(0, np.int64)})


def _equal_before(x: np.ndarray, banding: Banding, last: int) -> np.ndarray:
    """How many of bands 0..last are equal (zero in the XOR ``x``)."""
    count = np.zeros(len(x), np.int8)
    for k in range(last + 1):
        count += banding.band(x, k) == 0
    return count


def _close_in_runs(keys: np.ndarray, hashes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i < j) of pairs with equal ``keys`` (sorted) and hashes within ``radius``.

    Offsets walk all runs at once: step ``s`` compares every position with the one ``s`` later
    in its run, so the work is the sum of squared run lengths with no Python loop per run.
    """
    n = len(keys)
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cut = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [n]))
    sizes = ends - starts
    found_i, found_j = [], []
    for s0, e0 in zip(starts[sizes > BIG_RUN], ends[sizes > BIG_RUN]):
        pairs = brute_force_pairs(hashes[s0:e0], radius) + s0
        found_i.append(pairs[:, 0])
        found_j.append(pairs[:, 1])
    small = (sizes > 1) & (sizes <= BIG_RUN)
    sizes, ends = sizes[small], ends[small]
    end_of = np.repeat(ends, sizes - 1)
    active = np.arange(len(end_of)) + np.repeat(starts[small] - (np.cumsum(sizes - 1) - (sizes - 1)), sizes - 1)
    step = 1
    while len(active):
        close = np.bitwise_count(hashes[active] ^ hashes[active + step]) <= radius
        found_i.append(active[close])
        found_j.append(active[close] + step)
        step += 1
        keep = end_of - active > step
        active, end_of = active[keep], end_of[keep]
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_i).astype(np.int64), np.concatenate(found_j).astype(np.int64)


def _sort(key: np.ndarray, key_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Order and sorted keys. Key and position packed into one uint64 sort ~15x faster than an
    argsort (numpy's SIMD sort works on values only)."""
    pos_bits = max(1, (len(key) - 1).bit_length())
    if key_bits + pos_bits > 64:
        order = np.argsort(key, kind="stable")
        return order, key[order]
    packed = np.sort((key << np.uint64(pos_bits)) | np.arange(len(key), dtype=np.uint64))
    return (packed & np.uint64((1 << pos_bits) - 1)).astype(np.int64), packed >> np.uint64(pos_bits)


def confirm(ph_a: np.ndarray, ph_b: np.ndarray, asp_a: np.ndarray, asp_b: np.ndarray,
            phash_distance: int, max_aspect_change: float) -> np.ndarray:
    """The local path's confirmation of a dhash pair (see ``deduplicate``): phash close and, when
    aspects are known (not NaN), ratios within ``max_aspect_change``."""
    ok = np.bitwise_count(ph_a ^ ph_b) <= phash_distance
    known = ~(np.isnan(asp_a) | np.isnan(asp_b))
    ratio = np.maximum(asp_a / np.where(known, asp_b, 1.0), asp_b / np.where(known, asp_a, 1.0))
    return ok & (~known | (ratio <= max_aspect_change))


def band_pairs(part: pd.DataFrame, banding: Banding, b: int, phash_distance: int,
               max_aspect_change: float) -> pd.DataFrame:
    """Reduce side: the confirmed pairs ``(a < b)`` of ``idx`` whose first equal band is ``b``.

    ``part`` holds whole band-``b`` groups (every row with a given band-``b`` value), in any order.
    """
    h = part["dhash"].to_numpy(np.uint64)
    ph = part["phash"].to_numpy(np.uint64)
    aspect = part["aspect"].to_numpy(np.float64)
    idx = part["idx"].to_numpy(np.int64)
    out_a, out_b = [], []
    base = banding.band(h, b)
    for later in itertools.combinations(range(b + 1, len(banding.widths)), banding.t - 1):
        key = base
        for k in later:
            key = (key << np.uint64(banding.widths[k])) | banding.band(h, k)
        order, sorted_keys = _sort(key, sum(banding.widths[k] for k in (b, *later)))
        i, j = _close_in_runs(sorted_keys, h[order], banding.radius)
        i, j = order[i], order[j]
        canonical = _equal_before(h[i] ^ h[j], banding, max((b, *later))) == banding.t
        i, j = i[canonical], j[canonical]
        ok = confirm(ph[i], ph[j], aspect[i], aspect[j], phash_distance, max_aspect_change)
        a, c = idx[i[ok]], idx[j[ok]]
        out_a.append(np.minimum(a, c))
        out_b.append(np.maximum(a, c))
    a = np.concatenate(out_a) if out_a else np.zeros(0, np.int64)
    c = np.concatenate(out_b) if out_b else np.zeros(0, np.int64)
    return pd.DataFrame({"a": a.astype(np.int64), "b": c.astype(np.int64)})


NearPairs = Callable[[pd.DataFrame, Banding, int, float], np.ndarray]


def local_near_pairs(frame: pd.DataFrame, banding: Banding, phash_distance: int,
                     max_aspect_change: float) -> np.ndarray:
    """Steps 1-2 in this process: the whole frame is one shard (the reference an engine must match)."""
    return pairs_array([shard_pairs(band_frame(frame, banding), banding, phash_distance, max_aspect_change)])


def pairs_array(parts: Iterable[pd.DataFrame]) -> np.ndarray:
    """Shard outputs -> one ``(k, 2)`` array, sorted (shards never repeat a pair)."""
    frames = [p for p in parts if len(p)]
    if not frames:
        return np.zeros((0, 2), np.int64)
    pairs = pd.concat(frames, ignore_index=True)[["a", "b"]].to_numpy(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def components(pairs: np.ndarray) -> list[list[int]]:
    """Connected components (size >= 2) of the graph of ``pairs``: a union-find over the nodes that
    occur in a pair, so memory follows the number of duplicates, not of hashes."""
    if len(pairs) == 0:
        return []
    nodes, flat = np.unique(pairs.ravel(), return_inverse=True)
    uf = UnionFind(len(nodes))
    for a, b in flat.reshape(-1, 2).tolist():
        uf.union(a, b)
    return [[int(nodes[i]) for i in g] for g in uf.groups()]


def deduplicate_sharded(
    pixel_hashes: Sequence[str],
    phashes: Sequence[str],
    dhashes: Sequence[str],
    rank: Callable[[int], tuple],
    *,
    sizes: Sequence[tuple[int, int]] | None = None,
    dhash_distance: int = 6,
    phash_distance: int = 16,
    max_aspect_change: float = 1.1,
    near: bool = True,
    confirm: Callable[[int, int], bool] | None = None,
    near_pairs: NearPairs = local_near_pairs,
) -> DedupResult:
    """:func:`curation.dedup.deduplicate` with the near-pair search done by banding shards.

    Same arguments, same result (tests compare them); ``near_pairs`` runs the shards.
    """
    uf, unique = exact_groups(pixel_hashes)
    if near and len(unique) > 1:
        aspect = (np.array([sizes[i][0] / max(sizes[i][1], 1) for i in unique], np.float64) if sizes is not None
                  else np.full(len(unique), np.nan))
        frame = pd.DataFrame({"idx": np.asarray(unique, np.int64), "dhash": hex_to_u64([dhashes[i] for i in unique]),
                              "phash": hex_to_u64([phashes[i] for i in unique]), "aspect": aspect})
        banding = Banding.plan(dhash_distance, len(unique))
        pairs = near_pairs(frame, banding, phash_distance, max_aspect_change)
        # the local path's order (sorted pairs), so a confirmation sees the same clusters as there
        for a, b in sorted(map(tuple, pairs.tolist())):
            if uf.find(a) != uf.find(b) and (confirm is None or confirm(a, b)):
                uf.union(a, b)
    return ranked_clusters(uf, rank, len(pixel_hashes), len(unique))

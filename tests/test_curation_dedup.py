"""Exact and near-duplicate search: multi-index hashing must find exactly what brute force finds."""

import numpy as np
import pytest

from curation.dedup import (
    UnionFind,
    brute_force_pairs,
    deduplicate,
    hex_to_u64,
    image_hashes,
    mih_pairs,
    pairs_within,
)
from pixelforge.testing.sprites import make_sprite, render


def planted(n, n_pairs, max_dist, seed=0):
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    for _ in range(n_pairs):
        i, j = rng.integers(0, n, 2)
        bits = rng.choice(64, int(rng.integers(0, max_dist + 1)), replace=False)
        h[j] = h[i] ^ np.uint64(sum(1 << int(b) for b in bits))
    return h


def brute_reference(h, radius):
    """The slowest possible answer: every pair, Python ints."""
    vals = [int(v) for v in h]
    return [(i, j) for i in range(len(vals)) for j in range(i + 1, len(vals)) if bin(vals[i] ^ vals[j]).count("1") <= radius]


def test_brute_force_matches_a_python_reference():
    h = planted(300, 60, 10, seed=1)
    for radius in (0, 3, 8):
        assert brute_force_pairs(h, radius).tolist() == [list(p) for p in brute_reference(h, radius)]


@pytest.mark.parametrize("radius", [0, 2, 5, 8, 10, 14])
def test_multi_index_hashing_finds_every_pair_brute_force_finds(radius):
    h = planted(6000, 800, radius + 2, seed=radius)
    h[100:110] = h[5]  # a bucket with many equal hashes
    expected = brute_force_pairs(h, radius)
    assert len(expected) > 50
    assert np.array_equal(mih_pairs(h, radius), expected)
    assert np.array_equal(pairs_within(h, radius), expected)


def test_union_find_components():
    uf = UnionFind(6)
    for a, b in [(0, 3), (3, 5), (1, 2)]:
        uf.union(a, b)
    assert uf.groups() == [[0, 3, 5], [1, 2], [4]]


def test_deduplicate_exact_then_near_and_keeps_the_best_ranked():
    pix = ["a", "b", "a", "c", "d"]
    dh = ["0000000000000000", "ff00000000000000", "0000000000000000", "000000000000000f", "ffffffffffffffff"]
    ph = ["0000000000000000", "0000000000000001", "0000000000000000", "0000000000000003", "ffffffffffffffff"]
    rank = {0: 3, 1: 1, 2: 0, 3: 2, 4: 0}
    res = deduplicate(pix, ph, dh, rank=lambda i: rank[i], dhash_distance=4, phash_distance=4)
    # 0 and 2 are equal pixels; 3 is 4 bits from them; 1 is 8 bits away: too far; 4 is alone
    assert sorted(map(sorted, res.clusters)) == [[0, 2, 3], [1], [4]]
    assert [c for c in res.clusters if len(c) == 3][0][0] == 2  # best rank first
    assert res.exact_duplicates == 1 and res.near_duplicates == 1
    strict = deduplicate(pix, ph, dh, rank=lambda i: rank[i], dhash_distance=4, phash_distance=0)
    assert sorted(map(sorted, strict.clusters)) == [[0, 2], [1], [3], [4]]  # phash must agree too
    sizes = [(16, 16), (16, 16), (16, 16), (32, 16), (16, 16)]
    shaped = deduplicate(pix, ph, dh, rank=lambda i: rank[i], sizes=sizes, dhash_distance=4, phash_distance=4)
    assert sorted(map(sorted, shaped.clusters)) == [[0, 2], [1], [3], [4]]  # 2:1 is not a copy of 1:1
    off = deduplicate(pix, ph, dh, rank=lambda i: i, near=False)
    assert off.near_duplicates == 0 and off.exact_duplicates == 1


def test_hashes_of_transparent_sprites_ignore_garbage_under_alpha():
    from curation.stages.background import to_white

    sprite = make_sprite(11, (24, 24))
    a = to_white(render(sprite, background="transparent", seed=1).image).image
    b = to_white(render(sprite, background="transparent", seed=2).image).image
    assert image_hashes(a) == image_hashes(b)
    other = to_white(render(make_sprite(12, (24, 24)), background="transparent").image).image
    pa, pb = hex_to_u64([image_hashes(a)[0], image_hashes(other)[0]])
    assert bin(int(pa) ^ int(pb)).count("1") > 8


def test_hashes_are_imagehash_bit_for_bit():
    """image_hashes computes imagehash's phash and dhash itself (faster); the values must not drift."""
    import imagehash
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(7)
    images = [make_sprite(s, (int(rng.integers(8, 80)), int(rng.integers(8, 80)))).on_white() for s in range(40)]
    images += [img.filter(ImageFilter.GaussianBlur(2)) for img in images[:10]]
    images += [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in [(1, 1), (3, 50), (64, 64), (300, 200)]]
    images += [Image.new("RGB", (16, 16), (255, 255, 255)), Image.new("RGB", (9, 8), (10, 20, 30))]
    images += [images[0].convert("P"), images[1].convert("L")]  # other modes go through RGB, as before
    for img in images:
        rgb = img.convert("RGB")
        assert image_hashes(img) == (str(imagehash.phash(rgb)), str(imagehash.dhash(rgb)))

import numpy as np

from pixelforge.color import kmeans, nearest, oklab_to_srgb, srgb_to_oklab, unique_colors


def test_oklab_round_trip_and_known_values():
    rgb = np.random.default_rng(0).integers(0, 256, (1000, 3)).astype(np.uint8)
    assert np.abs(oklab_to_srgb(srgb_to_oklab(rgb)).astype(int) - rgb).max() <= 1
    white = srgb_to_oklab(np.array([255, 255, 255]))
    assert abs(white[0] - 1.0) < 1e-3 and abs(white[1]) < 1e-3 and abs(white[2]) < 1e-3
    assert abs(srgb_to_oklab(np.array([0, 0, 0]))[0]) < 1e-6


def test_kmeans_finds_planted_clusters_deterministically():
    rng = np.random.default_rng(1)
    centers = np.array([[0, 0, 0], [1, 1, 1], [0, 1, 0]], float)
    pts = np.concatenate([c + rng.normal(0, 0.01, (200, 3)) for c in centers])
    found = kmeans(pts, 3, seed=0)
    assert np.array_equal(found, kmeans(pts, 3, seed=0))
    assert np.abs(np.sort(found, axis=0) - np.sort(centers, axis=0)).max() < 0.01
    assert (np.bincount(nearest(pts, found)) == 200).all()


def test_unique_colors_inverse_rebuilds_image():
    img = np.random.default_rng(2).integers(0, 4, (5, 7, 3)).astype(np.uint8) * 60
    colors, counts, inv = unique_colors(img)
    assert counts.sum() == 35
    assert np.array_equal(colors[inv].reshape(img.shape), img)

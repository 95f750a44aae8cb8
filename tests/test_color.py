import numpy as np

from pixelforge.color import kmeans, nearest, oklab_to_srgb, srgb_to_oklab, unique_colors


def test_oklab_round_trip_and_known_values():
    rgb = np.random.default_rng(0).integers(0, 256, (1000, 3)).astype(np.uint8)
    assert np.abs(oklab_to_srgb(srgb_to_oklab(rgb)).astype(int) - rgb).max() <= 1
    white = srgb_to_oklab(np.array([255, 255, 255]))
    assert abs(white[0] - 1.0) < 1e-3 and abs(white[1]) < 1e-3 and abs(white[2]) < 1e-3
    assert abs(srgb_to_oklab(np.array([0, 0, 0]))[0]) < 1e-6
    # the float32 path (whole frames, anchoring) stays float32 both ways and agrees with float64
    lab32 = srgb_to_oklab(rgb, np.float32)
    assert lab32.dtype == np.float32 and np.abs(lab32 - srgb_to_oklab(rgb)).max() < 1e-5
    assert np.abs(oklab_to_srgb(lab32).astype(int) - rgb).max() <= 1


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


def test_din99o_distance_tracks_ciede2000_where_oklab_does_not():
    """Palette coverage is judged in DIN99o because its distances follow CIEDE2000 (skin vs grey)."""
    from skimage.color import deltaE_ciede2000, rgb2lab

    from pixelforge.color import srgb_to_cielab, srgb_to_din99o

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (3000, 3)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255)
    lab_a, lab_b = rgb2lab(a / 255), rgb2lab(b / 255)
    assert np.abs(srgb_to_cielab(a) - lab_a).max() < 0.02
    de = deltaE_ciede2000(lab_a, lab_b)
    din = np.linalg.norm(srgb_to_din99o(a) - srgb_to_din99o(b), axis=1)
    ok = np.linalg.norm(srgb_to_oklab(a) - srgb_to_oklab(b), axis=1)
    assert np.corrcoef(de, din)[0, 1] > 0.95 > 0.85 > np.corrcoef(de, ok)[0, 1]
    # a skin tone against a grey of the same lightness: OKLab calls it close, CIEDE2000 and DIN99o do not
    skin, grey = np.array([223.0, 184, 159]), np.array([209.0, 198, 194])
    assert np.linalg.norm(srgb_to_oklab(skin) - srgb_to_oklab(grey)) < 0.06
    assert np.linalg.norm(srgb_to_din99o(skin) - srgb_to_din99o(grey)) > 10
    assert abs(srgb_to_din99o(np.array([255.0, 255, 255]))[0] - 100) < 0.05

"""The verdict the quality benchmark writes into a model card (benchmarks/quality.py:card_metrics)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).parents[1] / "benchmarks"))  # after the packages: benchmarks/data_cards.py must not shadow data_cards
import quality  # noqa: E402 - benchmarks/ is a folder of scripts, not a package


def row(de: float, ssim: float, features: float) -> dict:
    return {"de2000": de, "ssim": ssim, "lines": 1.0, "features": features, "keys_over_10": 0, "keys_n": 7}


def verdict(model: dict) -> str:
    cartoon = {"classical (new)": row(1.65, 0.944, 0.91), "model": model}
    return quality.card_metrics(cartoon, {"cartoon": cartoon}, ["--checkpoint", "runs/x"])["note"]


def test_the_card_names_what_the_model_is_behind_on_and_what_it_is_not():
    note = verdict(row(1.60, 0.980, 0.63))
    assert "not yet as good as pixelforge's classical method: it is behind on small features' contrast 63% vs 91%" in note
    assert "(at least as good on ΔE2000 1.60 vs 1.65, SSIM 0.980 vs 0.944)" in note
    assert "keeps the classical method as its default" in note


def test_a_model_level_with_the_classical_method_on_every_cartoon_number_is_called_so():
    note = verdict(row(1.65, 0.950, 0.91))
    assert "at least as good as pixelforge's classical method (ΔE2000 1.65 vs 1.65" in note
    assert "behind" not in note and "default." not in note


def test_a_model_behind_by_less_than_the_rounding_says_by_how_much():
    """v72 kept 90.69% of the cartoons' small features against 90.73%: "91% vs 91%" would read as level."""
    note = verdict(row(1.55, 0.950, 0.9069))
    assert "behind on small features' contrast 90.7% vs 91.0%" in note  # one decimal more: apart
    assert "ΔE2000 1.55 vs 1.65, SSIM 0.950 vs 0.944" in note  # apart already: as before


def test_small_features_are_also_counted_per_feature_so_one_pictures_single_feature_cannot_swing_the_total():
    """Per picture, the kiss's one lip corner weighed as much as a face's thirteen features (1/14 of the 23's mean)."""
    def measured(features: float, n: int) -> dict:
        return {"de2000": 1.0, "ssim": 0.9, "lines_visible": 1, "lines_total": 1, "features": features, "features_n": n,
                "keys": [], "blended": 0.0, "lone": 0.0, "flat_noise": 0.0, "purity": 1.0, "colours": 16, "seconds": 0.1}
    results = {"kiss": {"m": measured(0.0, 1)}, "face": {"m": measured(1.0, 13)}, "sky": {"m": measured(float("nan"), 0)}}
    t = quality.summarise(results, ["m"])["m"]
    assert t["features"] == 0.5  # each picture alike
    assert abs(t["features_pooled"] - 13 / 14) < 1e-12  # each feature alike
    assert "| 50.0%, 92.9% |" in quality.table({"m": t})
    cartoon = {"classical (new)": t, "model": t}
    assert "small features' contrast 50% (93% per feature)" in str(quality.card_metrics(cartoon, {"cartoon": cartoon}, [])["metrics"])


def test_paired_differences_tell_a_steady_margin_from_one_that_rests_on_a_few_pictures():
    def pictures(model_de: list[float]) -> dict:
        return {f"p{i}": {"model": {"de2000": de, "ssim": 0.9, "features": float("nan")},
                          "classical (new)": {"de2000": 1.0, "ssim": 0.9, "features": float("nan")}}
                for i, de in enumerate(model_de)}
    steady = quality.paired_differences(pictures([0.9, 0.92, 0.88, 0.9, 0.91, 0.89] * 3), "model", "classical (new)")
    mean, lo, hi, n = steady["de2000"]
    assert n == 18 and abs(mean + 0.1) < 1e-9 and lo < mean < hi < 0
    assert "features" not in steady  # no picture has one: nothing to compare, not a 0
    assert "de2000 -0.100 [" in quality.paired_line(steady) and "over 18: better" in quality.paired_line(steady)
    # the same mean margin, all of it from one picture: the interval reaches past zero
    lucky = quality.paired_differences(pictures([1.0] * 17 + [-0.8]), "model", "classical (new)")
    assert abs(lucky["de2000"][0] + 0.1) < 1e-9 and lucky["de2000"][2] >= 0
    assert "level within the interval" in quality.paired_line({"de2000": lucky["de2000"]})


def test_the_card_also_says_where_outside_the_cartoons_the_model_is_worse():
    cartoon = {"classical (new)": row(1.65, 0.944, 0.91), "model": row(1.60, 0.950, 0.92)}
    photo = {"classical (new)": row(2.73, 0.873, 0.68), "model": {**row(3.11, 0.871, 0.69), "keys_over_10": 3, "keys_n": 13}}
    generated = {"classical (new)": row(4.08, 0.765, 1.0), "model": row(4.00, 0.770, 1.0)}  # better there: not listed
    note = quality.card_metrics(cartoon, {"cartoon": cartoon, "photo": photo, "generated": generated}, [])["note"]
    assert ("Elsewhere it is worse than the classical method: photos (ΔE2000 3.11 vs 2.73, SSIM 0.871 vs 0.873, "
            "key colours over 10 ΔE2000 3 vs 0 of 13).") in note
    assert "generated" not in note


def test_the_card_lists_the_cartoon_margins_that_are_within_the_noise_as_limitations():
    """v74 on the 23 cartoons: ahead on SSIM beyond the noise, level on ΔE2000 and features only within it."""
    cartoon = {"classical (new)": row(1.62, 0.957, 0.864), "model": row(1.54, 0.963, 0.860)}
    photo = {"classical (new)": row(2.73, 0.873, 0.68), "model": row(3.11, 0.870, 0.69)}
    paired = {"de2000": (-0.084, -0.198, 0.026, 23), "ssim": (0.006, 0.001, 0.012, 23), "features": (-0.005, -0.043, 0.034, 14)}
    limits = quality.card_metrics(cartoon, {"cartoon": cartoon, "photo": photo}, [], paired)["limitations"]
    assert limits[0] == ("On the held-out cartoons its margins over pixelforge's classical method are within the noise of "
                         "which pictures were drawn: ΔE2000 -0.08 [-0.20, +0.03] over 23 pictures; small features' contrast "
                         "-0.5 points [-4.3, +3.4] over 14 pictures (model minus the classical method per picture, 95% "
                         "bootstrap intervals).")
    assert "SSIM" not in limits[0]  # ahead beyond the noise: not a limitation
    assert limits[1].startswith("Outside the cartoons it measures worse than pixelforge's classical method: photos (ΔE2000 3.11 vs 2.73")
    worse = quality.card_metrics(cartoon, {"cartoon": cartoon}, [], {"de2000": (0.3, 0.1, 0.5, 23)})["limitations"]
    assert worse == ["On the held-out cartoons it is worse than pixelforge's classical method: ΔE2000 +0.30 [+0.10, +0.50] "
                     "over 23 pictures (model minus the classical method per picture, 95% bootstrap intervals)."]
    assert quality.card_metrics(cartoon, {"cartoon": cartoon}, [])["limitations"] == []  # no intervals, nothing claimed

"""The quality benchmark's totals and reports: per-method means, the Markdown table, the HTML page, a card's verdict.

Pure functions of ``benchmarks/quality.py``'s per-image results (dicts), kept apart so the benchmark
module holds the cases, the methods and the measuring.
"""

from __future__ import annotations

import html
import shlex
import sys
from pathlib import Path

import numpy as np


def summarise(results: dict[str, dict[str, dict]], names: list[str]) -> dict[str, dict]:
    total = {}
    for n in names:
        rows = [results[c][n] for c in results if n in results[c]]
        keys = [e for r in rows for _, e in r["keys"]]
        total[n] = {
            "de2000": float(np.mean([r["de2000"] for r in rows])),
            "ssim": float(np.nanmean([r["ssim"] for r in rows])),
            "lines": sum(r["lines_visible"] for r in rows) / max(1, sum(r["lines_total"] for r in rows)),
            # each image alike (a photo's texture has thousands of small features, a face a handful)
            "features": _nanmean([r["features"] for r in rows]),
            # each feature alike: a picture with one feature weighs a thirteenth of one with thirteen
            "features_pooled": _pooled([(r["features"], r.get("features_n", 0)) for r in rows]),
            "blended": _nanmean([r["blended"] for r in rows]),
            "lone": float(np.mean([r["lone"] for r in rows])),
            "flat_noise": _nanmean([r["flat_noise"] for r in rows]),
            "keys_max": float(max(keys)) if keys else float("nan"),
            "keys_over_10": sum(e > 10 for e in keys),
            "keys_n": len(keys),
            "purity": float(min(r["purity"] for r in rows)),
            "colours_max": int(max(r["colours"] for r in rows)),
            "seconds": float(np.mean([r["seconds"] for r in rows])),
        }
    return total


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _pooled(per_image: list[tuple[float, int]]) -> float:
    """The share over all features of per-image means ``(mean, n)``: what one picture's single feature cannot swing."""
    n = sum(k for m, k in per_image if k and np.isfinite(m))
    return float(sum(m * k for m, k in per_image if k and np.isfinite(m)) / n) if n else float("nan")


def table(total: dict[str, dict]) -> str:
    lines = [
        "| method | ΔE2000 | SSIM | thin lines kept | small features' contrast (per picture, per feature) | key colours ΔE2000 max (>10) "
        "| blended edge cells | lone cells | noise in flats | purity min | colours max | s/image |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, t in total.items():
        lines.append(
            f"| {n} | {t['de2000']:.2f} | {t['ssim']:.3f} | {t['lines']:.0%} | {t['features']:.1%}, {t['features_pooled']:.1%} "
            f"| {t['keys_max']:.1f} ({t['keys_over_10']}/{t['keys_n']}) | {t['blended']:.0%} | {t['lone']:.1%} "
            f"| {t['flat_noise']:.1%} | {t['purity']:.2f} | {t['colours_max']} | {t['seconds']:.2f} |"
        )
    return "\n".join(lines)


def write_html(out: Path, results: dict, total: dict, names: list[str], notes: list[str]) -> None:
    rows = []
    for case, per in results.items():
        for n in names:
            if n not in per:
                continue
            r = per[n]
            keys = ", ".join(f"{k} {e:.1f}" for k, e in r["keys"])
            rows.append(
                f"<tr><td>{html.escape(case)}</td><td>{html.escape(n)}</td><td>{r['de2000']:.2f}</td><td>{r['ssim']:.3f}</td>"
                f"<td>{r['lines_visible']}/{r['lines_total']}</td><td>{r['features']:.0%} of {r['features_n']}</td>"
                f"<td>{html.escape(keys)}</td><td>{r['blended']:.0%}</td><td>{r['lone']:.1%}</td><td>{r['flat_noise']:.1%}</td><td>{r['purity']:.2f}</td>"
                f"<td>{r['colours']}</td><td>{r['seconds']:.2f}</td></tr>"
            )
    tot = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{t['de2000']:.2f}</td><td>{t['ssim']:.3f}</td><td>{t['lines']:.0%}</td>"
        f"<td>{t['features']:.1%}, {t['features_pooled']:.1%}</td>"
        f"<td>{t['keys_max']:.1f} ({t['keys_over_10']}/{t['keys_n']} over 10)</td><td>{t['blended']:.0%}</td>"
        f"<td>{t['lone']:.1%}</td><td>{t['flat_noise']:.1%}</td><td>{t['purity']:.2f}</td>"
        f"<td>{t['colours_max']}</td><td>{t['seconds']:.2f}</td></tr>"
        for n, t in total.items()
    )
    page = (
        "<!doctype html><meta charset=utf-8><title>pixelate quality</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "img{image-rendering:pixelated;max-width:100%}</style><h1>pixelate quality benchmark</h1>"
        f"<p>{' '.join(html.escape(n) for n in notes)}</p><h2>Totals</h2><table><tr><th>method</th><th>ΔE2000</th>"
        "<th>SSIM</th><th>thin lines kept</th><th>small features' contrast (per picture, per feature)</th><th>key colours ΔE2000 max</th>"
        "<th>blended edge cells</th><th>lone cells</th><th>noise in flats</th><th>purity min</th><th>colours max</th>"
        f"<th>s/image</th></tr>{tot}</table><h2>Side by side</h2><img src=sheet.png alt='side-by-side sheet'>"
        "<h2>Per image</h2><table><tr><th>image</th><th>method</th><th>ΔE2000</th><th>SSIM</th><th>line cells kept</th><th>small features' contrast</th>"
        f"<th>key colours ΔE2000</th><th>blended edge cells</th><th>lone cells</th><th>noise in flats</th><th>purity</th><th>colours</th><th>s</th></tr>{''.join(rows)}</table>"
    )
    (out / "index.html").write_text(page, encoding="utf-8")


#: What :func:`paired_differences` compares: a metric and whether higher is better.
PAIRED = {"de2000": False, "ssim": True, "features": True}


def paired_differences(
    results: dict[str, dict[str, dict]], name: str, reference: str, draws: int = 4000, seed: int = 0
) -> dict[str, tuple[float, float, float, int]]:
    """Per metric of :data:`PAIRED`, ``name`` minus ``reference`` averaged over the pictures both were measured on, with
    a 95% bootstrap interval over pictures: ``(mean, low, high, pictures)``.

    A verdict of "at least as good" on a handful of pictures can rest on one cell; the interval says whether a margin
    (or a shortfall) of a tenth of a point is more than which pictures happened to be drawn.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for key in PAIRED:
        d = np.array([per[name][key] - per[reference][key] for per in results.values() if name in per and reference in per])
        d = d[np.isfinite(d)]
        if not len(d):
            continue
        means = d[rng.integers(0, len(d), (draws, len(d)))].mean(1)
        out[key] = (float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), len(d))
    return out


def paired_side(key: str, low: float, high: float) -> str:
    """Which side a 95% interval of ``name`` minus ``reference`` (:func:`paired_differences`) lies on: "better" or
    "worse" when it excludes zero, "level" when it reaches past it."""
    if (low > 0) if PAIRED[key] else (high < 0):
        return "better"
    if (high < 0) if PAIRED[key] else (low > 0):
        return "worse"
    return "level"


def paired_line(diffs: dict[str, tuple[float, float, float, int]]) -> str:
    """:func:`paired_differences` in one line: each metric's mean difference, its interval, and which side it favours."""
    parts = []
    for key, (mean, lo, hi, n) in diffs.items():
        scale, unit, fmt = (100, " pt", ".1f") if key == "features" else (1, "", ".3f")
        side = paired_side(key, lo, hi).replace("level", "level within the interval")
        parts.append(f"{key} {mean * scale:+{fmt}}{unit} [{lo * scale:+{fmt}}, {hi * scale:+{fmt}}] over {n}: {side}")
    return "; ".join(parts)


def _per_feature(t: dict) -> str:
    pooled = t.get("features_pooled", float("nan"))
    return f" ({pooled:.0%} per feature)" if np.isfinite(pooled) else ""


def _apart(a: float, b: float, digits: int, kind: str) -> tuple[str, str]:
    """``a`` and ``b`` written with ``digits`` decimals, or more until they differ (a verdict of "behind, 91% vs 91%"
    says nothing; "90.69% vs 90.73%" says by how much)."""
    for d in range(digits, digits + 4):
        x, y = f"{a:.{d}{kind}}", f"{b:.{d}{kind}}"
        if x != y:
            return x, y
    return f"{a:.{digits}{kind}}", f"{b:.{digits}{kind}}"  # equal


_GROUPS = {"photo": "photos", "generated": "generated cases"}


def _behind_elsewhere(by_kind: dict[str, dict[str, dict]], model: str) -> str:
    """Where, outside the cartoons, the model measures worse than the classical method: the card says so."""
    parts = []
    for kind, sub in by_kind.items():
        if kind == "cartoon" or model not in sub or "classical (new)" not in sub:
            continue
        m, c = sub[model], sub["classical (new)"]
        worse = ["ΔE2000 {} vs {}".format(*_apart(m["de2000"], c["de2000"], 2, "f"))] if m["de2000"] > c["de2000"] else []
        worse += ["SSIM {} vs {}".format(*_apart(m["ssim"], c["ssim"], 3, "f"))] if m["ssim"] < c["ssim"] else []
        worse += [f"key colours over 10 ΔE2000 {m['keys_over_10']} vs {c['keys_over_10']} of {m['keys_n']}"] \
            if m["keys_over_10"] > c["keys_over_10"] else []
        if worse:
            parts.append(f"{_GROUPS.get(kind, kind)} ({', '.join(worse)})")
    return "; ".join(parts)


_NAMES = {"de2000": "ΔE2000", "ssim": "SSIM", "features": "small features' contrast"}


def _cartoon_noise(paired: dict[str, tuple[float, float, float, int]]) -> list[str]:
    """The cartoon margins a card must not sell as a lead: metrics whose 95% interval (model minus the classical
    method, per picture) reaches past zero, in one line, and those wholly on the worse side, in another."""
    sides: dict[str, list[str]] = {"better": [], "level": [], "worse": []}
    for key, (mean, lo, hi, n) in paired.items():
        scale, unit, fmt = (100, " points", ".1f") if key == "features" else (1, "", ".3f" if key == "ssim" else ".2f")
        sides[paired_side(key, lo, hi)].append(
            f"{_NAMES.get(key, key)} {mean * scale:+{fmt}}{unit} [{lo * scale:+{fmt}}, {hi * scale:+{fmt}}] over {n} pictures")
    level, worse = sides["level"], sides["worse"]  # better beyond the noise is no limitation
    how = "(model minus the classical method per picture, 95% bootstrap intervals)"
    found = []
    if level:
        found.append(f"On the held-out cartoons its margins over pixelforge's classical method are within the noise of "
                     f"which pictures were drawn: {'; '.join(level)} {how}.")
    if worse:
        found.append(f"On the held-out cartoons it is worse than pixelforge's classical method: {'; '.join(worse)} {how}.")
    return found


def card_metrics(
    total: dict[str, dict], by_kind: dict[str, dict[str, dict]], argv: list[str] | None,
    paired: dict[str, tuple[float, float, float, int]] | None = None,
) -> dict:
    """The model's and the classical method's headline numbers per image group, with an honest verdict, and the
    limitations they measure (``paired``: :func:`paired_differences` on the cartoons), which the card lists."""
    model = "model" if any("model" in sub for sub in by_kind.values()) else "shipped model"
    metrics = {}
    for kind, sub in {"all": total, **by_kind}.items():
        for n in ("classical (new)", model, f"{model}, picture palette", f"{model}, lines held", f"{model}, own colours", "untrained net"):
            if n in sub:
                t = sub[n]
                metrics[f"{kind}: {n}"] = (f"ΔE2000 {t['de2000']:.2f}, SSIM {t['ssim']:.3f}, thin lines kept {t['lines']:.0%}, "
                                           f"small features' contrast {t['features']:.0%}{_per_feature(t)}, "
                                           f"key colours >10: {t['keys_over_10']}/{t['keys_n']}")
    note = ("Means over held-out images at cell 4 and 16 colours, every method measured in the same run; lower ΔE2000, "
            "higher SSIM, lines kept and small features' contrast are better. The model and the untrained net run through `pixelate`'s pipeline, "
            "which shows the generator the picture with a white margin round it (`--margin`), keeps the picture's colours above 2 cells "
            "(`--anchor-colors`) and gives a palette colour within a "
            "just-noticeable difference of one of the picture's fills that fill's exact colour (`--snap-colors`), and averages the "
            "generator's mottle out where the picture is flat (`--settle-flats`); 'own colours' is the "
            "generator's output without the first two, 'lines held' the same pipeline with the classical method's outline cells over "
            "the generator's drawing (`--hold-lines`).")
    cartoon = by_kind.get("cartoon", {})
    if model in cartoon and "classical (new)" in cartoon:
        m, c = cartoon[model], cartoon["classical (new)"]
        rows = [("ΔE2000", *_apart(m["de2000"], c["de2000"], 2, "f"), m["de2000"] <= c["de2000"]),
                ("SSIM", *_apart(m["ssim"], c["ssim"], 3, "f"), m["ssim"] >= c["ssim"]),
                ("small features' contrast", *_apart(m["features"], c["features"], 0, "%"), m["features"] >= c["features"])]
        behind = [f"{name} {mv} vs {cv}" for name, mv, cv, ok in rows if not ok]
        ahead = [f"{name} {mv} vs {cv}" for name, mv, cv, ok in rows if ok]
        if behind:
            note += (f" On cartoons the model is not yet as good as pixelforge's classical method: it is behind on "
                     f"{', '.join(behind)}" + (f" (at least as good on {', '.join(ahead)})" if ahead else "")
                     + "; `pixelate` keeps the classical method as its default.")
        else:
            note += f" On cartoons the model is at least as good as pixelforge's classical method ({', '.join(ahead)})."
    elsewhere = _behind_elsewhere(by_kind, model)
    limitations = _cartoon_noise(paired or {})
    if elsewhere:
        note += f" Elsewhere it is worse than the classical method: {elsewhere}."
        limitations.append(f"Outside the cartoons it measures worse than pixelforge's classical method: {elsewhere}.")
    command = shlex.join(["PYTHONPATH=.", "python", "benchmarks/quality.py", *(argv if argv is not None else sys.argv[1:])])
    return {"command": command, "note": note, "metrics": metrics, "limitations": limitations}

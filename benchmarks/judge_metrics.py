"""Which of the quality benchmark's numbers agree with blind judges, pair by pair.

The default rule weighs the metrics and the blind sheet, and on the cartoons they disagree: the model is ahead on
colour fidelity and the panels lean to the classical method. This asks which per-picture number would have
predicted the judges. For every pair a panel judged, it redraws both methods' outputs exactly as the page showed
them (the published page's test proves pixelate redraws them pixel for pixel), measures both with
:func:`quality.measure`, and sets the judges' net verdict (model wins minus classical wins) beside each metric's
difference, signed so that positive means "the model is better on this number". It prints Spearman's rank
correlation over the pairs and, over the pairs the judges decided (a net of at least 2 either way), how often the
number's sign agrees with theirs.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/judge_metrics.py PANEL [PANEL ...]`` where a PANEL is
``KEY.json[:keep-highlights]`` and its ballots are ``agent-votes/<key stem>-agent*.json`` beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from judge import by_pair
from quality import measure, methods
from quality_cases import Case, cartoon_cases
from scipy.stats import spearmanr

#: metric -> the sign that makes "model minus classical" mean "the model is better"
METRICS = {"de2000": -1, "ssim": +1, "lines": +1, "features": +1, "keys": -1, "blended": -1, "lone": -1, "flat_noise": -1}
LABELS = {"de2000": "ΔE2000 (lower)", "ssim": "SSIM", "lines": "thin lines kept", "features": "small features' contrast",
          "keys": "worst key colour's ΔE2000 (lower)",
          "blended": "blended edge cells (fewer)", "lone": "lone cells (fewer)", "flat_noise": "split flats (fewer)"}


@dataclass
class Judged:
    case: str
    net: int  # model wins minus classical wins over the panel's judges
    better: dict[str, float]  # metric -> (model - classical) * sign: positive = the model better on it


def judged_pairs(key_path: Path, keep_highlights: bool, cases: dict[str, Case]) -> list[Judged]:
    """Each pair of one panel's page with its judges' net verdict and each metric's signed difference."""
    key = json.loads(key_path.read_text())
    ballots = [json.loads(p.read_text()) for p in sorted((key_path.parent / "agent-votes").glob(f"{key_path.stem}-agent*.json"))
               if not p.stem.endswith("-notes")]
    if not ballots:
        raise ValueError(f"no ballots for {key_path.name} in agent-votes/")
    found, _ = methods(None, keep_highlights=keep_highlights)
    a, b = key["a"], key["b"]
    rows = []
    for pair, a_wins, b_wins, _even in by_pair(key, ballots):
        case = cases[pair["case"]]
        ma, mb = (numbers(measure(case, found[name](case.image), 0.0)) for name in (a, b))
        rows.append(Judged(pair["case"], a_wins - b_wins, {m: (ma[m] - mb[m]) * s for m, s in METRICS.items()}))
    return rows


def numbers(row: dict) -> dict[str, float]:
    """:func:`quality.measure`'s row with its counts as the shares and worst errors compared here."""
    lines = row["lines_visible"] / row["lines_total"] if row["lines_total"] else float("nan")
    keys = max((err for _, err in row["keys"]), default=float("nan"))
    return {**row, "lines": lines, "keys": keys}


def agreement(rows: list[Judged], metric: str, decided: int = 2) -> tuple[float, float, int, int]:
    """(Spearman rho, its p, pairs the number and the judges call the same way, pairs the judges decided)."""
    pairs = [(r.net, r.better[metric]) for r in rows if not math.isnan(r.better[metric])]
    rho, p = spearmanr([n for n, _ in pairs], [d for _, d in pairs]) if len(pairs) > 2 else (float("nan"), float("nan"))
    called = [(n, d) for n, d in pairs if abs(n) >= decided and abs(d) > 1e-9]
    same = sum((n > 0) == (d > 0) for n, d in called)
    return float(rho), float(p), same, len(called)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("panels", nargs="+", help="KEY.json or KEY.json:keep-highlights (the page's model options)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    cases = {c.name: c for c in cartoon_cases(12) + cartoon_cases(23, skip=12)}
    rows: list[Judged] = []
    for spec in args.panels:
        path, _, option = spec.partition(":")
        rows += judged_pairs(Path(path), option == "keep-highlights", cases)
    print(f"{len(rows)} pairs from {len(args.panels)} panel(s); net = model wins - classical wins; a number 'agrees' when "
          "it calls a pair the judges decided (|net| >= 2) the same way\n")
    print("| number (model minus classical, + = model better) | Spearman rho with the net | p | agrees on decided pairs |")
    print("|---|---:|---:|---:|")
    for metric in METRICS:
        rho, pval, same, called = agreement(rows, metric)
        print(f"| {LABELS[metric]} | {rho:+.2f} | {pval:.3f} | {same} of {called} |")
    nets = np.array([r.net for r in rows])
    print(f"\njudges: model ahead on {int((nets >= 2).sum())} pairs, classical on {int((nets <= -2).sum())}, "
          f"undecided {int((abs(nets) < 2).sum())}; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

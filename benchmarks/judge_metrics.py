"""Which of the quality benchmark's numbers agree with blind judges, pair by pair.

The default rule weighs the metrics and the blind sheet, and on the cartoons they disagree: the model is ahead on
colour fidelity and the panels lean to the classical method. This asks which per-picture number would have
predicted the judges. For every pair a panel judged, it redraws both methods' outputs as the page showed them, from the
``make`` line its key records, through the code ``make`` ran (:func:`judge.page_methods`; a page whose model weights
have changed since is refused; the published page's test proves the redraw is pixel for pixel), measures both with
:func:`quality.measure`, and sets the judges' net verdict (model wins minus classical wins) beside each metric's
difference, signed so that positive means "the model is better on this number". It prints Spearman's rank
correlation over the pairs and, over the pairs the judges decided (a net of at least 2 either way), how often the
number's sign agrees with theirs.

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/judge_metrics.py KEY.json [KEY.json ...]``; a key's ballots are
``agent-votes/<key stem>-agent*.json`` beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from judge import build_parser, by_pair, first_method, kept_checkpoint, page_methods, weights_sha256
from quality import measure
from scipy.stats import spearmanr

#: metric -> the sign that makes "model minus classical" mean "the model is better"
METRICS = {"de2000": -1, "ssim": +1, "lines": +1, "features": +1, "keys": -1, "blended": -1, "lone": -1, "flat_noise": -1,
           "foreign": -1}
LABELS = {"de2000": "ΔE2000 (lower)", "ssim": "SSIM", "lines": "thin lines kept", "features": "small features' contrast",
          "keys": "worst key colour's ΔE2000 (lower)",
          "blended": "blended edge cells (fewer)", "lone": "lone cells (fewer)", "flat_noise": "split flats (fewer)",
          "foreign": "colours the picture lacks there (fewer)"}


@dataclass
class Judged:
    case: str
    net: int  # model wins minus classical wins over the panel's judges
    better: dict[str, float]  # metric -> (model - classical) * sign: positive = the model better on it


def judged_pairs(key_path: Path) -> list[Judged]:
    """Each pair of one panel's page with its judges' net verdict and each metric's signed difference."""
    key = json.loads(key_path.read_text())
    ballots = [json.loads(p.read_text()) for p in sorted((key_path.parent / "agent-votes").glob(f"{key_path.stem}-agent*.json"))]
    if not ballots:
        raise ValueError(f"no ballots for {key_path.name} in agent-votes/")
    made = key.get("made_with", {})
    line = shlex.split(made.get("command", ""))[1:]  # "benchmarks/judge.py make ..."
    if line[:1] != ["make"]:
        raise ValueError(f"{key_path.name} records no judge.py make command to redraw its page from")
    args = build_parser().parse_args(line)
    if made.get("model_weights_sha256") != weights_sha256(args.checkpoint):
        kept = kept_checkpoint(made.get("model_weights_sha256", ""))  # a model since replaced, or a staged copy gone
        if kept is None:
            raise ValueError(f"{key_path.name}: the model's weights changed since the page was made, and no kept model "
                             "has them; its pairs cannot be redrawn")
        args.a = first_method(args)  # the name the key gave the rows, kept when they run from the kept folder
        args.checkpoint = kept
    found, _, a, shown = page_methods(args)
    if a not in found and "model" in found:  # the kept folder's rows are named "model"; the key named them as drawn
        found[a] = found.pop("model")
    if (a, args.b) != (key["a"], key["b"]):
        raise ValueError(f"{key_path.name} compares {key['a']!r} with {key['b']!r}, its command {a!r} with {args.b!r}")
    cases = {c.name: c for c in shown}
    rows = []
    for pair, a_wins, b_wins, _even in by_pair(key, ballots):
        case = cases[pair["case"]]
        ma, mb = (numbers(measure(case, found[name](case.image), 0.0)) for name in (a, args.b))
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
    p.add_argument("keys", nargs="+", type=Path, help="kept keys (benchmarks/judge_keys/*.json) with panel ballots")
    args = p.parse_args(argv)
    start = time.perf_counter()
    rows: list[Judged] = []
    for key in args.keys:
        try:
            rows += judged_pairs(key)
        except (OSError, ValueError) as exc:
            print(f"judge_metrics: error: {exc}", file=sys.stderr)
            return 2
    print(f"{len(rows)} pairs from {len(args.keys)} panel(s); net = model wins - classical wins; a number 'agrees' when "
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

"""Blind side-by-side judging: which of two methods makes the better pixel art, asked of people.

The default rule (issue 16, ``inference/shipped.py``) asks that the model be at least as good as the
classical method on the cartoons "on the sheet" as well as on the metrics. The numbers cannot answer the
first half, and a sheet read with the names beside it is not a fair test. ``make`` writes a page of pairs
instead: each held-out picture through both methods, sides shuffled (half each way), names hidden. A person
picks the better pixel art of the picture or calls it even. The page keeps the votes in the browser and
downloads them as ``votes.json``. The key (which side is which) stays in ``key.json``, which the page never
reads. ``tally`` joins key and votes and reports wins, ties and an exact two-sided sign test.

  PYTHONPATH=. python benchmarks/judge.py make --checkpoint runs/X --pixels-per-cell 2 --out benchmarks/out/judge
  # open benchmarks/out/judge/index.html, vote (buttons, or keys 1 / 2 / 3), download votes.json
  PYTHONPATH=. python benchmarks/judge.py tally benchmarks/out/judge/key.json votes.json [more votes.json ...] [--by-pair]

Judges who vote from image files (a panel given a folder, not a browser) get ``shots``: one PNG per pair as the
page shows it and a brief with the page's key id (``judge_shots.py``; it never reads the key).

Method names are the quality benchmark's (``quality.py --only``): ``model`` (the ``--checkpoint``, else
``shipped model``), ``classical (new)``, ``model, lines held``, ``model, picture palette``, ...
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from quality_cases import PIPELINE, Case, cartoon_cases, photo_cases  # benchmarks/ is on sys.path as a script

from inference.shipped import SHIPPED_DIR
from inference.views import parse_views, views_label
from pixelforge.io import atomic_write
from pixelforge.model.recorded import MODEL_INPUTS

CHOICES = ("left", "even", "right")
DISPLAY = 320  # the longer side of a shown picture, in screen pixels (whole multiples of the output only)
QUESTION = "Which is the better pixel art of this picture?"


@dataclass(frozen=True)
class Pair:
    id: str
    case: str
    group: str
    left: str  # the method shown on the left
    right: str


def make_pairs(cases: list[Case], a: str, b: str, seed: int = 0) -> list[Pair]:
    """One pair per case, in a shuffled order, ``a`` on the left in exactly half of them (rounded down):
    a side preference of the judge then cancels out instead of favouring one method."""
    rng = random.Random(seed)
    order = list(cases)
    rng.shuffle(order)
    a_left = [i < len(order) // 2 for i in range(len(order))]
    rng.shuffle(a_left)
    return [Pair(f"{i + 1:03d}", c.name, c.group, *((a, b) if left else (b, a))) for i, (c, left) in enumerate(zip(order, a_left))]


def key_id(pairs: list[Pair], a: str, b: str, shown: str = "") -> str:
    """Names a key; the page carries it so votes cannot be tallied against another page's key. ``shown`` is
    :func:`shown_digest` of the pictures the page shows: the same pairs drawn by another model are another page."""
    text = json.dumps([a, b, [(p.id, p.case, p.left) for p in pairs], shown])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def shown_digest(folder: Path, pairs: list[Pair]) -> str:
    """SHA-256 over the PNG files a page shows, in page order."""
    digest = hashlib.sha256()
    for p in pairs:
        for side in ("input", "left", "right"):
            digest.update((folder / f"{p.id}-{side}.png").read_bytes())
    return digest.hexdigest()


def weights_sha256(checkpoint: str | None) -> str:
    """The SHA-256 of the G_A file the model rows ran (the shipped weights without ``--checkpoint``), so a key
    says which model its votes judged; "" for a checkpoint that is not one of ours (a reference ``.pth``)."""
    from inference.shipped import shipped_weights
    from pixelforge.model.checkpoint import CheckpointError, find_checkpoint_dir

    try:
        path = shipped_weights() if checkpoint is None else find_checkpoint_dir(checkpoint)
    except (CheckpointError, OSError):
        return ""
    path = path / "G_A.safetensors" if path.is_dir() else path
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


#: Where the repository keeps models a kept page may have been drawn with: the shipped one and those it replaced.
KEPT_MODELS = (SHIPPED_DIR.parent, Path(__file__).parents[1] / "training" / "recipes" / "weights")


def kept_checkpoint(sha256: str) -> str | None:
    """The kept model folder whose G_A file has this SHA-256 (a key's ``model_weights_sha256``), else None: a page drawn
    by a model since replaced, or by a staged copy no longer on disk, is redrawn with the same weights."""
    for root in KEPT_MODELS:
        for folder in sorted(root.glob("*/")):
            if sha256 and weights_sha256(str(folder)) == sha256:
                return str(folder)
    return None


def views_run(found: dict, names: tuple[str, ...]) -> str:
    """The ``--views`` each model row of a page ran (classical rows and peers draw no views)."""
    pixelators = [(n, getattr(found[n], "__self__", None)) for n in names]  # model rows are bound Pixelator methods
    return " / ".join(f"{n}: {views_label(px.model.views)}" for n, px in pixelators if not getattr(px, "is_classic", True))


def _shown(img: Image.Image) -> tuple[int, int]:
    scale = max(1, DISPLAY // max(img.size))
    return img.width * scale, img.height * scale


def write_page(out: Path, pairs: list[Pair], pictures: dict[str, Image.Image], outputs: dict[str, dict[str, Image.Image]],
               a: str, b: str, question: str = QUESTION, made_with: dict[str, str] | None = None) -> str:
    """``index.html`` (no method names), the PNGs it shows under ``pairs/``, and ``key.json``; returns the key id.

    ``made_with`` goes into the key only (the command, the model's weights): what the votes judged."""
    (out / "pairs").mkdir(parents=True, exist_ok=True)
    rows = []
    for p in pairs:
        cells = []
        for side, method in (("input", None), ("left", p.left), ("right", p.right)):
            img = pictures[p.case] if method is None else outputs[p.case][method]
            img.save(out / "pairs" / f"{p.id}-{side}.png")  # PNG: never re-encode pixel art lossily
            w, h = _shown(img)
            label = "the picture" if method is None else side
            cells.append(f'<figure class="{side}"><img src="pairs/{p.id}-{side}.png" width="{w}" height="{h}" alt="{label}">'
                         f"<figcaption>{label}</figcaption></figure>")
        buttons = "".join(f'<button data-choice="{c}">{i + 1}: {c}</button>' for i, c in enumerate(CHOICES))
        rows.append(f'<section class="pair" id="p{p.id}" data-id="{p.id}"><h2>{p.id}</h2><div class="row">{"".join(cells)}</div>'
                    f'<div class="vote">{buttons}</div></section>')
    kid = key_id(pairs, a, b, shown_digest(out / "pairs", pairs))
    atomic_write(out / "index.html", PAGE.replace("{key_id}", kid).replace("{question}", html.escape(question))
                 .replace("{count}", str(len(pairs))).replace("{pairs}", "\n".join(rows)).encode())
    key = {"key_id": kid, "a": a, "b": b, "question": question, "made_with": made_with or {},
           "pairs": [p.__dict__ for p in pairs]}
    atomic_write(out / "key.json", json.dumps(key, indent=1).encode())
    return kid


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Which is the better pixel art?</title>
<style>
body { font: 15px system-ui, sans-serif; margin: 1.5em; background: #f4f4f4; color: #222; }
.pair { background: #fff; margin: 1em 0; padding: .8em 1em; border-left: 6px solid #ccc; }
.pair.done { border-left-color: #3a7; } .pair.current { outline: 2px solid #37a; }
.row { display: flex; gap: 1.2em; align-items: flex-end; flex-wrap: wrap; }
figure { margin: 0; } figcaption { text-align: center; color: #555; }
.left img, .right img { image-rendering: pixelated; background: #fff; }
button { font-size: 15px; margin-right: .5em; padding: .3em .9em; } button.chosen { background: #37a; color: #fff; }
#bar { position: sticky; top: 0; background: #f4f4f4; padding: .5em 0; z-index: 1; }
</style></head><body>
<div id="bar"><strong>{question}</strong> Pick the side, or <em>even</em>: keys 1 / 2 / 3 vote on the outlined pair.
<span id="progress"></span> <button id="download">Download votes.json</button>
When you are done, download your votes and send the file to whoever asked you to judge.</div>
{pairs}
<script>
const KEY = "pixelforge-judge-{key_id}", TOTAL = {count};
const votes = JSON.parse(localStorage.getItem(KEY) || "{}");
const pairs = [...document.querySelectorAll(".pair")];
let current = 0;
function show() {
  for (const p of pairs) {
    const v = votes[p.dataset.id];
    p.classList.toggle("done", !!v);
    for (const b of p.querySelectorAll("button")) b.classList.toggle("chosen", b.dataset.choice === v);
  }
  pairs.forEach((p, i) => p.classList.toggle("current", i === current));
  document.getElementById("progress").textContent = Object.keys(votes).length + " / " + TOTAL + " judged";
}
function vote(i, choice) {
  votes[pairs[i].dataset.id] = choice;
  localStorage.setItem(KEY, JSON.stringify(votes));
  current = Math.min(i + 1, pairs.length - 1);
  show();
  pairs[current].scrollIntoView({block: "center"});
}
pairs.forEach((p, i) => p.querySelectorAll("button").forEach(b => b.addEventListener("click", () => vote(i, b.dataset.choice))));
document.addEventListener("keydown", e => { const c = {"1": "left", "2": "even", "3": "right"}[e.key]; if (c) vote(current, c); });
document.getElementById("download").addEventListener("click", () => {
  const blob = new Blob([JSON.stringify({key_id: "{key_id}", votes: votes}, null, 1)], {type: "application/json"});
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = "votes.json";
  a.click();
});
show();
</script></body></html>
"""


# ----------------------------------------------------------------------------- tally


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test: how likely a split at least this uneven is from a coin (ties left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def _winner(pair: dict, choice: str) -> str:
    """The method a vote on ``pair`` went to ("left" or "right" is that side's method), or "even"."""
    return "even" if choice == "even" else pair[choice]


def tally(key: dict, ballots: list[dict]) -> dict[str, dict[str, int]]:
    """Wins of ``a``, of ``b`` and ties per group and in total, over every ballot (one judge's votes.json each).

    Raises ValueError for a ballot from another page, an unknown pair or an unknown choice: a wrong file
    must not quietly count."""
    pairs = {p["id"]: p for p in key["pairs"]}
    counts: dict[str, dict[str, int]] = {}
    for n, ballot in enumerate(ballots, 1):
        if ballot.get("key_id") != key["key_id"]:
            raise ValueError(f"ballot {n} was cast on another page (key {ballot.get('key_id')!r}, this key {key['key_id']!r})")
        for pid, choice in ballot.get("votes", {}).items():
            if pid not in pairs:
                raise ValueError(f"ballot {n}: no pair {pid!r} on this page")
            if choice not in CHOICES:
                raise ValueError(f"ballot {n}, pair {pid}: {choice!r} is not one of {', '.join(CHOICES)}")
            p = pairs[pid]
            won = _winner(p, choice)
            for group in (p["group"], "total"):
                row = counts.setdefault(group, {key["a"]: 0, key["b"]: 0, "even": 0})
                row[won] += 1
    return counts


def by_pair(key: dict, ballots: list[dict]) -> list[tuple[dict, int, int, int]]:
    """``(pair, wins of a, wins of b, even)`` per pair over every ballot, in page order: which pictures each
    method won or lost, to read beside the judges' notes. Ballots are checked as :func:`tally` checks them."""
    tally(key, ballots)
    rows = []
    for p in key["pairs"]:
        won = [_winner(p, b["votes"][p["id"]]) for b in ballots if p["id"] in b["votes"]]
        rows.append((p, won.count(key["a"]), won.count(key["b"]), won.count("even")))
    return rows


def report(key: dict, counts: dict[str, dict[str, int]], judges: int) -> str:
    a, b = key["a"], key["b"]
    lines = [f"{key['question']} ({judges} judge{'s' * (judges != 1)})", "",
             f"| group | {a} | {b} | even | sign test p |", "|---|---:|---:|---:|---:|"]
    for group in sorted(counts, key=lambda g: (g == "total", g)):
        row = counts[group]
        lines.append(f"| {group} | {row[a]} | {row[b]} | {row['even']} | {sign_test(row[a], row[b]):.3f} |")
    total = counts.get("total", {a: 0, b: 0, "even": 0})
    p = sign_test(total[a], total[b])
    if p >= 0.05:
        verdict = f"no clear preference (p = {p:.2f}): on these votes {a} is not worse than {b}, nor better"
    else:
        verdict = f"{a if total[a] > total[b] else b} preferred (p = {p:.3f})"
    return "\n".join([*lines, "", verdict])


def build_parser() -> argparse.ArgumentParser:
    """The command line; a key's ``made_with.command`` is a ``make`` line of it (:func:`page_methods` redraws from it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write the page of blind pairs and its key")
    m.add_argument("--checkpoint", help="a run or checkpoint folder (its rows are named 'model'); default the shipped model")
    m.add_argument("--pixels-per-cell", type=int, help="generator resolution (default: the model's own)")
    for option in PIPELINE:
        flag = "--" + option.replace("_", "-")
        m.add_argument(flag, type=float, help=f"model rows: pixelate {flag} (default: its default)")
    m.add_argument("--model-input", choices=MODEL_INPUTS, help="model rows: the generator's input (default: the model's own)")
    m.add_argument("--keep-features", action=argparse.BooleanOptionalAction,
                   help="model rows: pixelate --keep-features (default: what the model records)")
    m.add_argument("--keep-highlights", action="store_true", help="model rows: pixelate --keep-highlights")
    m.add_argument("--views", type=parse_views, metavar="{auto,1,2,4,8}", help="model rows: pixelate --views (default auto, as pixelate)")
    m.add_argument("--a", default=None, help="first method (default: 'model', or 'shipped model' without --checkpoint)")
    m.add_argument("--b", default="classical (new)", help="second method (default: the classical path)")
    m.add_argument("--cartoons", type=int, default=12, help="held-out cartoons per source (Kenney, Twemoji; default 12)")
    m.add_argument("--skip", type=int, default=0,
                   help="leave out the first SKIP held-out cartoons per source: a page of pictures no option was chosen "
                   "on (--skip 12; the corpus holds out 11 of Kenney's, so those pages are Twemoji's)")
    m.add_argument("--photos", action="store_true", help="also the 13 corpus photos")
    m.add_argument("--seed", type=int, default=0, help="shuffles the order and the sides")
    m.add_argument("--out", type=Path, default=Path("benchmarks/out/judge"))
    t = sub.add_parser("tally", help="count the votes against the key")
    t.add_argument("key", type=Path)
    t.add_argument("votes", type=Path, nargs="+", help="votes.json files, one per judge")
    t.add_argument("--by-pair", action="store_true", help="also each pair's wins and ties, with the picture it showed")
    sh = sub.add_parser("shots", help="one PNG per pair of a page, as it shows them, and a brief: for judges who "
                       "vote from files (it reads the page only, never the key)")
    sh.add_argument("page", type=Path, help="the page's folder (or its index.html)")
    sh.add_argument("--out", type=Path, required=True, help="folder for NNN.png and BRIEF.md")
    return p


def first_method(args: argparse.Namespace) -> str:
    """The name of a ``make`` line's first method: ``--a``, else the model rows' name (``model`` with a checkpoint)."""
    return args.a or ("model" if args.checkpoint else "shipped model")


def page_methods(args: argparse.Namespace) -> tuple[dict, list[str], str, list[Case]]:
    """What a ``make`` line draws: the methods by name, their notes, the first method's name and the cases.

    :func:`main` makes a page with it, and ``judge_metrics.py`` redraws a kept page's pairs from its key's command."""
    from quality import methods  # loads torch and the model: only for make

    found, notes = methods(args.checkpoint, args.pixels_per_cell, model_input=args.model_input, views=args.views,
                           keep_features=args.keep_features, keep_highlights=args.keep_highlights,
                           **{k: getattr(args, k) for k in PIPELINE})
    a = first_method(args)
    cases = cartoon_cases(args.cartoons, skip=args.skip) + (photo_cases(quick=False) if args.photos else [])
    return found, notes, a, cases


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "shots":
        from judge_shots import shots

        try:
            written = shots(args.page, args.out)
        except (OSError, ValueError) as exc:
            print(f"judge: error: {exc}", file=sys.stderr)
            return 2
        print(f"judge: {len(written)} pairs as PNGs in {args.out}, with BRIEF.md for the judges")
        return 0
    if args.command == "tally":
        key = json.loads(args.key.read_text())
        ballots = [json.loads(v.read_text()) for v in args.votes]
        try:
            counts = tally(key, ballots)
        except ValueError as exc:
            print(f"judge: error: {exc}", file=sys.stderr)
            return 2
        print(report(key, counts, len(args.votes)))
        if args.by_pair:
            print(f"\n| pair | picture | {key['a']} | {key['b']} | even |\n|---|---|---:|---:|---:|")
            for pair, a_wins, b_wins, even in by_pair(key, ballots):
                print(f"| {pair['id']} | {pair['case']} | {a_wins} | {b_wins} | {even} |")
        return 0
    found, notes, a, cases = page_methods(args)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    missing = [n for n in (a, args.b) if n not in found]
    if missing:
        print(f"judge: error: no method {', '.join(map(repr, missing))}; one of: {', '.join(map(repr, found))}", file=sys.stderr)
        return 2
    pictures = {c.name: c.image for c in cases}
    outputs = {c.name: {a: found[a](c.image), args.b: found[args.b](c.image)} for c in cases}
    pairs = make_pairs(cases, a, args.b, args.seed)
    write_page(args.out, pairs, pictures, outputs, a, args.b, made_with={
        "command": "benchmarks/judge.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model_weights_sha256": weights_sha256(args.checkpoint),
        "model_views": views_run(found, (a, args.b))})
    print(f"judge: {len(pairs)} pairs in {args.out / 'index.html'}; the key is {args.out / 'key.json'} (do not open it before "
          "voting); then: PYTHONPATH=. python benchmarks/judge.py tally KEY votes.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

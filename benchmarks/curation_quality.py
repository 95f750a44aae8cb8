"""Curation quality on real, licensed art: the labelled set in ``benchmarks/curation_truth/``.

    PYTHONPATH=. .venv/bin/python benchmarks/curation_quality.py [--workers 1] [--store] [--json out.json]

1. Builds a raw store from ``truth.jsonl`` (corpus files exactly as stored, plus copies made from
   them on the fly: nearest-neighbour upscales, JPEG, key colours, white figures, smooth upscales of
   cartoons), runs ``curate run`` with the default config (domain B), and scores every target of
   issue 15 against the labels, per category and in total.
2. ``--store``: curates the whole ``pixel-art`` corpus store (1264 files) and reports megapixels
   and files per CPU-second and whether every Universal LPC sheet is cut into its frames.

The corpus lives in ``../shared/corpus`` (override with ``PIXELFORGE_CORPUS``); see its README
for the licences. Nothing here downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation.config import load_config  # noqa: E402
from curation.pipeline import run  # noqa: E402
from pixelforge.imaging import composite_on_white  # noqa: E402

TRUTH = ROOT / "benchmarks" / "curation_truth" / "truth.jsonl"
CORPUS = Path(__import__("os").environ.get("PIXELFORGE_CORPUS", ROOT.parent / "shared" / "corpus"))
FIXTURES = ROOT / "tests" / "fixtures" / "art" / "pixel"
#: rejections that are fine for a cut frame (an empty or tiny frame of a sheet), never for a whole file
FRAME_OK = {"near-blank", "too-small", "extreme-aspect", "invisible-on-white"}


# --------------------------------------------------------------------------- building the store


def source_image(src: dict[str, str]) -> tuple[Image.Image, bytes]:
    path = FIXTURES / src["path"] if src["store"] == "fixtures" else CORPUS / src["store"] / src["path"]
    data = path.read_bytes()
    return Image.open(io.BytesIO(data)), data


def apply_ops(img: Image.Image, ops: list[list[Any]]) -> tuple[bytes, str]:
    """The copy a truth row describes, encoded (PNG unless the last op is ``jpeg``)."""
    im = img.convert("RGBA")
    for op in ops:
        name = op[0]
        if name == "upscale":
            im = im.resize((im.width * op[1], im.height * op[1]), Image.Resampling.NEAREST)
        elif name == "bicubic":
            im = im.resize((im.width * op[1], im.height * op[1]), Image.Resampling.BICUBIC)
        elif name == "trim":
            im = im.crop(im.getbbox() or (0, 0, im.width, im.height))
        elif name == "on":
            base = Image.new("RGBA", im.size, (*op[1], 255))
            base.alpha_composite(im)
            im = base.convert("RGB")
        elif name == "whiten":  # every visible pixel very light: the figure vanishes on white
            arr = np.asarray(im).copy()
            arr[..., :3] = 255 - (255 - arr[..., :3].astype(np.int32)) // 10
            im = Image.fromarray(arr, "RGBA")
        elif name == "jpeg":
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=op[1])
            return buf.getvalue(), "image/jpeg"
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue(), "image/png"


def build_store(truth: list[dict[str, Any]], root: Path) -> dict[str, str]:
    """Write a raw store for the truth rows; returns raw sha256 -> truth id."""
    files = root / "files"
    by_sha: dict[str, str] = {}
    lines = []
    for t in truth:
        img, data = source_image(t["source"])
        ctype = "image/png"
        if t["ops"]:
            data, ctype = apply_ops(img, t["ops"])
        sha = hashlib.sha256(data).hexdigest()
        if sha in by_sha:
            raise SystemExit(f"truth rows {by_sha[sha]} and {t['id']} are the same bytes")
        by_sha[sha] = t["id"]
        ext = "jpg" if ctype == "image/jpeg" else "png"
        rel = f"files/{sha[:2]}/{sha}.{ext}"
        (files / sha[:2]).mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        lic = "CC0-1.0" if t["source"]["store"] != "fixtures" else "ansimuz public licence"
        lines.append({"sha256": sha, "path": rel, "bytes": len(data), "content_type": ctype,
                      "url": f"truth:{t['id']}", "source": "truth", "title": t["id"], "license": lic, "tags": []})
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return by_sha


# --------------------------------------------------------------------------- scoring


def _box(member: str) -> tuple[int, int, int, int] | None:
    part = next((p for p in member.split("#") if p.startswith("box:")), None)
    return None if part is None else tuple(int(v) for v in part[4:].split(","))  # type: ignore[return-value]


def _rows(out: Path) -> dict[tuple[str, str], bytes]:
    rows: dict[tuple[str, str], bytes] = {}
    for shard in sorted((out / "data").glob("*.parquet")):
        table = pq.read_table(shard, columns=["sha256", "member", "native"]).to_pylist()
        for r in table:
            rows[(r["sha256"], r["member"])] = r["native"]["bytes"]
    return rows


def score(truth: list[dict[str, Any]], by_sha: dict[str, str], out: Path) -> dict[str, Any]:
    report = json.loads((out / "curation_report.json").read_text())
    t_of = {t["id"]: t for t in truth}
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for it in report["items"]:
        items[by_sha[it["sha256"]]].append(it)
    rejected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in report["rejected"]:
        rejected[by_sha.get(r["sha256"], "?")].append(r)
    heads = {it["cluster"]: it for it in report["items"] if it["kept"]}
    rows = _rows(out)
    m: dict[str, Any] = {}
    failures: dict[str, list[str]] = defaultdict(list)

    # 1. native pixel art kept (or merged into a kept twin)
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in truth:
        if t["category"] != "native":
            continue
        hard = [r for r in rejected[t["id"]] if not (_box(r["member"]) and r["reason"] in FRAME_OK)]
        ok = bool(items[t["id"]]) and not hard
        per[t["content"]][0] += ok
        per[t["content"]][1] += 1
        if not ok:
            failures["native"].append(f"{t['id']}: " + (", ".join(sorted({r['reason'] for r in hard})) or "no item"))
    m["native_kept"] = {k: v for k, v in sorted(per.items())}
    m["native_kept"]["total"] = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]

    # 2. copies merged into their native, the lossless native kept
    per = defaultdict(lambda: [0, 0])
    for t in truth:
        if t["category"] not in ("copy", "key-copy"):
            continue
        kind = t["category"] if t["category"] == "key-copy" else ("jpeg" if t["ops"][-1][0] == "jpeg" else "upscale")
        mine = items[t["id"]]
        ok = bool(mine) and all(not it["kept"] and by_sha[heads[it["cluster"]]["sha256"]] == t["twin_of"] for it in mine)
        per[kind][0] += ok
        per[kind][1] += 1
        if not ok:
            why = ", ".join(r["reason"] for r in rejected[t["id"]]) or (
                "kept separately" if any(it["kept"] for it in mine) else "merged elsewhere")
            failures["copies"].append(f"{t['id']}: {why}")
    m["copies_merged"] = {k: v for k, v in sorted(per.items())}
    m["copies_merged"]["total"] = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]

    # 3. cartoons and photos kept in domain B
    per = defaultdict(lambda: [0, 0])
    for t in truth:
        if t["category"] not in ("cartoon", "photo"):
            continue
        kind = t["category"] + ("-smooth-upscale" if t["ops"] else "")
        kept = bool(items[t["id"]])
        per[kind][0] += kept
        per[kind][1] += 1
        if kept:
            failures["pictures"].append(t["id"])
    m["pictures_kept"] = {k: v for k, v in sorted(per.items())}
    m["pictures_kept"]["total"] = [sum(v[0] for v in per.values()), sum(v[1] for v in per.values())]

    # 4. distinct frames or recolours merged (pixel-identical members are the same artwork)
    def artwork(it: dict[str, Any]) -> tuple[str, str]:
        t = t_of[by_sha[it["sha256"]]]
        if t["twin_of"]:
            return t["twin_of"], "*"
        box = _box(it["member"])
        return t["id"], "" if box is None else ",".join(map(str, box))

    def trimmed(it: dict[str, Any]) -> np.ndarray | None:
        """The item's art as cut from its lossless source, white margins trimmed (None for copies)."""
        t = t_of[by_sha[it["sha256"]]]
        if t["ops"]:
            return None
        src = np.asarray(composite_on_white(source_image(t["source"])[0]))
        x, y, w, h = _box(it["member"]) or (0, 0, src.shape[1], src.shape[0])
        art = src[y:y + h, x:x + w]
        ink = (art != 255).any(-1)
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        return art[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if len(rows) else art

    wrong = Counter()
    for it in report["items"]:
        if it["kept"]:
            continue
        head = heads[it["cluster"]]
        a, b = artwork(it), artwork(head)
        same = a[0] == b[0] and (a[1] == b[1] or "*" in (a[1], b[1]))
        if same or it["pixel_sha256"] == head["pixel_sha256"]:
            continue
        ta_art, tb_art = trimmed(it), trimmed(head)
        if ta_art is not None and tb_art is not None and ta_art.shape == tb_art.shape and np.array_equal(ta_art, tb_art):
            continue  # the same drawing placed elsewhere in its cell: the same artwork
        ta, tb = t_of[a[0]], t_of[b[0]]
        kind = ("recolour" if ta["group"] and ta["group"] == tb["group"] and ta["group"].startswith("recolour")
                else "frame" if a[0] == b[0] or (ta["group"] and ta["group"] == tb["group"]) else "other")
        wrong[kind] += 1
        failures["wrong_merges"].append(f"{kind}: {a[0]}[{a[1]}] into {b[0]}[{b[1]}]")
    m["wrong_merges"] = dict(wrong) | {"total": sum(wrong.values())}

    # 5. kept scenes with any pixel changed by the background step
    changed = checked = 0
    for t in truth:
        if t["category"] != "native" or t["background"] != "scene":
            continue
        src = np.asarray(composite_on_white(source_image(t["source"])[0]))
        for it in items[t["id"]]:
            if not it["kept"]:
                continue
            got = np.asarray(Image.open(io.BytesIO(rows[(it["sha256"], it["member"])])).convert("RGB"))
            box = _box(it["member"]) or (0, 0, src.shape[1], src.shape[0])
            want = src[box[1]:box[1] + box[3], box[0]:box[0] + box[2]]
            checked += 1
            if got.shape != want.shape or not np.array_equal(got, want):
                changed += 1
                diff = "size" if got.shape != want.shape else f"{(got != want).any(-1).mean():.1%} of pixels"
                failures["scenes_changed"].append(f"{t['id']} {it['member']}: {diff}")
    m["scenes_changed"] = [changed, checked]

    # 6. key-colour sprites with a non-white background left (kept rows only; merged ones show their twin)
    left = checked = 0
    for t in truth:
        if t["category"] != "key-copy":
            continue
        for it in items[t["id"]]:
            if not it["kept"]:
                continue
            got = np.asarray(Image.open(io.BytesIO(rows[(it["sha256"], it["member"])])).convert("RGB")).astype(int)
            checked += 1
            if (np.abs(got - np.array(t["key"])).max(-1) <= 24).any():
                left += 1
                failures["key_left"].append(t["id"])
    m["key_colour_left"] = [left, checked]

    # 7. native size exact (whole image before sheet cutting, copies included)
    ok = total = 0
    for t in truth:
        if t["category"] not in ("native", "copy", "key-copy") or not items[t["id"]]:
            continue
        sizes = {tuple(it["frame_size"]) for it in items[t["id"]]}
        total += 1
        if sizes == {tuple(t["native_size"])}:
            ok += 1
        else:
            failures["native_size"].append(f"{t['id']}: {sorted(sizes)} != {t['native_size']}")
    m["native_size_exact"] = [ok, total]

    # 8. sheets cut into frames (LPC: 64 px frames), and white figures rejected
    cut = lpc = 0
    for t in truth:
        if t["id"].startswith("lpc:"):
            lpc += 1
            boxes = [_box(it["member"]) for it in items[t["id"]]]
            if len(boxes) >= 2 and all(b is not None and b[2:] == (64, 64) for b in boxes):
                cut += 1
            else:
                failures["lpc_not_cut"].append(f"{t['id']}: {len(boxes)} rows")
    m["lpc_sheets_cut"] = [cut, lpc]
    inv = [t for t in truth if t["category"] == "invisible"]
    kept_inv = [t["id"] for t in inv if items[t["id"]]]
    failures["invisible_kept"] = kept_inv
    m["invisible_kept"] = [len(kept_inv), len(inv)]
    m["rejection_reasons"] = report["rejection_reasons"]
    return {"metrics": m, "failures": {k: v for k, v in failures.items() if v}}


def pct(pair: list[int]) -> str:
    return f"{pair[0]}/{pair[1]} ({100.0 * pair[0] / pair[1]:.1f}%)" if pair[1] else "-"


def table(m: dict[str, Any]) -> str:
    lines = ["| measure | category | result | target |", "|---|---|---|---|"]
    targets = {"native_kept": ">= 97%", "copies_merged": ">= 95%", "pictures_kept": "<= 3%"}
    for key, label in (("native_kept", "native pixel art kept or merged into a kept twin"),
                       ("copies_merged", "upscaled/JPEG/key-colour copies merged into their native"),
                       ("pictures_kept", "cartoons and photos kept in domain B")):
        for cat, pair in m[key].items():
            lines.append(f"| {label} | {cat} | {pct(pair)} | {targets[key] if cat == 'total' else ''} |")
    lines.append(f"| distinct frames or recolours merged | {', '.join(f'{k} {v}' for k, v in m['wrong_merges'].items())}"
                 " | " + str(m["wrong_merges"]["total"]) + " | 0 |")
    lines.append(f"| kept scenes changed by the background step | scene, tile | {pct(m['scenes_changed'])} | 0 |")
    lines.append(f"| key-colour sprites kept with the key colour left | key-copy | {pct(m['key_colour_left'])} | 0 |")
    lines.append(f"| native size exact | native + copies | {pct(m['native_size_exact'])} | >= 99% |")
    lines.append(f"| LPC sheets cut into 64 px frames | lpc | {pct(m['lpc_sheets_cut'])} | all |")
    lines.append(f"| white figures kept (invisible on white) | invisible | {pct(m['invisible_kept'])} | 0 |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--store", action="store_true", help="also curate the whole pixel-art store (throughput)")
    parser.add_argument("--keep", type=Path, help="keep the raw store and dataset here instead of a temp folder")
    parser.add_argument("--json", type=Path, help="write the metrics and failures here")
    parser.add_argument("--failures", action="store_true", help="print every failing case")
    parser.add_argument("--store-only", action="store_true", help="only the pixel-art store throughput (implies --store)")
    parser.add_argument("--floor", action="store_true",
                        help="only the floor: what decoding, cutting, hashing and PNG-encoding the store's items costs")
    args = parser.parse_args(argv)
    from curation_store import store_floor, store_throughput  # benchmarks/ is on sys.path as a script

    if args.floor:
        print("pixel-art store floor:", json.dumps(store_floor()))
        return 0
    if args.store_only:
        print("pixel-art store:", json.dumps(store_throughput(args.workers)))
        return 0
    truth = [json.loads(line) for line in TRUTH.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        raw, out = base / "raw", base / "out"
        raw.mkdir(parents=True, exist_ok=True)
        by_sha = build_store(truth, raw)
        t0 = time.perf_counter()
        run(raw, out, load_config(overrides=[f"workers={args.workers}"]), progress=False)
        seconds = time.perf_counter() - t0
        result = score(truth, by_sha, out)
    result["seconds"] = round(seconds, 1)
    print(f"labelled set: {len(truth)} files, curated in {seconds:.1f} s ({args.workers} worker(s))\n")
    print(table(result["metrics"]))
    print("\nrejections:", ", ".join(f"{k} x{v}" for k, v in result["metrics"]["rejection_reasons"].items()))
    if args.failures:
        for key, cases in result["failures"].items():
            print(f"\n{key} ({len(cases)}):")
            for c in cases:
                print("  ", c)
    if args.store:
        result["store"] = store_throughput(args.workers)
        print("\npixel-art store:", json.dumps(result["store"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

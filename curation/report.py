"""`curation_report.json` (the contract the data cards read), the end-of-run summary table, and an
HTML page showing the duplicate clusters and the rejections, where looking beats reading."""

from __future__ import annotations

import base64
import html
import importlib.metadata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curation.config import CurateConfig
from pixelforge.dataset import colors_bucket
from pixelforge.io import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from curation.inputs import Entry, Inputs

STAGE_ORDER = ("input", "expand", "decode", "native", "sheets", "background", "filters", "dedup", "canvas", "split")
HTML_FILE = "curation_report.html"


def pixelforge_version() -> str:
    try:
        return importlib.metadata.version("pixelforge")
    except importlib.metadata.PackageNotFoundError:  # running from a checkout without install
        return "0.0.0+unknown"


def _sources(inputs: Inputs) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for raw in inputs.files:
        for rec in raw.records:
            src = str(rec.get("source") or "unknown")
            s = out.setdefault(src, {"files": 0, "first_fetched": None, "last_fetched": None})
            s["files"] += 1
            fetched = rec.get("fetched_at")
            if fetched:
                s["first_fetched"] = min(filter(None, [s["first_fetched"], fetched]))
                s["last_fetched"] = max(filter(None, [s["last_fetched"], fetched]))
    return dict(sorted(out.items()))


def build_report(
    *,
    input_dir: Path,
    input_kind: str,
    config: CurateConfig,
    inputs: Inputs,
    entries: list[Entry],
    clusters: list[list[int]],
    rejected: list[dict[str, Any]],
    stages: dict[str, dict[str, int]],
    duplicates_exact: int,
    duplicates_near: int,
    n_train: int,
    n_test: int,
) -> dict[str, Any]:
    """The report as a plain dict, in the documented shape (plus a few extra keys)."""
    kept = [entries[c[0]].item for c in clusters]
    stages = dict(stages)
    stages["canvas"] = {"in": len(kept), "out": len(kept), "rejected": 0}  # rendered per image, kept ones used
    ordered = {s: stages[s] for s in STAGE_ORDER if s in stages}
    ordered.update({s: v for s, v in stages.items() if s not in ordered})
    scale_hist = Counter(f"{round(it.pixel_scale, 2):g}" for it in kept)
    color_hist = Counter(colors_bucket(it.n_colors) for it in kept)
    extra = []
    for raw in inputs.files:
        for rec in raw.records[1:]:
            extra.append({"sha256": raw.sha256, **{k: rec.get(k) for k in ("source", "url", "page_url", "author",
                                                                               "license", "license_url", "fetched_at")}})
    decoded = stages.get("decode", {}).get("out", 0)
    return {
        "pixelforge_version": pixelforge_version(),
        "input": str(input_dir),
        "input_kind": input_kind,
        "domain": config.domain,
        "config": config.to_dict(),
        "counts": {
            "inputs": len(inputs.files) + sum(1 for r in rejected if r["stage"] == "input"),
            "records": inputs.n_records,
            "expanded": stages.get("expand", {}).get("out", 0),
            "decoded": decoded,
            "rejected": len(rejected),
            "duplicates_exact": duplicates_exact,
            "duplicates_near": duplicates_near,
            "kept": len(kept),
            "train": n_train,
            "test": n_test,
        },
        "stages": ordered,
        "rejected": rejected,
        "rejection_reasons": dict(sorted(Counter(f"{r['stage']}/{r['reason']}" for r in rejected).items())),
        "clusters": [
            {
                "kept": entries[c[0]].item.pixel_sha256,
                "size": len(c),
                "members": [entries[i].item.pixel_sha256 for i in c],
                "inputs": [{"sha256": entries[i].sha256, "member": entries[i].item.member,
                            "url": entries[i].record.get("url")} for i in c],
            }
            for c in clusters
            if len(c) > 1
        ],
        # every item that passed the per-image stages, in its cluster (kept = the row that represents it)
        "items": [
            {"sha256": entries[i].sha256, "member": entries[i].item.member, "pixel_sha256": entries[i].item.pixel_sha256,
             "native_size": [entries[i].item.native_width, entries[i].item.native_height],
             "frame_size": [entries[i].item.frame_width, entries[i].item.frame_height],
             "background": entries[i].item.background, "cluster": ci, "kept": rank == 0}
            for ci, c in enumerate(clusters)
            for rank, i in enumerate(c)
        ],
        "extra_provenance": extra,
        "sources": _sources(inputs),
        "native": {
            "scale_histogram": dict(sorted(scale_hist.items(), key=lambda kv: float(kv[0]))),
            "n_colors_histogram": {k: color_hist.get(k, 0) for k in ("<=4", "5-16", "17-64", ">64")},
        },
    }


def format_summary(report: dict[str, Any]) -> str:
    """The table printed at the end of a run."""
    lines = [f"{'stage':<12}{'in':>9}{'out':>9}{'rejected':>10}"]
    for name, c in report["stages"].items():
        lines.append(f"{name:<12}{c['in']:>9}{c['out']:>9}{c['rejected']:>10}")
    counts = report["counts"]
    lines.append("")
    lines.append(
        f"kept {counts['kept']} (train {counts['train']}, test {counts['test']}); "
        f"duplicates: {counts['duplicates_exact']} exact, {counts['duplicates_near']} near; "
        f"rejected {counts['rejected']}"
    )
    reasons = report.get("rejection_reasons", {})
    if reasons:
        top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:8]
        lines.append("rejections: " + ", ".join(f"{k} x{v}" for k, v in top))
    timing = report.get("timing")
    if timing:
        lines.append(
            f"{timing['processed_files']} file(s) processed, {timing['cached_files']} from cache, "
            f"{timing['seconds']:.1f} s with {timing['workers']} worker(s)"
        )
    return "\n".join(lines)


def _img(png: bytes, title: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img src="data:image/png;base64,{data}" title="{html.escape(title)}">'


def write_html_report(
    folder: Path,
    report: dict[str, Any],
    entries: list[Entry],
    clusters: list[list[int]],
    image: Callable[[str], tuple[bytes, bytes]],
    max_clusters: int = 200,
) -> Path:
    """A self-contained page: stage table, duplicate clusters as thumbnails, rejections by reason."""
    rows = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{c['in']}</td><td>{c['out']}</td><td>{c['rejected']}</td></tr>"
        for s, c in report["stages"].items()
    )
    dup = [c for c in clusters if len(c) > 1][:max_clusters]
    cluster_html = []
    for c in dup:
        thumbs = []
        for k, i in enumerate(c):
            e = entries[i]
            native, _ = image(e.item.pixel_sha256)
            label = f"{'KEPT ' if k == 0 else ''}{e.record.get('url') or e.sha256} {e.item.member}"
            thumbs.append(_img(native, label))
        cluster_html.append(f"<div class='cluster'>{''.join(thumbs)}</div>")
    rej_rows = "".join(
        f"<tr><td>{html.escape(r['stage'])}</td><td>{html.escape(r['reason'])}</td><td>{html.escape(str(r['input']))}</td>"
        f"<td>{html.escape(r['member'])}</td><td>{html.escape(r['detail'][:200])}</td></tr>"
        for r in report["rejected"][:2000]
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>curation report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px}}
.cluster{{border:1px solid #ccc;margin:4px;padding:4px;display:inline-block}} .cluster img{{image-rendering:pixelated;
height:64px;margin:2px;background:#fff}} .cluster img:first-child{{outline:3px solid #2a2}}</style></head><body>
<h1>Curation report</h1><p>input {html.escape(report['input'])} ({report['input_kind']}), domain {report['domain']}</p>
<h2>Stages</h2><table><tr><th>stage</th><th>in</th><th>out</th><th>rejected</th></tr>{rows}</table>
<h2>Duplicate clusters ({len(report['clusters'])}, kept member outlined green)</h2>{''.join(cluster_html)}
<h2>Rejected ({len(report['rejected'])})</h2>
<table><tr><th>stage</th><th>reason</th><th>input</th><th>member</th><th>detail</th></tr>{rej_rows}</table>
</body></html>
"""
    path = folder / HTML_FILE
    atomic_write(path, page)
    return path

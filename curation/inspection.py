"""`curate inspect`: every per-image decision about one file, for debugging and for tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from curation.config import CurateConfig
from curation.errors import CurateError
from curation.inputs import ReadRefused, read_regular
from curation.process import process_bytes
from curation.stages.background import load_rembg_session
from pixelforge.dataset import NON_WHITE_BACKGROUNDS


def inspect_file(path: Path, config: CurateConfig | None = None) -> dict[str, Any]:
    """Run the per-image stages with tracing; dedup and split need the whole set, so they are not shown."""
    config = (config or CurateConfig()).validate()
    try:
        data = read_regular(path, config.expand.max_file_bytes)
    except ReadRefused as exc:
        raise CurateError(f"{path}: {exc.reason}: {exc.detail}") from None
    session = load_rembg_session(config.background) if config.background.uses_rembg() else None
    result = process_bytes(data, config, session, trace=True)
    first = next((fr for fr in result.trace if fr["decode"]["ok"]), result.trace[0] if result.trace else {})
    step = (first.get("items") or [{}])[0]
    return {
        # the first decoded frame's decisions, at the top level for quick reading ...
        "decode": first.get("decode"),
        "native": first.get("native"),
        "pixel_art": first.get("pixel_art"),
        "background": step.get("background"),
        "hashes": step.get("hashes"),
        "filters": step.get("filters"),
        "canvas": step.get("canvas"),
        "verdict": step.get("verdict") or ({"kept": False, "stage": "decode", "reason": first["decode"]["reason"]}
                                           if first and not first["decode"]["ok"] else None),
        # ... and everything, for every member, frame and sprite box
        "file": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "domain": config.domain,
        "frames": result.trace,
        "rejected": [r.__dict__ for r in result.rejected],
        "kept": len(result.items),
        "stages": result.stages,
    }


def format_inspection(info: dict[str, Any]) -> str:
    """A readable version of :func:`inspect_file`'s dict."""
    out = [f"{info['file']}  sha256 {info['sha256'][:16]}…  {info['bytes']} bytes  domain {info['domain']}"]
    for fr in info["frames"]:
        name = fr.get("member") or "(whole file)"
        dec = fr["decode"]
        if not dec["ok"]:
            out.append(f"- {name}: decode failed: {dec['reason']} ({dec['detail']})")
            continue
        out.append(f"- {name}: {dec['format']} {dec['mode']} {dec['size'][0]}x{dec['size'][1]}, frame {dec['frame']}/{dec['n_frames']}")
        nat = fr.get("native")
        if nat:
            out.append(f"    native: scale {nat['scale']} phase {nat['phase']} -> {nat['native_size'][0]}x{nat['native_size'][1]}"
                       f" (confidence {nat['confidence']:.2f}{', flagged' if nat['flagged'] else ''})")
            out.append(f"      grid: {_grid_why(nat)}")
        pa = fr.get("pixel_art")
        if pa:
            comps = ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in pa["components"].items())
            verdict = "pixel art" if pa["score"] >= pa["threshold"] else "not pixel art"
            out.append(f"    pixel-art score {pa['score']:.2f} (threshold {pa['threshold']}: {verdict}) {comps}")
            if pa.get("explanation"):
                out.append(f"      why: {pa['explanation']}")
        sheets = fr.get("sheets")
        if sheets:
            n = len(sheets["boxes"])
            out.append(f"    sheet: {f'cut into {n} frames' if n else 'not cut'} ({sheets['how']})")
        if "error" in fr:
            out.append(f"    error: {fr['error']}")
        for step in fr.get("items", []):
            bg = step["background"]
            out.append(f"    [{step['member'] or 'whole'}] background: {bg['kind']} (filled {bg['filled_pixels']} px)"
                       f"{_background_note(bg['kind'], step['verdict'])}")
            if bg.get("reason"):
                out.append(f"      why: {bg['reason']}")
            if bg.get("visible_edge", 1.0) < 1.0:
                out.append(f"      visible on white: {bg['visible_edge']:.0%} of the figure's outline")
            h = step["hashes"]
            out.append(f"      phash {h['phash']} dhash {h['dhash']} pixels {h['pixel_sha256'][:16]}…")
            for v in step["filters"]:
                out.append(f"      {'ok  ' if v['passed'] else 'FAIL'} {v['name']}: {v['value']} (limit {v['limit']})")
            if "canvas" in step:
                c = step["canvas"]
                out.append(f"      canvas {c['size'][0]}x{c['size'][1]} at scale {c['scale']}")
            verdict = step["verdict"]
            out.append("      -> kept" if verdict["kept"] else f"      -> rejected: {verdict['reason']}")
    for r in info["rejected"]:
        if r["stage"] == "expand":
            out.append(f"- {r['member'] or '(archive)'}: {r['reason']} ({r['detail']})")
    return "\n".join(out)


def _grid_why(nat: dict[str, Any]) -> str:
    """One line on the native-size decision: the grid used, or why none was."""
    if nat.get("rejected_grid"):
        return f"a grid was found but not used: {nat['rejected_grid']}"
    if not nat.get("upscaled"):
        return ("no grid explains the edges: taken as native (one pixel per art pixel)"
                + ("; a weak grid was seen (flagged)" if nat.get("flagged") else ""))
    colours = ""
    if nat.get("n_colors_before") is not None and nat.get("n_colors_after") is not None:
        colours = f"; lossy colours cleaned up at native size: {nat['n_colors_before']} -> {nat['n_colors_after']}"
    return f"nearest-neighbour upscale, one pixel per {nat['scale'][0]:g}x{nat['scale'][1]:g} cell{colours}"


def _background_note(kind: str, verdict: dict[str, Any]) -> str:
    """What the background kind means for a kept row whose background is not white."""
    if kind in NON_WHITE_BACKGROUNDS and verdict.get("kept"):
        return f"; kept with its own background (the row's background column says {kind!r})"
    return ""

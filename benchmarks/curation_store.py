"""How fast ``curate run`` gets through the whole ``pixel-art`` corpus store, and the least any curation of it
costs: the ``--store``, ``--store-only`` and ``--floor`` parts of ``benchmarks/curation_quality.py``.

Run through that script (``PYTHONPATH=. .venv/bin/python benchmarks/curation_quality.py --store-only``); the
corpus lives in ``../shared/corpus`` (``PIXELFORGE_CORPUS`` overrides it).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from curation_quality import CORPUS, _box  # benchmarks/ is on sys.path as a script
from PIL import Image

from curation.config import load_config
from curation.pipeline import run
from pixelforge.imaging import composite_on_white
from pixelforge.testing.crawls import read_manifest

STORE = CORPUS / "pixel-art"


def _store_rows() -> tuple[list[dict[str, Any]], int]:
    """The pixel-art store's manifest rows and their pixels in all (from each row's ``size:WxH`` tag)."""
    manifest = read_manifest(STORE)
    pixels = sum(int(a) * int(b) for r in manifest for a, b in [next(t[5:] for t in r["tags"] if t.startswith("size:")).split("x")])
    return manifest, pixels


def store_throughput(workers: int) -> dict[str, Any]:
    """Curate the whole pixel-art store on one core: MP/s and files/s per CPU-second, LPC sheets cut."""
    manifest, mp = _store_rows()
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run(STORE, Path(tmp) / "out", load_config(overrides=[f"workers={workers}"]), progress=False)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        lpc = {r["sha256"] for r in manifest if r["source"] == "lpc"}
        frames: dict[str, int] = Counter(it["sha256"] for it in result.report["items"] if it["sha256"] in lpc and _box(it["member"]))
    out = {"files": len(manifest), "megapixels": round(mp / 1e6, 1), "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
           "workers": workers, "lpc_sheets": len(lpc), "lpc_sheets_cut": sum(1 for s in lpc if frames.get(s, 0) >= 2),
           "lpc_frames": sum(frames.values()), "kept": result.report["counts"]["kept"]}
    if workers == 1:  # one process: its CPU time is the cost per core
        out["mp_per_cpu_s"] = round(mp / 1e6 / cpu, 2)
        out["files_per_cpu_s"] = round(len(manifest) / cpu, 1)
    return out


def store_floor() -> dict[str, Any]:
    """The least any curation of the pixel-art store costs with today's rows, in CPU-s per part: decode
    every file, cut the sheets that ``curate run`` cuts, and for each distinct item composite it, hash
    its pixels, compute its phash/dhash and encode its two PNGs (native and canvas). Nothing else."""
    from curation.dedup import image_hashes
    from curation.process import PNG_LEVEL
    from curation.stages.sheets import frame_grid
    from pixelforge.imaging import pixel_sha256, place_on_canvas, png_bytes

    manifest, mp = _store_rows()
    config = load_config()
    parts: dict[str, float] = defaultdict(float)
    items = 0

    def timed(part: str, fn: Any, *args: Any) -> Any:
        t = time.process_time()
        out = fn(*args)
        parts[part] += time.process_time() - t
        return out

    def cut(img: Image.Image) -> list[Image.Image]:
        boxes = frame_grid(img, max(16, config.sheets.min_sprite_size), config.canvas.size, config.sheets.min_sprites) \
            if max(img.size) > config.sheets.auto_cut_above else []
        crops = [img.crop((b.x, b.y, b.x + b.width, b.y + b.height)) for b in boxes] or [img]
        return list({hashlib.blake2b(c.tobytes(), digest_size=16).digest(): c for c in crops}.values())

    def encode(white: Image.Image) -> None:
        png_bytes(white, PNG_LEVEL)
        if max(white.size) <= config.canvas.size:
            png_bytes(place_on_canvas(white, config.canvas.size)[0], PNG_LEVEL)

    for row in manifest:
        img = timed("decode", lambda path: Image.open(path).convert("RGBA"), STORE / row["path"])
        for crop in timed("cut", cut, img):
            white = timed("composite", composite_on_white, crop)
            timed("pixel_sha256", pixel_sha256, white)
            timed("hashes", image_hashes, white)
            timed("png", encode, white)
            items += 1
    total = sum(parts.values())
    return {"distinct_items": items, "cpu_s": round(total, 1), "mp_per_cpu_s": round(mp / 1e6 / total, 2),
            "parts_cpu_s": {k: round(v, 1) for k, v in parts.items()}}

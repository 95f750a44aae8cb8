"""What a person looks at during and after training: losses.csv, loss.png, samples/, index.html.

No server (the reference needs visdom): a static page, rewritten after every epoch, with the
per-epoch sample translations (A -> B -> A and B -> A -> B) and a loss plot drawn with Pillow.
"""

from __future__ import annotations

import csv
import html
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from pixelforge.imaging import png_bytes
from pixelforge.io import atomic_path, atomic_write

LOSS_COLORS = {
    "D_A": (31, 119, 180), "G_A": (255, 127, 14), "cycle_A": (44, 160, 44), "idt_A": (214, 39, 40),
    "D_B": (148, 103, 189), "G_B": (140, 86, 75), "cycle_B": (227, 119, 194), "idt_B": (127, 127, 127),
    "content_A": (188, 189, 34), "content_B": (23, 190, 207), "flat_A": (0, 0, 0), "sym_A": (214, 97, 32),
    "distill_A": (0, 120, 120), "line_A": (120, 0, 160), "speck_A": (200, 160, 0), "lr": (90, 90, 90),
}
CSV_HEAD = ["step", "epoch", "iteration", "lr"]


class LossLog:
    """Append-only ``losses.csv`` (one row per optimizer step); a resume appends to the same file."""

    def __init__(self, path: Path, loss_names: Sequence[str], *, resume_step: int = 0) -> None:
        self.path = path
        self.names = list(loss_names)
        if path.exists() and resume_step > 0:
            # drop rows logged after the checkpoint we resume from (they will be recomputed)
            rows = read_losses(path)
            kept = [r for r in rows if r["step"] <= resume_step]
            self._write_all(kept)
        elif not path.exists() or resume_step == 0:
            self._write_all([])
        self._fh = path.open("a", newline="")
        self._writer = csv.writer(self._fh)

    def _write_all(self, rows: list[dict[str, float]]) -> None:
        with atomic_path(self.path) as tmp, tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_HEAD + self.names)
            for row in rows:
                writer.writerow([_fmt(row.get(k, "")) for k in CSV_HEAD + self.names])

    def append(self, step: int, epoch: int, iteration: int, lr: float, losses: dict[str, float]) -> None:
        self._writer.writerow([step, epoch, iteration, _fmt(lr)] + [_fmt(losses[n]) for n in self.names])

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def _fmt(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def read_losses(path: Path) -> list[dict[str, float]]:
    """Rows of ``losses.csv``, tolerating the torn tail a kill -9 or a full disk leaves.

    A row without a readable ``step`` is dropped, and so is everything after a line the csv module
    cannot parse (a NUL byte); a value that is not a number is left out of its row.
    """
    rows: list[dict[str, float]] = []
    with path.open(newline="", errors="replace") as fh:
        reader = csv.DictReader(fh)
        try:
            for raw in reader:
                row = {}
                for key, value in raw.items():
                    if isinstance(key, str) and isinstance(value, str) and value:
                        try:
                            row[key] = float(value)
                        except ValueError:
                            continue
                if "step" in row and math.isfinite(row["step"]):
                    rows.append(row)
        except csv.Error:
            pass
    return rows


def _bucket_means(pts: list[tuple[float, float]], s_min: float, s_max: float, n: int) -> list[tuple[float, float]]:
    """``(position 0..1, mean value)`` of the points in each of ``n`` equal step ranges that has any."""
    buckets: dict[int, list[float]] = {}
    for s, v in pts:
        buckets.setdefault(min(n - 1, int((s - s_min) / (s_max - s_min) * n)), []).append(v)
    return [((b + 0.5) / n, sum(v) / len(v)) for b, v in sorted(buckets.items())]


def plot_losses(
    rows: list[dict[str, float]], names: Sequence[str], path: Path, width: int = 900, panel_height: int = 140, columns: int = 3
) -> dict[str, tuple[int, int, int, int]]:
    """One small chart per loss, and one for the lr, each on its own scale, drawn with Pillow.

    On one shared axis the colour-keeping losses (tens) flatten the adversarial ones (tenths) into the
    floor; each panel instead spans its own series' range. A series that is 0 throughout (a loss that
    is off) gets no panel. Points are averaged into one bucket per pixel column. Returns each drawn
    series' panel box (x0, y0, x1, y1).
    """
    series = {n: [(r["step"], r[n]) for r in rows if n in r and math.isfinite(r[n])] for n in [*names, "lr"]}
    series = {n: pts for n, pts in series.items() if any(v != 0 for _, v in pts)}
    panels = max(1, -(-len(series) // columns))
    img = Image.new("RGB", (width, 24 + panels * panel_height), "white")
    draw = ImageDraw.Draw(img)
    if not series:
        draw.text((10, 10), "no losses logged yet", fill=(0, 0, 0))
        img.save(path)
        return {}
    steps = [s for pts in series.values() for s, _ in pts]
    s_min, s_max = min(steps), max(max(steps), min(steps) + 1)
    draw.text((8, 6), f"steps {int(s_min)}-{int(s_max)}; each panel on its own scale (bucket means)", fill=(0, 0, 0))
    pw = width // columns
    boxes = {}
    for i, (name, pts) in enumerate(series.items()):
        x0, y0 = (i % columns) * pw + 52, 24 + (i // columns) * panel_height + 18
        x1, y1 = (i % columns + 1) * pw - 10, 24 + (i // columns + 1) * panel_height - 14
        means = _bucket_means(pts, s_min, s_max, x1 - x0 + 1)  # one per pixel column
        lo, hi = min(v for _, v in means), max(v for _, v in means)
        span = hi - lo or max(abs(hi), 1e-12)
        # the buckets (faint) and their trend over 24 coarse buckets (bold), in pixels
        line, coarse = ([(x0 + f * (x1 - x0), y1 - (v - lo) / span * (y1 - y0)) for f, v in points]
                        for points in (means, _bucket_means(pts, s_min, s_max, 24)))
        color = LOSS_COLORS.get(name, (0, 0, 0))
        draw.rectangle([x0, y0, x1, y1], outline=(200, 200, 200))
        draw.text((x0, y0 - 14), f"{name}  (last {pts[-1][1]:.3g})", fill=(0, 0, 0))
        draw.text((x0 - 48, y0 - 2), f"{hi:.3g}", fill=(90, 90, 90))
        draw.text((x0 - 48, y1 - 10), f"{lo:.3g}", fill=(90, 90, 90))
        if len(line) > 1:
            draw.line(line, fill=tuple(255 - (255 - c) // 3 for c in color), width=1)
            if len(coarse) > 1:
                draw.line(coarse, fill=color, width=2)
        else:
            draw.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2], fill=color)
        boxes[name] = (x0, y0, x1, y1)
    img.save(path)
    return boxes


def sample_grid(rows: Sequence[Sequence[Image.Image]], path: Path) -> None:
    """One PNG: each row is real -> translated -> reconstructed; lossless and byte-stable."""
    if not rows:
        return
    w, h = rows[0][0].size
    grid = Image.new("RGB", (w * max(len(r) for r in rows), h * len(rows)), "white")
    for y, row in enumerate(rows):
        for x, tile in enumerate(row):
            grid.paste(tile, (x * w, y * h))
    atomic_write(path, png_bytes(grid))


def write_index(run: Path, *, title: str, summary: dict[str, str], labels: Sequence[str], note: str = "") -> Path:
    """``index.html``: run summary, loss plot, and the samples per label (``epoch_0003``), newest first."""
    items = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary.items())
    blocks = []
    for name in sorted(labels, reverse=True):
        blocks.append(
            f'<section><h3>{name}</h3><div class="pair">'
            f'<figure><img src="samples/{name}_A.png"><figcaption>real A &rarr; fake B &rarr; rec A</figcaption></figure>'
            f'<figure><img src="samples/{name}_B.png"><figcaption>real B &rarr; fake A &rarr; rec B</figcaption></figure>'
            "</div></section>"
        )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ text-align: left; padding: 2px 10px; border-bottom: 1px solid #eee; }}
img {{ image-rendering: pixelated; max-width: 100%; }}
.pair {{ display: flex; gap: 2em; flex-wrap: wrap; }} figure {{ margin: 0; }}
figcaption {{ font-size: 0.85em; color: #555; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(note)}</p>
<table>{items}</table>
<h2>Losses</h2><img src="loss.png" alt="loss plot"><p><a href="losses.csv">losses.csv</a></p>
<h2>Samples per epoch</h2>
{"".join(blocks) or "<p>No epoch finished yet.</p>"}
</body></html>
"""
    path = run / "index.html"
    atomic_write(path, page)
    return path

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
    "content_A": (188, 189, 34), "content_B": (23, 190, 207),
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


def plot_losses(rows: list[dict[str, float]], names: Sequence[str], path: Path, width: int = 900, height: int = 420) -> None:
    """A line chart of each loss per step (averaged into at most ``width`` buckets), drawn with Pillow."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 60, width - 130, 20, height - 40
    draw.rectangle([left, top, right, bottom], outline=(0, 0, 0))
    series = {n: [(r["step"], r[n]) for r in rows if n in r and math.isfinite(r[n])] for n in names}
    values = [v for pts in series.values() for _, v in pts]
    if not values:
        draw.text((left + 10, top + 10), "no losses logged yet", fill=(0, 0, 0))
        img.save(path)
        return
    steps = [s for pts in series.values() for s, _ in pts]
    s_min, s_max = min(steps), max(max(steps), min(steps) + 1)
    v_max = max(max(values), 1e-6)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - frac * (bottom - top)
        draw.line([left, y, right, y], fill=(230, 230, 230))
        draw.text((5, y - 6), f"{v_max * frac:.3g}", fill=(0, 0, 0))
    draw.text((left, bottom + 8), f"step {int(s_min)}", fill=(0, 0, 0))
    draw.text((right - 70, bottom + 8), f"step {int(s_max)}", fill=(0, 0, 0))
    buckets = max(1, right - left)
    for i, (name, pts) in enumerate(series.items()):
        color = LOSS_COLORS.get(name, (0, 0, 0))
        sums: dict[int, list[float]] = {}
        for s, v in pts:
            b = int((s - s_min) / (s_max - s_min) * (buckets - 1))
            sums.setdefault(b, []).append(v)
        line = [(left + b, bottom - (sum(v) / len(v)) / v_max * (bottom - top)) for b, v in sorted(sums.items())]
        if len(line) > 1:
            draw.line(line, fill=color, width=2)
        elif line:
            draw.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2], fill=color)
        draw.rectangle([right + 15, top + 5 + 18 * i, right + 27, top + 17 + 18 * i], fill=color)
        draw.text((right + 33, top + 5 + 18 * i), name, fill=(0, 0, 0))
    img.save(path)


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

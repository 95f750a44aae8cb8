"""`make demo`: the whole pipeline end to end on the bundled fixture art.

1. serve the fixture pixel art on 127.0.0.1 as an OpenGameArt-like site;
2. crawl it with the real spider (``scrapy crawl pixelart -a base_url=...``) into ``demo/raw``;
3. curate domain B (the crawl) and domain A (the cartoon fixtures, a plain folder);
4. train a small CycleGAN on CPU;
5. pixelate held-out images with the checkpoint and with the classical method;
6. write ``demo/report.html``.

Every step prints the exact command it runs, so it can be repeated against real sites and the Hub.
``DEMO_FAST=1`` shrinks training and inputs so the test suite can run the whole thing.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # the source checkout: the demo reads its fixture art
ART = REPO / "tests" / "fixtures" / "art"


@dataclass
class Step:
    name: str
    command: list[str]
    seconds: float = 0.0
    returncode: int | None = None


@dataclass
class Demo:
    out: Path
    fast: bool
    bin_dir: Path
    steps: list[Step] = field(default_factory=list)

    def tool(self, name: str) -> str:
        exe = self.bin_dir / name
        return str(exe) if exe.exists() else name

    def run(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Step:
        step = Step(name, command)
        print(f"\n$ {shlex.join(command)}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(command, cwd=REPO, env={**os.environ, **(env or {})})
        step.seconds = time.perf_counter() - t0
        step.returncode = proc.returncode
        self.steps.append(step)
        print(f"[{name}: {step.seconds:.1f} s, exit {proc.returncode}]", flush=True)
        return step


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)


def held_out_inputs(fast: bool) -> list[Path]:
    """Pictures neither dataset trains on: cartoon characters the demo keeps back from domain A."""
    keep_back = sorted((ART / "cartoon").glob("*_idle.png"))
    return keep_back[:2] if fast else keep_back[:4]


def build_domain_a(target: Path, fast: bool) -> Path:
    held = {p.name for p in held_out_inputs(fast)}
    target.mkdir(parents=True, exist_ok=True)
    for src in sorted((ART / "cartoon").glob("*.png")):
        if src.name not in held:
            shutil.copy2(src, target / src.name)
    return target


def write_report(demo: Demo, pairs: list[tuple[str, Path, Path | None, Path | None]]) -> Path:
    """One page a person looks at; every <img> is relative to the report so the folder is portable."""
    out = demo.out
    report = out / "report.html"

    def img(path: Path | None, alt: str) -> str:
        if path is None or not path.exists():
            return f"<div class='missing'>{html.escape(alt)}: not produced</div>"
        return f"<img src='{html.escape(_rel(path, out))}' alt='{html.escape(alt)}'>"

    sections: list[str] = []
    for label in ("curated-a", "curated-b"):
        folder = out / label
        rep = folder / "curation_report.json"
        data = json.loads(rep.read_text()) if rep.exists() else {}
        counts, rejected = data.get("counts", {}), data.get("rejected", [])
        reasons: dict[str, int] = {}
        for r in rejected:
            key = f"{r.get('stage', '?')}: {r.get('reason', '?')}"
            reasons[key] = reasons.get(key, 0) + 1
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in sorted(reasons.items()))
        sections.append(
            f"<section><h2>Dataset {label}</h2>{img(folder / 'samples.png', label + ' samples')}"
            f"<p>{html.escape(', '.join(f'{k}: {v}' for k, v in counts.items()))}</p>"
            f"<table><tr><th>dropped at</th><th>count</th></tr>{rows or '<tr><td>nothing dropped</td><td>0</td></tr>'}</table>"
            "</section>"
        )
    sections.append(f"<section><h2>Training losses</h2>{img(out / 'run' / 'loss.png', 'loss plot')}</section>")
    pair_rows = "".join(
        f"<tr><td>{img(src, name + ' input')}</td><td>{img(model, name + ' model')}</td><td>{img(classic, name + ' classical')}</td></tr>"
        for name, src, model, classic in pairs
    )
    sections.append(
        "<section><h2>Before / after</h2><table class='pairs'><tr><th>input</th><th>CycleGAN checkpoint</th>"
        f"<th>classical (no ML)</th></tr>{pair_rows}</table></section>"
    )
    timing = "".join(
        f"<tr><td>{html.escape(s.name)}</td><td>{s.seconds:.1f} s</td><td><code>{html.escape(shlex.join(s.command))}</code></td></tr>"
        for s in demo.steps
    )
    sections.append(f"<section><h2>Timing</h2><table><tr><th>step</th><th>time</th><th>command</th></tr>{timing}</table></section>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>pixelforge demo report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1100px; }}
img {{ image-rendering: pixelated; max-width: 480px; border: 1px solid #ccc; background: #fff; }}
.pairs img {{ width: 256px; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }}
.missing {{ color: #b00; }}
</style></head>
<body>
<h1>pixelforge demo</h1>
<p>Crawl &rarr; curate &rarr; card &rarr; train &rarr; pixelate, on the bundled fixture art ({'fast' if demo.fast else 'full'} mode).</p>
{''.join(sections)}
<script>
window.addEventListener('load', () => {{
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  document.body.dataset.brokenImages = String(broken);
  document.body.dataset.images = String(document.images.length);
}});
</script>
</body></html>
"""
    report.write_text(page)
    return report


def find_output(folder: Path, src: Path) -> Path | None:
    """The file pixelate wrote for ``src`` (it keeps the stem; the suffix depends on the input)."""
    hits = sorted(folder.rglob(f"{src.stem}*"))
    return hits[0] if hits else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole pixelforge pipeline on the bundled sample.")
    parser.add_argument("--out", type=Path, default=REPO / "demo", help="output folder (emptied first)")
    parser.add_argument("--fast", action="store_true", default=os.environ.get("DEMO_FAST") == "1",
                        help="tiny training and fewer images (what the test suite runs); also DEMO_FAST=1")
    parser.add_argument("--train-steps", type=int, default=None, help="optimizer steps (default 600, fast 6)")
    args = parser.parse_args(argv)

    from pixelforge.testing.http_server import FixtureServer
    from pixelforge.testing.sites import build_opengameart_site

    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    demo = Demo(out=out, fast=args.fast, bin_dir=Path(sys.executable).parent)
    t_start = time.perf_counter()

    print("== 1. sample site: the fixture pixel art, laid out like OpenGameArt ==")
    pixel_art = sorted((ART / "pixel").glob("*.png"))
    site = build_opengameart_site(out / "site", pixel_art, licenses=("CC0",))
    server = site.install(FixtureServer(site.root)).start()
    print(f"serving {len(pixel_art)} files at {server.url}")
    failed: list[str] = []
    try:
        print("\n== 2. crawl (the real spider, pointed at the sample site) ==")
        step = demo.run("crawl", [
            demo.tool("scrapy"), "crawl", "pixelart", "-s", f"RAW_STORE={out / 'raw'}",
            "-a", "sources=opengameart", "-a", f"base_url={server.url}",
            "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0", "-s", "LOG_LEVEL=WARNING",
        ])
        if step.returncode:
            failed.append(step.name)
    finally:
        server.stop()

    print("\n== 3. curate domain B (the crawl) and domain A (cartoon sprites, a plain folder) ==")
    domain_a_src = build_domain_a(out / "domain-a-images", args.fast)
    workers = "1" if args.fast else "2"
    for name, src, domain in (("curate B", out / "raw", "B"), ("curate A", domain_a_src, "A")):
        target = out / ("curated-b" if domain == "B" else "curated-a")
        step = demo.run(name, [demo.tool("curate"), "run", "--input", str(src), "--output", str(target),
                               "--domain", domain, "--workers", workers, "--no-progress"])
        if step.returncode:
            failed.append(step.name)

    print("\n== 4. train a small CycleGAN on CPU ==")
    steps = args.train_steps or (6 if args.fast else 600)
    size, ngf, blocks = (32, 8, 2) if args.fast else (64, 16, 4)
    step = demo.run("train", [
        demo.tool("train"), "--domain-a", str(out / "curated-a"), "--domain-b", str(out / "curated-b"),
        "--output", str(out / "run"), "--size", str(size), "--load-size", str(size + size // 8),
        "--ngf", str(ngf), "--n-blocks", str(blocks), "--ndf", str(ngf), "--max-steps", str(steps),
        "--epochs", "1000", "--epochs-decay", "0", "--device", "cpu", "--workers", "0", "--seed", "0",
    ])
    if step.returncode:
        failed.append(step.name)

    print("\n== 5. pixelate held-out pictures with the checkpoint and with the classical method ==")
    held = held_out_inputs(args.fast)
    for name, extra in (("pixelate (model)", ["--checkpoint", str(out / "run")]), ("pixelate (classical)", [])):
        target = out / ("pixelated-model" if extra else "pixelated-classic")
        step = demo.run(name, [demo.tool("pixelate"), *map(str, held), "-o", str(target),
                               "--cell-size", "4", "--palette", "16", *extra])
        if step.returncode:
            failed.append(step.name)

    print("\n== 6. report ==")
    pairs = [
        (src.stem, src, find_output(out / "pixelated-model", src), find_output(out / "pixelated-classic", src))
        for src in held
    ]
    report = write_report(demo, pairs)
    total = time.perf_counter() - t_start
    print(f"\nDemo finished in {total:.0f} s. Open the report: {report}")
    for s in demo.steps:
        print(f"  {s.name:<22} {s.seconds:7.1f} s  exit {s.returncode}")
    if failed:
        print("failed steps: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

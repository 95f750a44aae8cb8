"""Write ``truth.jsonl``, the labelled real evaluation set of ``benchmarks/curation_quality.py``.

Run once by hand (``python benchmarks/curation_truth/make_truth.py``); the output is under
version control, so the set only changes when someone means it to. Every label is either a
fact about how a file was made (a copy is the nearest-neighbour upscale of a named native, a
key-colour copy is that sprite on a flat colour) or a property checked on the pixels here (LPC
recolours share their alpha mask exactly) and by looking at contact sheets of the selection.

Sources: the read-only corpus in ``../shared/corpus`` (see its README for licences) and the
ansimuz fixtures shipped in ``tests/fixtures/art/pixel``. Selection is seeded and deterministic.
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__import__("os").environ.get("PIXELFORGE_CORPUS", ROOT.parent / "shared" / "corpus"))
FIXTURES = ROOT / "tests" / "fixtures" / "art" / "pixel"
OUT = Path(__file__).resolve().parent / "truth.jsonl"
SEED = 20261215
WHITE_ART = ("1443f5a451",)
KEY_COLOURS = ([80, 160, 200], [255, 0, 255], [0, 255, 0], [90, 110, 60])

LPC_PICK = (
    "body/male/light.png", "body/male/tanned.png", "body/male/dark.png", "body/male/orc.png",
    "body/male/skeleton.png", "body/female/light.png", "body/female/darkelf.png",
    "accessories/neck/capeclip/female/capeclip_gray.png", "accessories/neck/capeclip/female/capeclip_green.png",
    "accessories/neck/capeclip/female/capeclip_pink.png", "torso/tunics/female/brown_tunic.png",
    "torso/tunics/female/teal_tunic.png", "torso/tunics/female/white_tunic.png", "hair/female/ponytail/brown.png",
    "hair/male/swoop/white.png", "weapons/right%20hand/either/bow.png", "belt/leather/male/leather_male.png",
    "torso/plate/chest_male.png", "feet/slippers_female/white.png", "feet/slippers_female/black.png",
)


def manifest(store: str) -> list[dict]:
    with (CORPUS / store / "manifest.jsonl").open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tag(rec: dict, prefix: str) -> str:
    return next((t[len(prefix):] for t in rec["tags"] if t.startswith(prefix)), "")


def size_of(rec: dict) -> list[int]:
    return [int(v) for v in tag(rec, "size:").split("x")]


def load(store: str, rec: dict) -> Image.Image:
    return Image.open(CORPUS / store / rec["path"])


def row(rid: str, store: str, rec: dict | None, **kw: object) -> dict:
    src = {"store": store, "sha256": rec["sha256"], "path": rec["path"]} if rec else kw.pop("src")
    out = {"id": rid, "source": src, "ops": kw.pop("ops", []), **kw}
    out.setdefault("group", "")
    out.setdefault("twin_of", "")
    return out


def lpc_rows(px: list[dict]) -> list[dict]:
    by_path = {r["url"].split("2668274d5a96c91584172f2d299b90f0a8c0caac/")[1]: r for r in px if r["source"] == "lpc"}
    rows, masks = [], {}
    for path in LPC_PICK:
        rec = by_path[path]
        alpha = np.asarray(load("pixel-art", rec).convert("RGBA"))[..., 3] > 0
        masks[path] = alpha
        rows.append(row("lpc:" + path.removesuffix(".png"), "pixel-art", rec, category="native", pixel_art=True,
                        native_size=size_of(rec), content="sheet", background="transparent", frame=64))
    # recolours: same folder and exactly the same silhouette (checked, not assumed)
    for r in rows:
        folder = r["id"].rsplit("/", 1)[0]
        same = [o["id"] for o in rows if o["id"].rsplit("/", 1)[0] == folder and o is not r
                and np.array_equal(masks[r["id"][4:] + ".png"], masks[o["id"][4:] + ".png"])]
        if same:
            r["group"] = "recolour:" + folder
    return rows


def superpowers_rows(px: list[dict], rng: random.Random) -> tuple[list[dict], list[dict]]:
    sp = [r for r in px if r["source"] == "superpowers"]
    scenes = [r for r in sp if "background" in r["tags"] and "opaque" in r["tags"]]
    portraits = [r for r in sp if "sprite" in r["tags"] and "opaque" in r["tags"]]
    sprites = [r for r in sp if "sprite" in r["tags"] and "transparent" in r["tags"] and max(size_of(r)) <= 96]
    sheets = [r for r in sp if "spritesheet" in r["tags"] and "transparent" in r["tags"]]
    rows = []
    for rec in rng.sample(scenes, 24):
        rows.append(row("sp:" + rec["sha256"][:10], "pixel-art", rec, category="native", pixel_art=True,
                        native_size=size_of(rec), content="scene", background="scene"))
    for rec in rng.sample(portraits, 10):  # portraits and crates on black: a key colour or part of the art
        rows.append(row("sp:" + rec["sha256"][:10], "pixel-art", rec, category="native", pixel_art=True,
                        native_size=size_of(rec), content="tile", background="key-or-scene"))
    picked = rng.sample(sprites, 60)
    for rec in picked:
        # white particle rings: real pixel art, but invisible on the white canvas (checked by eye)
        category = "invisible" if rec["sha256"].startswith(WHITE_ART) else "native"
        rows.append(row("sp:" + rec["sha256"][:10], "pixel-art", rec, category=category, pixel_art=True,
                        native_size=size_of(rec), content="sprite", background="transparent"))
    for rec in rng.sample(sheets, 16):
        category = "invisible" if rec["sha256"].startswith(WHITE_ART) else "native"
        rows.append(row("sp:" + rec["sha256"][:10], "pixel-art", rec, category=category, pixel_art=True,
                        native_size=size_of(rec), content="sheet", background="transparent"))
    return rows, picked


def copy_rows(sprites: list[dict], rng: random.Random) -> list[dict]:
    """Upscaled, JPEG and key-colour copies of native sprites (the twin is the native)."""
    rows = []
    for i, rec in enumerate(sprites[:48]):
        twin = "sp:" + rec["sha256"][:10]
        w, h = size_of(rec)
        k = rng.randint(2, max(2, min(8, 384 // max(w, h))))
        if i < 16:
            rows.append(row(f"{twin}@x{k}", "pixel-art", rec, ops=[["upscale", k]], category="copy", pixel_art=True,
                            native_size=[w, h], twin_of=twin, content="sprite", background="transparent"))
        elif i < 36:
            q = rng.choice((80, 85, 90, 95))
            k = max(k, 3)
            rows.append(row(f"{twin}@x{k}q{q}", "pixel-art", rec, ops=[["on", [255, 255, 255]], ["upscale", k], ["jpeg", q]],
                            category="copy", pixel_art=True, native_size=[w, h], twin_of=twin, content="sprite",
                            background="white"))
        else:
            key = KEY_COLOURS[i % len(KEY_COLOURS)]
            box = Image.open(CORPUS / "pixel-art" / rec["path"]).convert("RGBA").getbbox() or (0, 0, w, h)
            rows.append(row(f"{twin}@key{i % len(KEY_COLOURS)}x{k}", "pixel-art", rec,
                            ops=[["trim"], ["on", key], ["upscale", k]], category="key-copy", pixel_art=True,
                            native_size=[box[2] - box[0], box[3] - box[1]], twin_of=twin, content="sprite",
                            background="key", key=key))
    return rows


def invisible_rows(sprites: list[dict]) -> list[dict]:
    """White figures on transparency (a white font, a snow pile): invisible on the white canvas."""
    return [row(f"white:{rec['sha256'][:10]}", "pixel-art", rec, ops=[["whiten"]], category="invisible",
                pixel_art=True, native_size=size_of(rec), content="sprite", background="transparent")
            for rec in sprites[48:54]]


def fixture_rows() -> list[dict]:
    rows = []
    for path in sorted(FIXTURES.glob("*.png")):
        img = Image.open(path)
        scene = "layer" in path.stem or "buildings" in path.stem or "foreground" in path.stem
        opaque = img.mode != "RGBA" and "transparency" not in img.info
        rows.append(row("ansimuz:" + path.stem, "fixtures", None, src={"store": "fixtures", "path": path.name},
                        category="native", pixel_art=True, native_size=list(img.size),
                        content="scene" if scene else "sprite", background="scene" if opaque else "transparent",
                        group="frames:synth-car" if path.stem.startswith("synth-car") else ""))
    return rows


def picture_rows(rng: random.Random) -> list[dict]:
    cartoons = manifest("cartoons")
    kenney = [r for r in cartoons if r["source"] == "kenney"]
    emoji = [r for r in cartoons if r["source"] == "twemoji"]
    rows = []
    for rec in rng.sample(kenney, 40) + rng.sample(emoji, 40):
        rows.append(row(f"{rec['source']}:{rec['sha256'][:10]}", "cartoons", rec, category="cartoon", pixel_art=False,
                        native_size=size_of(rec) if tag(rec, "size:") else [], content="sprite",
                        background="transparent" if "transparent" in rec["tags"] else "opaque"))
    for rec in rng.sample(kenney, 8) + rng.sample(emoji, 4):
        k = rng.choice((2, 3, 4))
        rows.append(row(f"{rec['source']}:{rec['sha256'][:10]}@bicubic{k}", "cartoons", rec, ops=[["bicubic", k]],
                        category="cartoon", pixel_art=False, native_size=[], content="sprite", background="transparent"))
    for rec in manifest("photos"):
        rows.append(row(f"photo:{Path(rec['url']).name}", "photos", rec, category="photo", pixel_art=False,
                        native_size=[], content="scene", background="scene"))
    return rows


def main() -> int:
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS} (set PIXELFORGE_CORPUS)", file=sys.stderr)
        return 1
    rng = random.Random(SEED)
    px = manifest("pixel-art")
    sp_rows, sprites = superpowers_rows(px, rng)
    pyxel = [row("pyxel:" + Path(r["url"]).stem, "pixel-art", r, category="native", pixel_art=True,
                 native_size=size_of(r), content="sheet" if "tileset" in r["url"] or "urban" in r["url"] else "sprite",
                 background="transparent" if "transparent" in r["tags"] else "key-or-scene")
             for r in px if r["source"] == "pyxel"]
    rows = lpc_rows(px) + pyxel + sp_rows + fixture_rows() + copy_rows(sprites, rng) + invisible_rows(sprites)
    rows += picture_rows(rng)
    ids = defaultdict(int)
    for r in rows:
        ids[r["id"]] += 1
    assert max(ids.values()) == 1, [k for k, v in ids.items() if v > 1]
    with OUT.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
    print(f"{len(rows)} rows -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

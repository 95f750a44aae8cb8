"""A judging page as one PNG per pair, for judges who vote from image files instead of the page.

``judge.py shots PAGE --out DIR`` opens the page in headless Chromium (Debian's, as the tests do), hides the
buttons and the vote bar, and screenshots each pair's section: the picture and the two sides exactly as the
page lays them out (the outputs scaled by whole multiples, nearest neighbour). Beside them it writes
``BRIEF.md`` (the page's question, how to answer, the ``votes.json`` form with the page's key id) and nothing
else: it reads the page only, never ``key.json``, so a folder of shots is as blind as the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from pixelforge.io import atomic_write

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
HIDE = "#bar, .vote { display: none !important } .pair.current { outline: none !important }"

BRIEF = """# Judging pixel art

Each PNG here ({first}.png to {last}.png) shows one picture and two pixel-art versions of it:

- on the left, "the picture": the original (it may look soft because it is scaled up);
- in the middle, "left": one pixel-art version;
- on the right, "right": another pixel-art version.

For each of the {count}, answer the question **"{question}"**: `left`, `right`, or `even` when neither is
better. Judge as a pixel artist or a game developer choosing a sprite would. Look closely at each image (open it
at full size). Judge every pair on its own.

Write your answers as `votes.json`, in this form, with every id:

    {{"key_id": "{key_id}", "votes": {{"{first}": "left", ...}}}}

and send it to whoever asked you to judge (`judge.py tally KEY votes.json` counts it).
"""


def page_facts(html: str) -> tuple[str, str]:
    """(key id, question) as the page carries them; ValueError for a file that is not a judging page."""
    key = re.search(r'key_id: "([0-9a-f]{16})"', html)
    question = re.search(r'<div id="bar"><strong>(.*?)</strong>', html)
    if not key or not question:
        raise ValueError("not a judging page written by judge.py make (no key id or question in it)")
    return key.group(1), question.group(1)


def shots(page: Path, out: Path, chromium: Path = CHROMIUM) -> list[Path]:
    """One ``NNN.png`` per pair of ``page`` (a folder with ``index.html``, or the file) in ``out``, and ``BRIEF.md``."""
    from playwright.sync_api import sync_playwright

    index = page / "index.html" if page.is_dir() else page
    kid, question = page_facts(index.read_text())
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_FLAGS)
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.goto(index.resolve().as_uri())
            tab.add_style_tag(content=HIDE)
            for section in tab.query_selector_all(".pair"):
                path = out / f"{section.get_attribute('data-id')}.png"
                section.screenshot(path=str(path))
                written.append(path)
        finally:
            browser.close()
    if not written:
        raise ValueError(f"{index} shows no pairs")
    ids = [p.stem for p in written]
    atomic_write(out / "BRIEF.md", BRIEF.format(first=ids[0], last=ids[-1], count=len(ids), question=question,
                                                key_id=kid).encode())
    return written

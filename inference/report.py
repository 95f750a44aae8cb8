"""What ``pixelate`` shows at the end: the summary it prints and the ``--preview`` page.

Both name files the user gave, whose bytes need not be UTF-8; neither may crash on them.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from inference.inputs import VIDEO_SUFFIXES
from pixelforge.io import atomic_write


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pairs: list[tuple[str, Path]] = field(default_factory=list)  # (source, output) for the preview page
    frames: int = 0

    def report(self, seconds: float) -> str:
        lines = [
            f"pixelate: {len(self.written)} written, {len(self.skipped)} skipped (already there; --overwrite redoes them), "
            f"{len(self.failed)} failed, in {seconds:.1f} s" + (f" ({self.frames} animation frames)" if self.frames else "")
        ]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [f"  FAILED {_shown(source)}: {reason}" for source, reason in self.failed]
        return "\n".join(lines)


def _raw(name: str) -> bytes:
    """The bytes of a file name as the OS has them (``surrogateescape``), whatever they are."""
    try:
        return os.fsencode(name)
    except UnicodeError:
        return name.encode("utf-8", errors="replace")


def _href(relpath: str) -> str:
    """A relative URL for a file name of any bytes (not valid UTF-8 included): its raw bytes, percent-encoded."""
    return "/".join(quote(_raw(part)) for part in relpath.split(os.sep))


def _shown(name: str) -> str:
    """A file name for people to read: bytes that are not UTF-8 become U+FFFD instead of crashing the page."""
    return _raw(name).decode("utf-8", errors="replace")


def write_preview(pairs: list[tuple[str, Path]], folder: Path) -> Path:
    """``index.html``: every input next to its pixel art, scaled up without smoothing, to look at."""
    rows = []
    for source, out in pairs:
        src = source if "://" in source else _href(os.path.relpath(Path(source).resolve(), folder.resolve()))
        dst = _href(os.path.relpath(out.resolve(), folder.resolve()))
        tag = "video controls loop muted" if out.suffix.lower() in VIDEO_SUFFIXES else "img"
        close = "></video>" if tag.startswith("video") else ">"
        rows.append(
            f"<tr><td><{tag} src='{html.escape(src)}'{close}</td><td><{tag} class=px src='{html.escape(dst)}'{close}"
            f"</td></tr><tr><td colspan=2>{html.escape(_shown(source))}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>pixelate preview</title><style>"
        "body{font-family:sans-serif;background:#222;color:#ddd}img,video{max-width:45vw;max-height:60vh}"
        ".px{image-rendering:pixelated}td{padding:6px;vertical-align:top}</style>"
        f"<h1>pixelate: {len(pairs)} results</h1><table><tr><th>input</th><th>pixel art</th></tr>{''.join(rows)}</table>"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    atomic_write(path, page)
    return path

"""A plain static gallery matching ``crawler/configs/example_gallery.toml``."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from pixelforge.testing.sites.base import LICENSES, Art, Site, _arts, _write


def build_gallery_site(root: str | Path, files: Sequence[Path | Art], *, per_page: int = 3,
                       licenses: Sequence[str] = ("CC0", "CC-BY 4.0")) -> Site:
    """Static gallery: /gallery/ (+ /gallery/page-N/) listing, /gallery/item-N/ pages, files under /media/."""
    root = Path(root)
    arts = _arts(files, licenses)
    site = Site(root=root, arts=arts)
    _write(root / "robots.txt", "User-agent: *\nDisallow:\n")
    pages = [arts[i:i + per_page] for i in range(0, len(arts), per_page)]
    for p, group in enumerate(pages):
        items = []
        for art in group:
            n = arts.index(art)
            art.url_path = f"/media/{art.file.name}"  # type: ignore[union-attr]
            _write(root / art.url_path.lstrip("/"), art.file.read_bytes())  # type: ignore[union-attr]
            site.expected_files.append(art.url_path)
            lic = "".join(f'<span class="license"><a href="{LICENSES.get(x, "")}">{x}</a></span>' for x in art.licenses)
            _write(root / f"gallery/item-{n}/index.html", f"""<html><body><h1 class="title">{html.escape(art.title)}</h1>
<img src="/media/thumbs/{art.file.name}"><a class="download" href="{art.url_path}">Download original</a>
<div class="meta"><span class="author"><a href="/u/{art.author}">{art.author}</a></span>{lic}
<span class="tags"><a>pixel art</a><a>sprite</a></span></div></body></html>""")  # type: ignore[union-attr]
            items.append(f'<li><a class="item" href="/gallery/item-{n}/">{html.escape(art.title)}</a></li>')
        nxt = f'<a rel="next" href="/gallery/page-{p + 1}/">Next</a>' if p + 1 < len(pages) else ""
        body = f'<html><body><ul class="gallery">{"".join(items)}</ul>{nxt}</body></html>'
        _write(root / ("gallery/index.html" if p == 0 else f"gallery/page-{p}/index.html"), body)
    return site

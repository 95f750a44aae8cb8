"""OpenGameArt's Drupal 7 pages: a search listing with a ``page=N`` pager, ``/content/<slug>`` nodes with licence,
author, tag and file fields, originals under ``/sites/default/files/``, previews under ``.../styles/``."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from pixelforge.testing.http_server import Response, tiny_png
from pixelforge.testing.sites.base import LICENSES, ROBOTS_TXT, Art, Site, _arts, _query, _write


def _oga_node_html(title: str, author: str, licenses: Sequence[str], tags: Sequence[str],
                   file_links: Sequence[tuple[str, str]], preview: str | None) -> str:
    lic = "".join(
        f'<div class="field-item {"even" if i % 2 == 0 else "odd"}"><div class="license-icon">'
        f'<a href="{LICENSES.get(n, "http://example.org/license")}" target="_blank">'
        f'<img src="/sites/default/files/license_images/{quote(n)}.png" alt="" title="" />'
        f'<div class="license-name">{html.escape(n)}</div></a></div></div>'
        for i, n in enumerate(licenses))
    lic_block = ("" if not licenses else
                 '<div class="field field-name-field-art-licenses field-type-taxonomy-term-reference '
                 f'field-label-above"><div class="field-label">License(s):&nbsp;</div>'
                 f'<div class="field-items">{lic}</div></div>')
    tag_items = "".join(f'<div class="field-item"><a href="/art-search-advanced?field_art_tags_tid={quote(t)}">'
                        f"{html.escape(t)}</a></div>" for t in tags)
    files = "".join(
        f'<div class="field-item"><span class="file"><img class="file-icon" alt="" src="/modules/file/icons/image-x-generic.png" />'
        f' <a href="{href}" type="image/png; length=1234">{html.escape(text)}</a></span></div>'
        for href, text in file_links)
    files_block = ("" if not file_links else
                   '<div class="field field-name-field-art-files field-type-file field-label-above">'
                   f'<div class="field-label">File(s):&nbsp;</div><div class="field-items">{files}</div></div>')
    preview_block = ("" if not preview else
                     '<div class="field field-name-field-art-preview"><div class="field-items"><div class="field-item">'
                     f'<a href="{preview}"><img src="{preview}" alt="" /></a></div></div></div>')
    return f"""<!DOCTYPE html>
<html lang="en" dir="ltr"><head><meta charset="utf-8" /><title>{html.escape(title)} | OpenGameArt.org</title></head>
<body class="html not-front page-node node-type-art">
<div id="page"><div id="main"><div id="content" class="column"><div class="section">
<div id="node-1" class="node node-art view-mode-full">
  <div property="dc:title"><h2>{html.escape(title)}</h2></div>
  <div class="left-column">
    <div class="field field-name-author-submitter field-type-ds field-label-above"><div class="field-label">Author:&nbsp;</div>
      <div class="field-items"><div class="field-item even"><span class="username"><a href="/users/{quote(author)}">{html.escape(author)}</a></span></div></div></div>
    {preview_block}
    <div class="field field-name-body"><div class="field-items"><div class="field-item even"><p>Made for testing.</p></div></div></div>
  </div>
  <div class="right-column">
    <div class="field field-name-field-art-type"><div class="field-label">Art Type:&nbsp;</div><div class="field-items"><div class="field-item even"><a href="/art-search-advanced?field_art_type_tid%5B%5D=9">2D Art</a></div></div></div>
    <div class="field field-name-field-art-tags field-type-taxonomy-term-reference field-label-above"><div class="field-label">Tags:&nbsp;</div><div class="field-items">{tag_items}</div></div>
    {lic_block}
    {files_block}
  </div>
</div></div></div></div></div></body></html>
"""


def _oga_listing_html(nodes: Sequence[tuple[str, str]], page: int, last: int) -> str:
    rows = "".join(
        f'<div class="views-row views-row-{i + 1}"><div class="ds-1col node node-art view-mode-art_preview">'
        f'<div class="field field-name-field-art-preview"><a href="/content/{slug}"><img typeof="foaf:Image" '
        f'src="/sites/default/files/styles/thumbnail/public/{slug}.png" alt="" /></a></div>'
        f'<div class="field field-name-title"><span class="art-preview-title"><a href="/content/{slug}">'
        f"{html.escape(title)}</a></span></div></div></div>"
        for i, (slug, title) in enumerate(nodes))
    pager = ""
    if page < last:
        pager = (f'<li class="pager-next"><a title="Go to next page" href="/art-search-advanced?keys=&amp;'
                 f'field_art_type_tid%5B%5D=9&amp;page={page + 1}">next &rsaquo;</a></li>')
    return f"""<!DOCTYPE html><html><head><title>Search Art | OpenGameArt.org</title></head><body>
<div class="view view-art-search-advanced"><div class="view-content">{rows}</div>
<h2 class="element-invisible">Pages</h2><div class="item-list"><ul class="pager">
<li class="pager-current first">{page + 1}</li>{pager}</ul></div></div></body></html>
"""


def build_opengameart_site(root: str | Path, files: Sequence[Path | Art], *, per_page: int = 4,
                           files_per_node: int = 1, licenses: Sequence[str] = ("CC0", "CC-BY 4.0"),
                           bad: bool = False, zip_pack: bool = False, multi_license: bool = False) -> Site:
    """Write an OpenGameArt-shaped site for ``files`` into ``root``; ``install()`` adds the search route.

    ``multi_license`` adds a node ``/content/multi-license`` offered under "CC-BY-SA 3.0, GPL 2.0".
    """
    root = Path(root)
    arts = _arts(files, licenses)
    site = Site(root=root)
    _write(root / "robots.txt", ROBOTS_TXT)
    nodes: list[tuple[str, str]] = []
    for n in range(0, len(arts), files_per_node):
        group = arts[n:n + files_per_node]
        slug = f"art-{n // files_per_node:04d}-{group[0].title.lower().replace(' ', '-')}"
        links = []
        for art in group:
            name = art.name or art.file.name  # type: ignore[union-attr]
            art.url_path = f"/sites/default/files/{name}"
            _write(root / art.url_path.lstrip("/"), art.file.read_bytes())  # type: ignore[union-attr]
            links.append((f"/sites/default/files/{quote(name)}", name))
            site.expected_files.append(art.url_path)
        preview = f"/sites/default/files/styles/medium/public/{quote(group[0].name or group[0].file.name)}"  # type: ignore[union-attr]
        _write(root / preview.lstrip("/"), tiny_png((9, 9, 9)))
        page = _oga_node_html(group[0].title, group[0].author, group[0].licenses, group[0].tags, links, preview)
        _write(root / "content" / slug / "index.html", page)
        nodes.append((slug, group[0].title))
        site.arts.extend(group)
    if zip_pack:
        import zipfile

        pack = root / "sites/default/files/pixel_pack.zip"
        pack.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(pack, "w") as zf:
            for art in arts[:2]:
                zf.write(art.file, art.file.name)  # type: ignore[arg-type]
        _write(root / "content/pixel-pack/index.html", _oga_node_html(
            "Pixel Pack", "packer", ["CC-BY-SA 3.0", "GPL 3.0"], ["pixel art", "pack"],
            [("/sites/default/files/pixel_pack.zip", "pixel_pack.zip")], None))
        nodes.append(("pixel-pack", "Pixel Pack"))
        site.expected_files.append("/sites/default/files/pixel_pack.zip")
    if multi_license:
        name = "dual-licensed.png"
        _write(root / "sites/default/files" / name, tiny_png((7, 70, 170), size=16))
        _write(root / "content/multi-license/index.html", _oga_node_html(
            "Dual Licensed", "sharer", ["CC-BY-SA 3.0", "GPL 2.0"], ["pixel art"],
            [(f"/sites/default/files/{name}", name)], None))
        nodes.append(("multi-license", "Dual Licensed"))
        site.expected_files.append(f"/sites/default/files/{name}")
    if bad:
        nodes.extend(_oga_bad_nodes(root, arts, site))
    last = max(0, (len(nodes) - 1) // per_page)
    for page in range(last + 1):
        _write(root / "art-search-advanced" / f"page-{page}.html",
               _oga_listing_html(nodes[page * per_page:(page + 1) * per_page], page, last))

    def search(handler: object) -> Response:
        try:
            page = int(_query(handler).get("page", "0") or 0)
        except ValueError:
            page = 0
        target = root / "art-search-advanced" / f"page-{page}.html"
        if not target.exists():
            return Response(200, _oga_listing_html([], page, page).encode())
        return Response(200, target.read_bytes())

    site.routes["/art-search-advanced"] = search
    return site


def add_opengameart_node(root: str | Path, slug: str, art: Art) -> str:
    """One more node page at ``/content/<slug>`` (e.g. the real slug a contract names); returns its path."""
    root = Path(root)
    name = art.name or art.file.name  # type: ignore[union-attr]
    art.url_path = f"/sites/default/files/{name}"
    _write(root / art.url_path.lstrip("/"), art.file.read_bytes())  # type: ignore[union-attr]
    _write(root / "content" / slug / "index.html", _oga_node_html(
        art.title, art.author, art.licenses, art.tags, [(f"/sites/default/files/{quote(name)}", name)], None))
    return f"/content/{slug}"


def _oga_bad_nodes(root: Path, arts: Sequence[Art], site: Site) -> list[tuple[str, str]]:
    """Nodes with every bad input the crawler must survive."""
    good = arts[0].file
    odd_name = "weird name (1) ü+&.png"
    _write(root / "sites/default/files" / odd_name, tiny_png((1, 2, 3), size=12))
    site.expected_files.append(f"/sites/default/files/{odd_name}")
    dup_name = "same-bytes-again.png"
    _write(root / "sites/default/files" / dup_name, good.read_bytes())  # type: ignore[union-attr]
    site.expected_files.append(f"/sites/default/files/{dup_name}")
    bad_files = [
        ("/__status/404", "gone.png"), ("/__status/500", "broken.png"), ("/__truncated.png", "truncated.png"),
        ("/__html-as-png.png", "html.png"), ("/__empty.png", "empty.png"), ("/__loop/0", "loop.png"),
    ]
    pages = {
        "bad-files": _oga_node_html("Bad Files", "bad", ["CC0"], ["pixel art"], bad_files, None),
        "no-license": _oga_node_html("No Licence", "someone", [], ["pixel art"],
                                     [(f"/sites/default/files/{quote(odd_name)}", odd_name)], None),
        "duplicate-bytes": _oga_node_html("Duplicate", "copier", ["CC0"], ["pixel art"],
                                          [(f"/sites/default/files/{dup_name}", dup_name)], None),
        "no-files": _oga_node_html("No Files", "nobody", ["CC0"], ["pixel art"], [], None),
        "preview-only": _oga_node_html("Preview Only", "p", ["CC0"], ["pixel art"],
                                       [("/sites/default/files/styles/medium/public/x.png", "x.png")], None),
        # the same file listed on a second page: one stored file, two provenances
        "same-file-again": _oga_node_html("Same File Again", "other", ["CC-BY 4.0"], ["pixel art"],
                                          [(arts[0].url_path, arts[0].name or arts[0].file.name)], None),  # type: ignore[union-attr]
    }
    for slug, page in pages.items():
        _write(root / "content" / slug / "index.html", page)

    def offsite(handler: object) -> Response:
        port = handler.server.server_address[1]  # type: ignore[attr-defined]
        return Response(302, b"", {"Location": f"http://localhost:{port}/content/art-0000"})

    site.routes["/content/moved-away"] = offsite
    return [(s, s) for s in pages] + [
        ("missing-node", "Missing"),  # 404 page
        ("moved-away", "Moved"),  # redirect to another domain: not followed
    ]

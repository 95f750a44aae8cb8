"""Local fixture sites that reproduce the structure of the crawler's real sources.

* ``build_opengameart_site(root, files)``: OpenGameArt's Drupal 7 pages (search listing with
  ``page=N`` pager, ``/content/<slug>`` nodes with licence/author/tags/files fields, originals
  under ``/sites/default/files/``, resampled previews under ``/sites/default/files/styles/``).
* ``build_wikimedia_site(root, files)``: the MediaWiki API at ``/w/api.php`` (categorymembers
  generator with imageinfo + extmetadata, subcategories, ``continue`` tokens), files under
  ``/wikipedia/commons/x/xy/``.
* ``build_gallery_site(root, files)``: a plain static gallery matching
  ``crawler/configs/example_gallery.toml``.

Each builder writes static files under ``root`` and returns a ``Site`` whose ``install(server)``
adds the query-dependent routes to a ``FixtureServer``. ``bad=True`` adds the bad inputs the
crawler must survive (404/500 pages and files, truncated, empty, HTML-as-PNG, redirect loops,
an offsite redirect, a page without licence, a page without files, odd file names).

Serve one by hand (``make demo`` does this with the fixture art)::

    python -m pixelforge.testing.sites opengameart tests/fixtures/art/pixel --root /tmp/oga
    scrapy crawl opengameart -a base_url=http://127.0.0.1:PORT -s RAW_STORE=data/raw
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from pixelforge.testing.http_server import FixtureServer, Response, tiny_png

LICENSES = {
    "CC0": "http://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY 4.0": "http://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA 3.0": "http://creativecommons.org/licenses/by-sa/3.0/",
    "GPL 3.0": "http://www.gnu.org/licenses/gpl-3.0.html",
    "GPL 2.0": "http://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
}

ROBOTS_TXT = """# Drupal-style robots.txt
User-agent: *
Disallow: /admin/
Disallow: /user/
Disallow: /private/
"""


@dataclass
class Art:
    """One piece of art a fixture site publishes."""

    file: Path | None  # local bytes to serve; None for a link only (bad routes)
    title: str
    author: str = "fixture-artist"
    licenses: tuple[str, ...] = ("CC0",)
    tags: tuple[str, ...] = ("pixel art",)
    url_path: str = ""  # where the file is served (filled in by the builder)
    name: str = ""  # served file name (defaults to file.name)


@dataclass
class Site:
    """A built fixture site: static files in ``root`` plus dynamic routes."""

    root: Path
    routes: dict[str, Callable] = field(default_factory=dict)
    arts: list[Art] = field(default_factory=list)
    #: file URL paths a crawl must store (good files), for assertions
    expected_files: list[str] = field(default_factory=list)
    #: expected files a crawl cannot reach because a bad input hides them (malformed API page)
    unreachable: list[str] = field(default_factory=list)

    def install(self, server: FixtureServer) -> FixtureServer:
        for path, fn in self.routes.items():
            server.route(path, fn)
        return server


def _arts(files: Sequence[Path | Art], licenses: Sequence[str]) -> list[Art]:
    out = []
    for i, f in enumerate(files):
        if isinstance(f, Art):
            out.append(f)
        else:
            f = Path(f)
            out.append(Art(file=f, title=f.stem.replace("-", " ").title(), author=f"artist{i % 3}",
                           licenses=(licenses[i % len(licenses)],)))
    return out


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def _query(handler: object) -> dict[str, str]:
    q = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)  # type: ignore[attr-defined]
    return {k: v[-1] for k, v in q.items()}


# ---------------------------------------------------------------------------------------------
# OpenGameArt (Drupal 7)
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# Wikimedia Commons (MediaWiki API)
# ---------------------------------------------------------------------------------------------
def build_wikimedia_site(root: str | Path, files: Sequence[Path | Art], *, page_size: int = 2,
                         subcategories: int = 2, licenses: Sequence[str] = ("CC BY-SA 4.0", "CC0", "Public domain"),
                         bad: bool = False) -> Site:
    """MediaWiki API over ``files``: the top category holds one file, the rest sit in subcategories.

    Categories: ``Category:Pixel art`` -> ``Category:Pixel art sub N`` (N < subcategories), and
    ``Category:Pixel art sub 0`` -> ``Category:Pixel art deep`` (depth 2, for the depth limit).
    """
    root = Path(root)
    arts = _arts(files, licenses)
    site = Site(root=root, arts=arts)
    # as on the Wikimedia farm: /w/ (so /w/api.php) is closed to crawlers; the API is used anyway
    _write(root / "robots.txt", "User-agent: *\nAllow: /w/load.php?\nDisallow: /w/\nDisallow: /wiki/Special:\n"
                                "Disallow: /wikipedia/commons/private/\n")
    top, subs = "Category:Pixel art", [f"Category:Pixel art sub {i}" for i in range(subcategories)]
    deep = "Category:Pixel art deep"
    members: dict[str, list[dict]] = {top: [], deep: [], **{s: [] for s in subs}}
    tree = {top: subs, subs[0] if subs else top: [deep]}
    for i, art in enumerate(arts):
        name = (art.name or art.file.name).replace(" ", "_")  # type: ignore[union-attr]
        art.url_path = f"/wikipedia/commons/{i % 10}/{i % 10}{i % 7}/{name}"
        _write(root / art.url_path.lstrip("/"), art.file.read_bytes())  # type: ignore[union-attr]
        category = top if i == 0 else (subs[i % len(subs)] if subs else top)
        if i == len(arts) - 1 and subs:
            category = deep
        members[category].append(_wm_page(1000 + i, name, art))
        site.expected_files.append(art.url_path)
    if bad and subs:
        site.unreachable = [p["imageinfo"][0]["url"] for p in members[subs[-1]][page_size:]]
    if bad:
        members[top].append({"pageid": 9001, "ns": 6, "title": "File:No info.png"})  # missing imageinfo
        no_license = Art(file=None, title="Unlicensed", author='<span class="x">Anon</span>', licenses=())
        page = _wm_page(9002, "Unlicensed.png", no_license)
        page["imageinfo"][0]["url"] = "/__status/404"
        members[top].append(page)
        # a file on a path the file host's robots.txt closes: never downloaded
        hidden = Art(file=None, title="Hidden", url_path="/wikipedia/commons/private/hidden.png")
        _write(root / hidden.url_path.lstrip("/"), tiny_png((3, 3, 3)))
        members[top].append(_wm_page(9003, "Hidden.png", hidden))

    def api(handler: object) -> Response:
        port = handler.server.server_address[1]  # type: ignore[attr-defined]
        base = f"http://127.0.0.1:{port}"
        q = _query(handler)
        if bad and q.get("gcmtitle") == subs[-1] and q.get("gcmcontinue"):
            return Response(200, b'{"batchcomplete": "", "query": {"pages": ', content_type="application/json")
        if q.get("list") == "categorymembers":
            cats = [{"ns": 14, "title": t} for t in tree.get(q.get("cmtitle", ""), [])]
            return _json_response({"batchcomplete": "", "query": {"categorymembers": cats}})
        title = q.get("gcmtitle", "")
        if q.get("generator") != "categorymembers" or title not in members:
            return _json_response({"error": {"code": "badvalue", "info": "Unrecognized value"}})
        start = int((q.get("gcmcontinue") or "file|0").split("|")[-1])
        chunk = members[title][start:start + page_size]
        pages = {}
        for p in chunk:
            p = json.loads(json.dumps(p))
            for info in p.get("imageinfo", []):
                for key in ("url", "descriptionurl", "thumburl"):
                    if key in info and info[key].startswith("/"):
                        info[key] = base + info[key]
            pages[str(p["pageid"])] = p
        data: dict = {"batchcomplete": "", "query": {"pages": pages}}
        if start + page_size < len(members[title]):
            data = {"continue": {"gcmcontinue": f"file|{start + page_size}", "continue": "gcmcontinue||"}, **data}
        return _json_response(data)

    site.routes["/w/api.php"] = api
    return site


def _wm_page(pageid: int, name: str, art: Art) -> dict:
    ext: dict = {
        "ObjectName": {"value": art.title, "source": "commons-desc-page"},
        "Artist": {"value": f'<a href="//commons.wikimedia.org/wiki/User:{quote(art.author)}" '
                            f'title="User:{html.escape(art.author)}">{html.escape(art.author)}</a>'
                   if "<" not in art.author else art.author, "source": "commons-desc-page"},
        "Categories": {"value": "|".join(["Pixel art", *art.tags[1:]]), "source": "commons-categories"},
    }
    if art.licenses:
        ext["LicenseShortName"] = {"value": art.licenses[0], "source": "commons-desc-page", "hidden": ""}
        ext["LicenseUrl"] = {"value": f"https://creativecommons.org/licenses/{pageid}", "source": "commons-desc-page"}
    return {
        "pageid": pageid, "ns": 6, "title": f"File:{name}", "imagerepository": "local",
        "imageinfo": [{
            "size": 1234, "width": 64, "height": 64,
            "url": art.url_path or "/missing.png",
            "thumburl": f"/thumb/{name}/120px-{name}",
            "descriptionurl": f"/wiki/File:{quote(name)}",
            "descriptionshorturl": f"/w/index.php?curid={pageid}",
            "mime": "image/png", "extmetadata": ext,
        }],
    }


def _json_response(data: dict) -> Response:
    return Response(200, json.dumps(data).encode(), content_type="application/json; charset=utf-8")


# ---------------------------------------------------------------------------------------------
# A generic gallery (crawler/configs/example_gallery.toml)
# ---------------------------------------------------------------------------------------------
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fixture site (OpenGameArt, Wikimedia API or gallery) "
                                                 "over a folder of images, on 127.0.0.1.")
    parser.add_argument("kind", choices=["opengameart", "wikimedia", "gallery"])
    parser.add_argument("images", type=Path, nargs="+", help="image files or folders of images")
    parser.add_argument("--root", type=Path, required=True, help="folder to build the site in (emptied)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-page", type=int, default=None, help="listing page size (opengameart, gallery)")
    parser.add_argument("--files-per-node", type=int, default=1, help="files per node page (opengameart)")
    args = parser.parse_args(argv)
    images: list[Path] = []
    for p in args.images:
        images.extend(sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p])
    shutil.rmtree(args.root, ignore_errors=True)
    if args.kind == "opengameart":
        site = build_opengameart_site(args.root, images, per_page=args.per_page or 4,
                                      files_per_node=args.files_per_node)
    elif args.kind == "gallery":
        site = build_gallery_site(args.root, images, per_page=args.per_page or 3)
    else:
        site = build_wikimedia_site(args.root, images)
    server = site.install(FixtureServer(args.root, port=args.port))
    print(server.url, flush=True)
    server._httpd.serve_forever()


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------
# running a crawl against a fixture site (tests, benchmark)
# ---------------------------------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]
#: Settings for crawling a local fixture: no politeness delays, quick timeouts, no fsync.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_TIMEOUT": "5", "RAW_STORE_FSYNC": "0", "LOG_LEVEL": "INFO", "RETRY_TIMES": "1",
}


def crawl_command(spider: str, raw_store: Path, args: dict[str, str] | None = None,
                  settings: dict[str, str] | None = None) -> list[str]:
    """``python -m scrapy crawl <spider>`` with ``-a``/``-s`` pairs, fixture-speed settings first."""
    import sys

    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-s", f"RAW_STORE={raw_store}"]
    for key, value in {**FAST_SETTINGS, **(settings or {})}.items():
        cmd += ["-s", f"{key}={value}"]
    for key, value in (args or {}).items():
        cmd += ["-a", f"{key}={value}"]
    return cmd


def run_crawl(spider: str, raw_store: Path, args: dict[str, str] | None = None,
              settings: dict[str, str] | None = None, timeout: float = 60) -> str:
    """Run a crawl in a subprocess (Twisted's reactor cannot restart in-process); return its log."""
    import subprocess

    proc = subprocess.run(crawl_command(spider, raw_store, args, settings), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"crawl {spider} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc.stderr


def read_manifest(raw_store: Path) -> list[dict]:
    path = Path(raw_store) / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_stats(raw_store: Path) -> dict:
    return json.loads((Path(raw_store) / "crawl_stats.json").read_text(encoding="utf-8"))

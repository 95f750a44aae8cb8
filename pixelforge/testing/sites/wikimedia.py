"""The MediaWiki API at ``/w/api.php`` as Wikimedia Commons answers it: a categorymembers generator with imageinfo
and extmetadata, subcategories and ``continue`` tokens; files under ``/wikipedia/commons/x/xy/``."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from pixelforge.testing.http_server import Response, tiny_png
from pixelforge.testing.sites.base import Art, Site, _arts, _query, _write


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

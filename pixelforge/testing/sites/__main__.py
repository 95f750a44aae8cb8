"""``python -m pixelforge.testing.sites KIND IMAGES... --root DIR``: serve a fixture site by hand on 127.0.0.1."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from pixelforge.testing.http_server import FixtureServer
from pixelforge.testing.sites import build_gallery_site, build_opengameart_site, build_wikimedia_site


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pixelforge.testing.sites", description="Serve a fixture site (OpenGameArt, Wikimedia API or gallery) "
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

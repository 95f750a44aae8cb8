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

from pixelforge.testing.sites.base import LICENSES, ROBOTS_TXT, Art, Site
from pixelforge.testing.sites.gallery import build_gallery_site
from pixelforge.testing.sites.opengameart import add_opengameart_node, build_opengameart_site
from pixelforge.testing.sites.wikimedia import build_wikimedia_site

__all__ = ["LICENSES", "ROBOTS_TXT", "Art", "Site", "add_opengameart_node", "build_gallery_site", "build_opengameart_site",
           "build_wikimedia_site"]

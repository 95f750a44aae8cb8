"""`scrapy check`: the spiders' contracts, run against local fixture sites through ``-a base_url=``."""

from __future__ import annotations

import subprocess
import sys

from pixelforge.testing.crawls import REPO
from pixelforge.testing.http_server import FixtureServer
from pixelforge.testing.sites import Art, add_opengameart_node, build_opengameart_site, build_wikimedia_site


def _check(spider: str, base_url: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "scrapy", "check", spider, "-a", f"base_url={base_url}",
           "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_contracts_pass_on_fixture_sites(tmp_path, pixel_files):
    oga_root, wm_root = tmp_path / "oga", tmp_path / "wm"
    oga = build_opengameart_site(oga_root, pixel_files[:5])
    add_opengameart_node(oga_root, "dungeon-crawl-32x32-tiles", Art(file=pixel_files[5], title="Dungeon Crawl"))
    wm = build_wikimedia_site(wm_root, pixel_files[:4])
    with oga.install(FixtureServer(oga_root)) as oga_srv, wm.install(FixtureServer(wm_root)) as wm_srv:
        oga_run = _check("opengameart", oga_srv.url)
        wm_run = _check("wikimedia", wm_srv.url)
        assert oga_srv.count("/content/dungeon-crawl-32x32-tiles") == 1
    assert oga_run.returncode == 0, oga_run.stderr[-3000:]
    assert "Ran 5 contracts" in oga_run.stderr and "OK" in oga_run.stderr
    assert wm_run.returncode == 0, wm_run.stderr[-3000:]
    assert "OK" in wm_run.stderr


def test_contracts_fail_when_the_page_lacks_fields(tmp_path, pixel_files):
    """A node page without licence block or files: the node contract reports it."""
    root = tmp_path / "oga"
    site = build_opengameart_site(root, pixel_files[:5])
    (root / "content" / "dungeon-crawl-32x32-tiles").mkdir(parents=True)
    (root / "content" / "dungeon-crawl-32x32-tiles" / "index.html").write_text("<html><body>moved</body></html>")
    with site.install(FixtureServer(root)) as srv:
        run = _check("opengameart", srv.url)
    assert run.returncode != 0
    assert "FAIL: [opengameart] check_node" in run.stderr and "ERROR" not in run.stderr
    assert "Ran 5 contracts" in run.stderr

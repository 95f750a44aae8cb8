"""Wikimedia (MediaWiki API), the generic gallery config and the combined pixelart spider, on local sites."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.spiders.gallery import GalleryConfig
from crawler.spiders.pixelart import PixelArtSpider
from crawler.spiders.wikimedia import html_to_text
from pixelforge.testing.crawls import read_manifest, read_stats, run_crawl
from pixelforge.testing.http_server import FixtureServer
from pixelforge.testing.sites import build_gallery_site, build_opengameart_site, build_wikimedia_site


@pytest.fixture(scope="module")
def wikimedia(tmp_path_factory, pixel_files):
    root = tmp_path_factory.mktemp("wm-site")
    raw = tmp_path_factory.mktemp("wm-raw")
    site = build_wikimedia_site(root, pixel_files[:9], bad=True)
    with site.install(FixtureServer(root)) as srv:
        run_crawl("wikimedia", raw, {"base_url": srv.url})
        requests = list(srv.requests)
    return {"site": site, "raw": raw, "requests": requests, "url": srv.url}


def test_wikimedia_follows_continue_tokens_and_subcategories(wikimedia):
    records = read_manifest(wikimedia["raw"])
    stored = {urlsplit(r["url"]).path for r in records}
    site = wikimedia["site"]
    assert site.unreachable and stored == set(site.expected_files) - set(site.unreachable)
    api = [parse_qs(urlsplit(p).query) for p in wikimedia["requests"] if p.startswith("/w/api.php")]
    assert any("gcmcontinue" in q for q in api), "continue tokens were not followed"
    assert {q["cmtitle"][0] for q in api if "cmtitle" in q} >= {"Category:Pixel art", "Category:Pixel art sub 0"}
    assert all(q.get("iiprop") == ["url|size|mime|extmetadata"] for q in api if "gcmtitle" in q)


def test_wikimedia_depth_limit(wikimedia, tmp_path, pixel_files):
    """depth=2 (default) reaches Category:Pixel art deep; depth=1 does not."""
    records = read_manifest(wikimedia["raw"])
    deep_file = wikimedia["site"].expected_files[-1]
    assert deep_file in {urlsplit(r["url"]).path for r in records}
    root = tmp_path / "site"
    site = build_wikimedia_site(root, pixel_files[:9])
    with site.install(FixtureServer(root)) as srv:
        run_crawl("wikimedia", tmp_path / "raw", {"base_url": srv.url, "depth": "1"})
    shallow = {urlsplit(r["url"]).path for r in read_manifest(tmp_path / "raw")}
    assert deep_file not in shallow and len(shallow) == 8


def test_wikimedia_provenance_from_extmetadata(wikimedia):
    records = read_manifest(wikimedia["raw"])
    first = next(r for r in records if r["url"].endswith(wikimedia["site"].expected_files[0]))
    assert first["license"] == "CC BY-SA 4.0"
    assert first["license_url"].startswith("https://creativecommons.org/licenses/")
    assert first["author"] == "artist0"  # Artist HTML reduced to text
    assert first["page_url"] == f"{wikimedia['url']}/wiki/File:cybercity-back-buildings.png"
    assert first["title"] == "Cybercity Back Buildings"
    assert "Pixel art" in first["tags"]
    for rec in records:
        data = (wikimedia["raw"] / rec["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == rec["sha256"]


def test_wikimedia_never_fetches_thumbnails_and_counts_bad_api_answers(wikimedia):
    assert not [p for p in wikimedia["requests"] if p.startswith("/thumb/")]
    stats = read_stats(wikimedia["raw"])
    assert stats["errors"]["bad_json"] == 1  # a malformed continuation page
    assert stats["errors"]["missing_fields"] == 1  # a file without imageinfo
    assert stats["errors"]["http_404"] == 1  # the unlicensed file's URL is gone
    # the API is used although robots.txt says Disallow: /w/; files still obey robots.txt
    assert any(p.startswith("/w/api.php") for p in wikimedia["requests"])
    assert "/wikipedia/commons/private/hidden.png" not in wikimedia["requests"]
    assert stats["skips"]["robots_forbidden"] == 1
    assert stats["finish_reason"] == "finished"


def test_html_to_text():
    assert html_to_text('<a href="//x/User:A" title="User:A">Jane <b>Doe</b></a>') == "Jane Doe"
    assert html_to_text("<bdi>Ann</bdi> &amp; Bo") == "Ann & Bo"
    assert html_to_text("Plain  name") == "Plain name"


def test_gallery_spider_with_the_shipped_example_config(tmp_path, pixel_files):
    root = tmp_path / "site"
    site = build_gallery_site(root, pixel_files[:7])
    with FixtureServer(root) as srv:
        run_crawl("gallery", tmp_path / "raw", {"config": "example_gallery", "base_url": srv.url})
        requests = list(srv.requests)
    records = read_manifest(tmp_path / "raw")
    assert {urlsplit(r["url"]).path for r in records} == set(site.expected_files)
    assert not [p for p in requests if "/thumbs/" in p]
    rec = next(r for r in records if r["url"].endswith(pixel_files[0].name))
    assert rec["source"] == "example-gallery" and rec["license"] == "CC0"
    assert rec["author"] == "artist0" and rec["tags"] == ["pixel art", "sprite"]
    assert rec["page_url"].endswith("/gallery/item-0/")


def test_gallery_config_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nstart_urls = []\n[selectors]\nimage_links = "a::attr(href)"\n')
    with pytest.raises(ValueError, match="start_urls"):
        GalleryConfig.load(bad)
    bad.write_text('name = "x"\nstart_urls = ["http://a"]\n')
    with pytest.raises(ValueError, match="missing or unknown key"):
        GalleryConfig.load(bad)
    bad.write_text("name = ")
    with pytest.raises(ValueError, match="bad.toml"):
        GalleryConfig.load(bad)
    assert GalleryConfig.load("example_gallery").enabled is False


def test_pixelart_runs_every_source_or_the_ones_picked(tmp_path, pixel_files):
    root = tmp_path / "site"
    oga = build_opengameart_site(root, pixel_files[:3])
    wm = build_wikimedia_site(root, pixel_files[3:6], subcategories=1)
    with wm.install(oga.install(FixtureServer(root))) as srv:
        run_crawl("pixelart", tmp_path / "all", {"base_url": srv.url})
    everything = read_manifest(tmp_path / "all")
    assert {r["source"] for r in everything} == {"opengameart", "wikimedia"}
    assert len(everything) == 6
    assert read_stats(tmp_path / "all")["sources"].keys() == {"opengameart", "wikimedia"}
    picked = PixelArtSpider(sources="wikimedia", base_url="http://127.0.0.1:1")
    assert list(picked.sources) == ["wikimedia"]
    both = PixelArtSpider(opengameart_base_url="http://127.0.0.2:1", wikimedia_base_url="http://127.0.0.3:1")
    assert both.allowed_domains == ["127.0.0.2", "127.0.0.3"]


def test_opt_in_http_cache_replays_a_crawl_offline(tmp_path, pixel_files):
    root = tmp_path / "site"
    site = build_gallery_site(root, pixel_files[:2])
    cache = {"HTTPCACHE_ENABLED": "1", "HTTPCACHE_DIR": str(tmp_path / "cache")}
    with FixtureServer(root) as srv:
        args = {"config": "example_gallery", "base_url": srv.url}
        run_crawl("gallery", tmp_path / "raw1", args, cache)
        first = len(srv.requests)
        run_crawl("gallery", tmp_path / "raw2", args, cache)
        assert len(srv.requests) == first  # the second crawl came entirely from the cache
    assert len(read_manifest(tmp_path / "raw2")) == len(site.expected_files) == 2
    assert {r["sha256"] for r in read_manifest(tmp_path / "raw1")} == {r["sha256"] for r in read_manifest(tmp_path / "raw2")}

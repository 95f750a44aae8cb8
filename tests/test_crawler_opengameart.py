"""The OpenGameArt spider against a local Drupal-shaped site, bad inputs included; the raw store contract."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from pixelforge.rawstore import MANIFEST_FIELDS
from pixelforge.testing.crawls import read_manifest, read_stats, run_crawl
from pixelforge.testing.http_server import FixtureServer
from pixelforge.testing.sites import build_opengameart_site

ISSUE_FIELDS = ["sha256", "path", "bytes", "content_type", "url", "page_url", "source", "title", "author",
                "license", "license_url", "tags", "fetched_at", "licenses"]


@pytest.fixture(scope="module")
def oga(tmp_path_factory, pixel_files):
    """One crawl of a site with 6 good nodes, a zip pack and every bad input, shared by the tests below."""
    root = tmp_path_factory.mktemp("oga-site")
    raw = tmp_path_factory.mktemp("oga-raw")
    site = build_opengameart_site(root, pixel_files[:6], bad=True, zip_pack=True)
    with site.install(FixtureServer(root)) as srv:
        log = run_crawl("opengameart", raw, {"base_url": srv.url})
        stats = read_stats(raw)
        first_requests = list(srv.requests)
        srv.requests.clear()
        rerun_log = run_crawl("opengameart", raw, {"base_url": srv.url})
        second_requests = list(srv.requests)
    return {"site": site, "raw": raw, "url": srv.url, "log": log, "first": first_requests,
            "second": second_requests, "rerun_log": rerun_log, "stats": stats}


def test_manifest_has_exactly_the_contract_fields(oga):
    assert list(MANIFEST_FIELDS) == ISSUE_FIELDS
    records = read_manifest(oga["raw"])
    assert records
    for rec in records:
        assert list(rec) == ISSUE_FIELDS
        assert isinstance(rec["tags"], list) and isinstance(rec["bytes"], int)
        assert rec["source"] == "opengameart"


def test_original_bytes_stored_untouched_and_content_addressed(oga):
    records = read_manifest(oga["raw"])
    site_root = oga["site"].root
    for rec in records:
        stored = oga["raw"] / rec["path"]
        data = stored.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert rec["sha256"] == digest and rec["bytes"] == len(data)
        assert rec["path"] == f"files/{digest[:2]}/{digest}.{stored.suffix.lstrip('.')}"
        served = site_root / unquote(urlsplit(rec["url"]).path).lstrip("/")
        assert served.read_bytes() == data  # byte for byte what the site served
    stored_urls = {urlsplit(r["url"]).path for r in records}
    assert {unquote(p) for p in stored_urls} == set(oga["site"].expected_files)
    zip_rec = next(r for r in records if r["url"].endswith(".zip"))
    assert zip_rec["content_type"] == "application/zip" and zip_rec["path"].endswith(".zip")
    assert zip_rec["license"] == "CC-BY-SA 3.0"  # first of a dual licence
    assert [x["name"] for x in zip_rec["licenses"]] == ["CC-BY-SA 3.0", "GPL 3.0"]  # and both kept
    assert not list(oga["raw"].rglob(".part-*"))


def test_provenance_licence_author_and_tags(oga):
    records = read_manifest(oga["raw"])
    by_page = {urlsplit(r["page_url"]).path: r for r in records}
    first = by_page["/content/art-0000-cybercity-back-buildings"]
    assert first["license"] == "CC0"
    assert first["license_url"] == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert first["author"] == "artist0" and first["title"] == "Cybercity Back Buildings"
    assert first["tags"] == ["pixel art"]
    assert by_page["/content/art-0001-cybercity-far-buildings"]["license"] == "CC-BY 4.0"
    unlicensed = by_page["/content/no-license"]
    assert unlicensed["license"] == "unknown" and unlicensed["license_url"] == ""
    assert unlicensed["licenses"] == [{"name": "unknown", "url": ""}]
    assert first["licenses"] == [{"name": "CC0", "url": first["license_url"]}]


def test_same_bytes_stored_once_with_every_provenance(oga):
    records = read_manifest(oga["raw"])
    first = next(r for r in records if r["page_url"].endswith("/content/art-0000-cybercity-back-buildings"))
    same = [r for r in records if r["sha256"] == first["sha256"]]
    # the original page, a second page listing the same URL, and other bytes-identical file
    assert {urlsplit(r["page_url"]).path for r in same} == {
        "/content/art-0000-cybercity-back-buildings", "/content/same-file-again", "/content/duplicate-bytes"}
    assert len({r["path"] for r in same}) == 1
    assert len(list((oga["raw"] / "files").rglob(f"{first['sha256']}.*"))) == 1
    pairs = [(r["url"], r["page_url"]) for r in records]
    assert len(pairs) == len(set(pairs))


def test_previews_never_fetched_and_offsite_redirect_not_followed(oga):
    paths = [urlsplit(p).path for p in oga["first"]]
    assert not [p for p in paths if "/styles/" in p]
    assert "/content/moved-away" in paths
    assert "/content/art-0000" not in paths  # the redirect target on "localhost", another domain
    assert oga["stats"]["skips"]["offsite"] == 1
    assert oga["stats"]["skips"]["thumbnail"] == 1


def test_bad_inputs_counted_by_reason_and_crawl_goes_on(oga):
    stats = oga["stats"]
    records = read_manifest(oga["raw"])
    assert stats["finish_reason"] == "finished"
    assert stats["files"] == len({r["sha256"] for r in records}) == 8  # 6 art + zip + odd name
    assert stats["bytes"] == sum({r["sha256"]: r["bytes"] for r in records}.values())
    assert stats["provenance_added"] == 2
    assert stats["pages"] >= 2 + 6 + 7
    assert stats["errors"]["http_404"] == 2  # a file and a node page
    for reason in ("http_500", "truncated", "html_not_file", "empty_body", "redirect_loop", "missing_fields"):
        assert stats["errors"][reason] == 1, reason
    assert stats["store"] == {"files": 8, "records": len(records), "bytes": stats["bytes"]}
    assert stats["sources"]["opengameart"]["files"] == 8


def test_rerun_skips_everything_already_stored(oga):
    records = read_manifest(oga["raw"])
    second_files = [p for p in oga["second"] if "/sites/default/files/" in p]
    assert second_files == []  # nothing downloaded again
    assert len(read_manifest(oga["raw"])) == len(records)
    stats = read_stats(oga["raw"])
    assert stats["files"] == 0 and stats["provenance_added"] == 0
    assert stats["skips"]["already_stored"] == len(records)


def test_licence_filter_and_limit(tmp_path, pixel_files):
    """One crawl: 8 works alternating CC0 / CC-BY 4.0, keep "CC BY 4.0" (another spelling), at most 3."""
    root = tmp_path / "site"
    site = build_opengameart_site(root, pixel_files[:8], per_page=2)
    with site.install(FixtureServer(root)) as srv:
        run_crawl("opengameart", tmp_path / "raw", {"base_url": srv.url, "licenses": "CC BY 4.0", "limit": "3"})
    kept = read_manifest(tmp_path / "raw")
    assert len({r["sha256"] for r in kept}) == len(kept) == 3
    assert {r["license"] for r in kept} == {"CC-BY 4.0"}
    stats = read_stats(tmp_path / "raw")
    assert stats["skips"]["license_filtered"] >= 3
    assert stats["sources"]["opengameart"]["in_store"] == 3


def test_multi_licence_node_keeps_every_licence_and_filter_keeps_on_any(tmp_path, pixel_files):
    """A node offered under "CC-BY-SA 3.0, GPL 2.0": unfiltered, both are recorded, the first is ``license``;
    filtered to "GPL 2.0" alone, the work is kept (one of its licences is allowed) and still lists both."""
    root = tmp_path / "site"
    site = build_opengameart_site(root, pixel_files[:2], multi_license=True)
    both = [{"name": "CC-BY-SA 3.0", "url": "http://creativecommons.org/licenses/by-sa/3.0/"},
            {"name": "GPL 2.0", "url": "http://www.gnu.org/licenses/old-licenses/gpl-2.0.html"}]
    with site.install(FixtureServer(root)) as srv:
        run_crawl("opengameart", tmp_path / "all", {"base_url": srv.url})
        run_crawl("opengameart", tmp_path / "gpl", {"base_url": srv.url, "licenses": "GPL 2.0"})
    dual = next(r for r in read_manifest(tmp_path / "all") if r["page_url"].endswith("/content/multi-license"))
    assert dual["licenses"] == both
    assert (dual["license"], dual["license_url"]) == (both[0]["name"], both[0]["url"])
    kept = read_manifest(tmp_path / "gpl")
    assert [urlsplit(r["page_url"]).path for r in kept] == ["/content/multi-license"]  # CC0 / CC-BY dropped
    assert kept[0]["licenses"] == both
    assert (kept[0]["license"], kept[0]["license_url"]) == (both[1]["name"], both[1]["url"])  # the allowed one
    assert read_stats(tmp_path / "gpl")["skips"]["license_filtered"] == 2


def test_scrapy_list_shows_every_spider():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=Path(__file__).parents[1],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["gallery", "opengameart", "pixelart", "wikimedia"]

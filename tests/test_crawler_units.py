"""Small pure pieces of the crawler: sniffing, licence choice, failure reasons, settings switches."""

from __future__ import annotations

import pytest
from scrapy.exceptions import IgnoreRequest
from scrapy.settings import Settings
from twisted.internet.error import DNSLookupError, TimeoutError
from twisted.python.failure import Failure

from crawler.reasons import CrawlError, reason_of
from crawler.spiders.base import normalize_license
from crawler.spiders.opengameart import OpenGameArtSpider
from pixelforge.rawstore import extension_for, looks_like_html, sniff
from pixelforge.testing.http_server import tiny_png


def test_sniff_and_extension():
    png = tiny_png()
    assert sniff(png) == ("png", "image/png")
    assert sniff(b"GIF89a....") == ("gif", "image/gif")
    assert sniff(b"PK\x03\x04rest") == ("zip", "application/zip")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("webp", "image/webp")
    assert sniff(b"hello") is None
    # the bytes win over a lying URL; odd URLs fall back safely
    assert extension_for(png, "/files/sheet.jpg", "image/jpeg") == ("png", "image/png")
    assert extension_for(b"\x00aseprite", "/x/hero.ASE", "") == ("ase", "application/octet-stream")
    assert extension_for(b"\x00", "/x/../we ird.%%%", "image/x-unknown")[0] == "bin"
    assert looks_like_html(b"  <!DOCTYPE html><html>") and looks_like_html(b"<HTML><body>")
    assert not looks_like_html(png)


def test_normalize_license_and_choice():
    assert normalize_license("CC-BY 4.0") == normalize_license("cc by 4.0") == "CC BY 4.0"
    assert normalize_license("CC_BY-SA  3.0") == "CC BY SA 3.0"
    spider = OpenGameArtSpider(licenses="CC0, CC-BY 4.0")
    assert spider.pick_license([("GPL 3.0", "g"), ("CC BY 4.0", "c")]) == ("CC BY 4.0", "c")
    assert spider.pick_license([("GPL 3.0", "g")]) is None
    assert spider.pick_license([]) is None  # unknown is not in the list
    assert OpenGameArtSpider(licenses="CC0,unknown").pick_license([]) == ("unknown", "")
    anything = OpenGameArtSpider()
    assert anything.pick_license([]) == ("unknown", "")  # never invented
    assert anything.pick_license([("GPL 3.0", "g"), ("CC0", "c")]) == ("GPL 3.0", "g")


def test_reasons():
    assert reason_of(Failure(TimeoutError())) == "timeout"
    assert reason_of(Failure(DNSLookupError())) == "dns"
    assert reason_of(CrawlError("html_not_file")) == "html_not_file"
    assert reason_of(IgnoreRequest("max redirections reached")) == "redirect_loop"
    assert reason_of(IgnoreRequest("Forbidden by robots.txt")) == "robots_forbidden"
    assert reason_of(ValueError("x")) == "ValueError"


def _settings(**overrides) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for key, value in overrides.items():
        settings.set(key, value, priority="cmdline")
    OpenGameArtSpider.update_settings(settings)
    return settings


def test_redis_switch_and_contact_setting():
    plain = _settings()
    assert plain["DUPEFILTER_CLASS"] == "crawler.dupefilter.MemoryDupeFilter"
    assert "scrapy_redis" not in str(plain.get("SCHEDULER"))
    shared = _settings(REDIS_URL="redis://127.0.0.1:6379/0")
    assert shared["SCHEDULER"] == "scrapy_redis.scheduler.Scheduler"
    assert shared["DUPEFILTER_CLASS"] == "scrapy_redis.dupefilter.RFPDupeFilter"
    contact = _settings(CONTACT="mailto:me@example.org")
    assert "mailto:me@example.org" in contact["USER_AGENT"]
    explicit = _settings(CONTACT="x", USER_AGENT="mine/1.0")
    assert explicit["USER_AGENT"] == "mine/1.0"


def test_base_url_moves_allowed_domains():
    real = OpenGameArtSpider()
    assert real.allowed_domains == ["opengameart.org"]
    local = OpenGameArtSpider(base_url="http://127.0.0.1:8000", file_hosts="cdn.example.org")
    assert local.allowed_domains == ["127.0.0.1", "cdn.example.org"]
    with pytest.raises(ValueError, match="unknown source"):
        OpenGameArtSpider(sources="wikimedia")

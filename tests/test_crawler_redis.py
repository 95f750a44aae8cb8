"""Distributed crawling: two crawler processes share one scrapy-redis queue and dupefilter."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from urllib.parse import unquote, urlsplit

import pytest

from pixelforge.testing.crawls import REPO, crawl_command, read_manifest
from pixelforge.testing.http_server import FixtureServer, Response, tiny_png
from pixelforge.testing.redis_server import redis_server
from pixelforge.testing.sites import build_opengameart_site


@pytest.fixture
def redis_url(tmp_path):
    try:
        with redis_server(tmp_path / "redis") as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


def test_two_processes_share_one_queue_and_fetch_nothing_twice(tmp_path, redis_url):
    """40 slow node pages: one worker alone needs ~8 s, an idle worker re-polls the shared queue
    every 5 s (Scrapy's heartbeat), so both take part."""
    (tmp_path / "art").mkdir()
    files = []
    for i in range(40):
        files.append(tmp_path / "art" / f"sprite-{i:02d}.png")
        files[-1].write_bytes(tiny_png((i * 6, 90, 200 - i), size=6))
    root = tmp_path / "site"
    site = build_opengameart_site(root, files, per_page=10)
    with site.install(FixtureServer(root)) as srv:
        def slow_node(handler) -> Response:  # long enough that the second worker joins in
            time.sleep(0.4)
            return srv.serve_file(unquote(urlsplit(handler.path).path))

        srv.route("/content/", slow_node)
        settings = {"REDIS_URL": redis_url, "REDIS_IDLE_CLOSE_AFTER": "1", "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
                    "CONCURRENT_REQUESTS": "2"}  # take 2 at a time: the rest stays in the shared queue
        procs = [subprocess.Popen(crawl_command("opengameart", tmp_path / f"raw{i}", {"base_url": srv.url}, settings),
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(2)]
        logs = [p.communicate(timeout=90)[1] for p in procs]
        for proc, log in zip(procs, logs):
            assert proc.returncode == 0, log[-3000:]
        requests = [p for p in srv.requests if urlsplit(p).path != "/robots.txt"]
    assert "scrapy_redis.scheduler.Scheduler" in logs[0]
    twice = [path for path, n in Counter(requests).items() if n > 1]
    assert twice == []  # the shared dupefilter: no URL fetched by both workers
    stores = [read_manifest(tmp_path / f"raw{i}") for i in range(2)]
    urls = [unquote(urlsplit(r["url"]).path) for store in stores for r in store]
    assert sorted(urls) == sorted(site.expected_files)  # together they stored everything, once
    assert all(stores), "both workers took part"

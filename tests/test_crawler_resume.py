"""Kill -9 mid-crawl and resume with the same JOBDIR: nothing lost, no duplicate records; manifest repair."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pixelforge.rawstore import Manifest, ManifestRecord
from pixelforge.testing.crawls import REPO, crawl_command, read_manifest, run_crawl
from pixelforge.testing.http_server import FixtureServer, Response, tiny_png
from pixelforge.testing.sites import build_opengameart_site


def _tiny_pngs(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        path = folder / f"sprite-{i:04d}.png"
        path.write_bytes(tiny_png((i % 256, i // 256, 77), size=4))
        out.append(path)
    return out


def test_sigkill_and_resume_loses_nothing(tmp_path):
    """400 nodes, so Scrapy's persisted dupefilter would flush fingerprints of pages that die with the
    queue (its requests.seen buffer is 8 KiB); ours re-walks pages and skips stored files."""
    files = _tiny_pngs(tmp_path / "art", 400)
    root, raw, job = tmp_path / "site", tmp_path / "raw", tmp_path / "job"
    site = build_opengameart_site(root, files, per_page=100)
    slow = threading.Event()
    slow.set()
    with site.install(FixtureServer(root)) as srv:
        def files_route(handler) -> Response:
            if slow.is_set():
                time.sleep(0.2)
            return srv.serve_file(unquote(urlsplit(handler.path).path))

        srv.route("/sites/default/files/", files_route)
        args = {"base_url": srv.url}
        settings = {"JOBDIR": str(job), "CONCURRENT_REQUESTS_PER_DOMAIN": "4"}
        proc = subprocess.Popen(crawl_command("opengameart", raw, args, settings), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(read_manifest(raw)) < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        slow.clear()
        before = read_manifest(raw)
        assert 6 <= len(before) < len(files), "the kill must land mid-crawl"
        srv.requests.clear()
        run_crawl("opengameart", raw, args, {**settings, "CONCURRENT_REQUESTS_PER_DOMAIN": "16"}, timeout=120)
        refetched = [p for p in srv.requests if p.startswith("/sites/default/files/")]
    records = read_manifest(raw)
    assert records[: len(before)] == before  # appended to, never rewritten
    assert {unquote(urlsplit(r["url"]).path) for r in records} == set(site.expected_files)
    pairs = [(r["url"], r["page_url"]) for r in records]
    assert len(pairs) == len(set(pairs)) == len(files)
    stored_before = {urlsplit(r["url"]).path for r in before}
    assert not stored_before & {urlsplit(p).path for p in refetched}  # stored files not downloaded again
    for rec in records:
        assert hashlib.sha256((raw / rec["path"]).read_bytes()).hexdigest() == rec["sha256"]
    assert (raw / "manifest.jsonl").read_bytes().endswith(b"\n")


def _record(n: int) -> ManifestRecord:
    return ManifestRecord(sha256=f"{n:064x}", path=f"files/00/{n:064x}.png", bytes=n, content_type="image/png",
                          url=f"http://a/{n}.png", page_url="http://a/p", source="t", title="", author="",
                          license="unknown", license_url="", tags=[], fetched_at="2026-01-01T00:00:00+00:00")


def test_manifest_repairs_a_torn_last_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path, fsync=True)
    manifest.append(_record(1))
    manifest.append(_record(2))
    manifest.close()
    good = path.read_bytes()
    path.write_bytes(good + _record(3).to_line()[:40])  # power loss mid-append
    reopened = Manifest(path)
    assert [r["bytes"] for r in reopened.load()] == [1, 2]
    assert path.read_bytes() == good
    reopened.append(_record(4))
    reopened.close()
    assert [json.loads(line)["bytes"] for line in path.read_text().splitlines()] == [1, 2, 4]


def test_manifest_skips_garbage_lines(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(_record(1).to_line() + b"not json\n" + b'{"x": 1}\n' + _record(2).to_line())
    assert [r["bytes"] for r in Manifest(path).load()] == [1, 2]


def test_store_writes_files_atomically(tmp_path):
    from io import BytesIO

    from crawler.pipelines import AtomicFSFilesStore

    store = AtomicFSFilesStore(str(tmp_path))
    store.persist_file("files/ab/x.png", BytesIO(b"abc"), info=None)
    store.persist_file("files/ab/x.png", BytesIO(b"abc"), info=None)
    assert (tmp_path / "files/ab/x.png").read_bytes() == b"abc"
    assert [p.name for p in Path(tmp_path, "files/ab").iterdir()] == ["x.png"]

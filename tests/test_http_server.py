import time

import requests

from pixelforge.testing.http_server import Response


def test_serves_files_and_records_requests(http_server):
    (http_server.root / "a.txt").write_text("hello")
    r = requests.get(http_server.url + "/a.txt", timeout=5)
    assert r.status_code == 200 and r.text == "hello"
    assert requests.get(http_server.url + "/missing", timeout=5).status_code == 404
    assert http_server.count("/a.txt") == 1
    assert http_server.url.startswith("http://127.0.0.1:")


def test_status_slow_and_redirect_loop(http_server):
    assert requests.get(http_server.url + "/__status/500", timeout=5).status_code == 500
    t0 = time.monotonic()
    assert requests.get(http_server.url + "/__slow/0.3", timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.3
    try:
        requests.get(http_server.url + "/__loop/0", timeout=5)
        raise AssertionError("redirect loop was followed to the end")
    except requests.TooManyRedirects:
        pass


def test_bad_bodies(http_server):
    r = requests.get(http_server.url + "/__html-as-png.png", timeout=5)
    assert r.headers["Content-Type"] == "image/png" and r.content.startswith(b"<!doctype html>")
    assert requests.get(http_server.url + "/__empty.png", timeout=5).content == b""
    try:
        body = requests.get(http_server.url + "/__truncated.png", timeout=5).content
        truncated = len(body) < 100
    except requests.exceptions.ChunkedEncodingError:
        truncated = True
    assert truncated


def test_429_then_ok_and_custom_route(http_server):
    r1 = requests.get(http_server.url + "/__429/x", timeout=5)
    assert r1.status_code == 429 and r1.headers["Retry-After"] == "1"
    assert requests.get(http_server.url + "/__429/x", timeout=5).status_code == 200
    http_server.route("/api", lambda h: Response(200, b'{"ok": true}', content_type="application/json"))
    assert requests.get(http_server.url + "/api", timeout=5).json() == {"ok": True}


def test_path_escape_is_refused(http_server):
    (http_server.root.parent / "secret.txt").write_text("no")
    r = requests.get(http_server.url + "/%2E%2E/secret.txt", timeout=5)
    assert r.status_code in (403, 404)

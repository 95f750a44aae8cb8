"""A local HTTP server for tests and the demo: serves a folder plus misbehaving routes.

Binds 127.0.0.1 on an ephemeral port. Special routes reproduce what real sites do to a
crawler or a downloader:

=====================  ===============================================================
``/__status/404``      any status code, e.g. 404 or 500
``/__slow/<seconds>``  answers after a delay (timeouts)
``/__loop/<n>``        redirects to ``/__loop/<n+1>`` forever (redirect loops)
``/__truncated.png``   announces more bytes than it sends, then closes (truncated body)
``/__html-as-png.png`` an HTML page served as ``image/png`` (wrong content type)
``/__empty.png``       an empty ``image/png`` body
``/__429/<key>``       429 with ``Retry-After: 1`` the first time per key, then a PNG
=====================  ===============================================================

Every request path is recorded in :attr:`FixtureServer.requests`, so tests can assert that
nothing was fetched twice. Extra routes are plain callables: ``server.route("/x", fn)``, where
``fn(handler) -> Response``.

Run it by hand: ``python -m pixelforge.testing.http_server DIR [--port N]``.
"""

from __future__ import annotations

import argparse
import io
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"


Route = Callable[["_Handler"], Response]


def tiny_png(color: tuple[int, int, int] = (200, 40, 40), size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's handler: keep-alive HTTP/1.1, as real servers answer, and no log line per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _Handler(QuietHandler):
    server: _Server

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def _send(self, resp: Response, send_body: bool) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        if "Content-Length" not in resp.headers:
            self.send_header("Content-Length", str(len(resp.body)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(resp.body)

    def _dispatch(self, send_body: bool) -> None:
        owner = self.server.owner
        path = unquote(urlsplit(self.path).path)
        with owner.lock:
            owner.requests.append(self.path)
        for prefix, route in owner.routes:
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                resp = route(self)
                if resp.headers.get("X-Fixture-Truncate"):
                    self._send_truncated(resp)
                    return
                self._send(resp, send_body)
                return
        self._send(owner.serve_file(path), send_body)

    def _send_truncated(self, resp: Response) -> None:
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body) * 4))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(resp.body)
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FixtureServer


class FixtureServer:
    """``with FixtureServer(folder) as srv: requests.get(srv.url + "/a.png")``."""

    def __init__(self, root: str | Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root) if root is not None else None
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.routes: list[tuple[str, Route]] = []
        self._429_seen: set[str] = set()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None
        self._install_special_routes()

    # -- lifecycle -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FixtureServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fixture-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- routes ----------------------------------------------------------------------
    def route(self, path: str, handler: Route) -> None:
        """Add a route; a path ending in ``/`` matches everything below it. Newest wins."""
        self.routes.insert(0, (path, handler))

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for p in self.requests if urlsplit(p).path == path)

    def serve_file(self, path: str) -> Response:
        if self.root is None:
            return Response(404, b"not found")
        target = (self.root / path.lstrip("/")).resolve()
        root = self.root.resolve()
        if root not in target.parents and target != root:
            return Response(403, b"forbidden")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return Response(404, b"<html><body>not found</body></html>")
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/json", "application/xml"):
            ctype += "; charset=utf-8"
        return Response(200, target.read_bytes(), content_type=ctype)

    def _install_special_routes(self) -> None:
        def status(h: _Handler) -> Response:
            code = int(urlsplit(h.path).path.rsplit("/", 1)[-1])
            return Response(code, f"<html><body>status {code}</body></html>".encode())

        def slow(h: _Handler) -> Response:
            time.sleep(float(urlsplit(h.path).path.rsplit("/", 1)[-1]))
            return Response(200, tiny_png(), content_type="image/png")

        def loop(h: _Handler) -> Response:
            n = int(urlsplit(h.path).path.rsplit("/", 1)[-1])
            return Response(302, b"", headers={"Location": f"/__loop/{n + 1}"})

        def truncated(h: _Handler) -> Response:
            data = tiny_png(size=64)
            return Response(200, data[: len(data) // 2], {"X-Fixture-Truncate": "1"}, "image/png")

        def html_as_png(h: _Handler) -> Response:
            return Response(200, b"<!doctype html><html><body>not an image</body></html>", content_type="image/png")

        def empty(h: _Handler) -> Response:
            return Response(200, b"", content_type="image/png")

        def too_many(h: _Handler) -> Response:
            key = urlsplit(h.path).path
            with self.lock:
                first = key not in self._429_seen
                self._429_seen.add(key)
            if first:
                return Response(429, b"slow down", {"Retry-After": "1"})
            return Response(200, tiny_png((40, 40, 200)), content_type="image/png")

        for path, fn in (
            ("/__status/", status),
            ("/__slow/", slow),
            ("/__loop/", loop),
            ("/__truncated.png", truncated),
            ("/__html-as-png.png", html_as_png),
            ("/__empty.png", empty),
            ("/__429/", too_many),
        ):
            self.routes.append((path, fn))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a folder on 127.0.0.1 with the fixture routes.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = FixtureServer(args.root, port=args.port)
    print(server.url, flush=True)
    server._httpd.serve_forever()


if __name__ == "__main__":
    main()

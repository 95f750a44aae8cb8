"""The HTTP side of :mod:`pixelforge.testing.fake_hub`: one request as the Hub's code sees it, and the threaded
server that reads requests (chunked bodies included), records them, asks the hub for a reply and sends it back.

Kept apart so ``fake_hub`` reads as what the Hub does; this module only knows that a hub has ``lock``,
``requests``, ``dispatch``, ``hangs`` and ``released``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from pixelforge.testing.http_server import QuietHandler

#: (status, JSON-able payload or bytes, extra headers)
Reply = tuple[int, object, dict[str, str]]


@dataclass
class HubRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class Hub(Protocol):
    """What the server needs of a hub."""

    lock: threading.Lock
    requests: list[HubRequest]
    released: threading.Event  # set on exit: hung handlers give up then

    def dispatch(self, req: HubRequest) -> Reply: ...

    def hangs(self, req: HubRequest) -> bool: ...


class HubHandler(QuietHandler):
    server: HubServer

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self, head: bool = False) -> None:
        parts = urlsplit(self.path)
        req = HubRequest(
            method=self.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._body(),
        )
        hub = self.server.hub
        with hub.lock:
            hub.requests.append(req)
        status, payload, headers = hub.dispatch(req)
        if hub.hangs(req):  # the request was handled (a commit lands), but no answer ever comes
            hub.released.wait()
            self.close_connection = True
            return
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if not isinstance(payload, bytes) else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def do_HEAD(self) -> None:
        self._handle(head=True)


class HubServer(ThreadingHTTPServer):
    daemon_threads = True
    hub: Hub

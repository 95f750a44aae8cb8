"""What every stage that talks to the Hugging Face Hub shares: bounded requests, the endpoint, the token.

``curate push`` (datasets), ``train publish`` (models) and ``pixelate --checkpoint hf://`` (downloads)
all go through huggingface_hub; this module holds the parts they must agree on, so no stage
imports another:

* :func:`hub_timeouts` bounds every request huggingface_hub makes (its own client waits forever);
  a request that times out surfaces as :class:`HubNoAnswer`, which its backoff does not retry.
* :func:`endpoint_url` reads ``HF_ENDPOINT`` when called (huggingface_hub reads it once, at import).
* :func:`write_token` reads ``HF_TOKEN`` or the login cache; :func:`redact` removes a token from any
  text before it is shown. A token is passed to huggingface_hub only, never printed or written.
* :func:`describe_hub_error` turns an upload failure into one sentence people can act on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import get_token, set_client_factory
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError


class HubNoAnswer(TimeoutError):
    """The Hub did not answer one request in time (not retried: it may have acted on it)."""


class HubUploadError(Exception):
    """An upload that could not be done; the message is safe to print (no token) and says what to do."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class UploadFile:
    """One file of a planned upload: where it goes in the repo, where it is here, its size."""

    path_in_repo: str
    local_path: Path
    size: int


def _http_library() -> Any:
    """The HTTP library huggingface_hub uses (``httpx2`` from 2.0, ``httpx`` in 1.x; the same API)."""
    from huggingface_hub.utils import _http as hf_http

    lib = getattr(hf_http, "httpx2", None) or getattr(hf_http, "httpx", None)
    if lib is None:  # pragma: no cover - huggingface_hub < 1.0 used requests
        raise RuntimeError("pixelforge needs huggingface_hub >= 1.0")
    return lib


def _deadline_client(timeout: float) -> Any:
    """An HTTP client like huggingface_hub's, whose every request is bounded by ``timeout`` seconds.

    The bound is set in the transport, so it holds even where huggingface_hub passes
    ``timeout=None``; a timeout surfaces as :class:`HubNoAnswer`, which its backoff does not retry.
    """
    from huggingface_hub.utils import _http as hf_http

    lib = _http_library()

    class Stream(lib.SyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, inner: Any, what: str) -> None:
            self.inner, self.what = inner, what

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self.inner
            except lib.TimeoutException as exc:
                raise HubNoAnswer(f"no answer within {timeout:g} s ({self.what})") from exc

        def close(self) -> None:
            self.inner.close()

    class Transport(lib.BaseTransport):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            self.inner = lib.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            asked = dict(request.extensions.get("timeout") or {})
            request.extensions["timeout"] = {k: min(asked.get(k) or timeout, timeout)
                                             for k in ("connect", "read", "write", "pool")}
            what = f"{request.method} {request.url.path}"
            try:
                response = self.inner.handle_request(request)
            except lib.TimeoutException as exc:
                raise HubNoAnswer(f"no answer within {timeout:g} s ({what})") from exc
            return lib.Response(status_code=response.status_code, headers=response.headers,
                                stream=Stream(response.stream, what), extensions=response.extensions)

        def close(self) -> None:
            self.inner.close()

    hooks = {"request": [hf_http.hf_request_event_hook]} if hasattr(hf_http, "hf_request_event_hook") else {}
    return lib.Client(event_hooks=hooks, follow_redirects=True, timeout=lib.Timeout(timeout), transport=Transport())


@contextmanager
def hub_timeouts(timeout: float) -> Iterator[None]:
    """Within the block, every huggingface_hub request is bounded by ``timeout`` seconds."""
    from huggingface_hub.utils import _http as hf_http

    previous = getattr(hf_http, "_GLOBAL_CLIENT_FACTORY", hf_http.default_client_factory)
    set_client_factory(lambda: _deadline_client(timeout))
    try:
        yield
    finally:
        set_client_factory(previous)


def endpoint_url() -> str | None:
    """``HF_ENDPOINT`` as set now (huggingface_hub reads it only once, at import)."""
    value = os.environ.get("HF_ENDPOINT")
    return value.rstrip("/") if value else None


def hub_url() -> str:
    """The Hub people will see in messages: ``HF_ENDPOINT`` or huggingface.co."""
    return endpoint_url() or "https://huggingface.co"


def offline() -> bool:
    """``HF_HUB_OFFLINE`` as set now, or as huggingface_hub read it at import."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    if value is not None:
        return value.strip().upper() in {"1", "ON", "YES", "TRUE"}
    return bool(constants.HF_HUB_OFFLINE)


def write_token() -> str | None:
    """The token from ``HF_TOKEN`` or huggingface_hub's login cache, or None."""
    return get_token() or None


def redact(text: str, token: str | None) -> str:
    """Remove the token from any text before it is printed."""
    return text.replace(token, "<token>") if token else text


_NETWORK_ERRORS = {"TransportError", "NetworkError", "ConnectError", "TimeoutException", "ConnectionError", "TimeoutError"}


def is_network_error(exc: BaseException) -> bool:
    """Connection refused, DNS, timeouts: by class name, so it holds for httpx, httpx2 and requests alike."""
    return any(cls.__name__ in _NETWORK_ERRORS for cls in type(exc).__mro__)


def find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` in its chain (huggingface_hub wraps some)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def describe_hub_error(exc: BaseException, repo_id: str, where: str) -> str:
    """One sentence for an upload that failed: token, rights, rate limit, Hub or network (no token in it
    unless the caller's exception carried one: always pass the result through :func:`redact`)."""
    if isinstance(exc, LocalTokenNotFoundError):
        return "no Hugging Face token: set HF_TOKEN or run `hf auth login`."
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return "the Hub rejected the token (401 Unauthorized): set a valid HF_TOKEN or run `hf auth login`."
        if status == 403:
            return f"the token may not write to {repo_id} (403 Forbidden): use a write token for that namespace."
        if status == 429:
            retry = exc.response.headers.get("Retry-After")
            return "rate limited by the Hub (429 Too Many Requests)" + (
                f"; retry in {retry} s." if retry else "; wait a few minutes and retry."
            )
        if status >= 500:
            return f"the Hub failed ({status}); try again later. Server said: {exc}"
        return f"the Hub answered {status}: {exc}"
    if is_network_error(exc):
        return f"network error while talking to {where}: {type(exc).__name__}: {exc}"
    if isinstance(exc, ValueError):
        return f"the Hub refused the upload: {exc}"
    return f"upload failed: {type(exc).__name__}: {exc}"

"""Checkpoints from the Hugging Face Hub: ``hf://OWNER/NAME[@REVISION][/PATH]`` becomes a local folder.

The scheme is required. Anything without ``hf://`` is a local path and stays one: a mistyped
``runs/nam`` is a "no such folder" error, never a download. :func:`resolve_checkpoint` is the one
entry point ``pixelate --checkpoint``, the web app and ``train --init-from`` share.

Only what loading needs is downloaded, through huggingface_hub's cache (``HF_HOME`` /
``HF_HUB_CACHE``): the generators ``G_A.safetensors`` and ``G_B.safetensors`` and ``config.json``, as
``train publish`` lays out a model repo. Pickles (``.pth``, ``.bin``, ``.ckpt``) are never fetched
from the Hub. ``HF_ENDPOINT`` picks the Hub, ``HF_HUB_OFFLINE=1`` loads from the cache alone, a
private repo is read with ``HF_TOKEN`` or the login cache, and every request is bounded by a short
timeout, so a Hub that is down is an error in seconds, with the hint to pass a local folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from pixelforge.hub import (
    HubNoAnswer,
    endpoint_url,
    find_cause,
    hub_timeouts,
    hub_url,
    is_network_error,
    offline,
    redact,
)
from pixelforge.model.checkpoint import DIRECTIONS, CheckpointError

SCHEME = "hf://"
#: Seconds one Hub request may take (connect, or wait for the next bytes) when loading a model.
DOWNLOAD_TIMEOUT = 15.0
#: The files a model repo holds for loading (``train publish`` writes them at the repo's root).
GENERATOR_FILES = tuple(f"{name}.safetensors" for name in DIRECTIONS)
CONFIG_FILE = "config.json"
_PICKLES = (".pth", ".pt", ".bin", ".ckpt", ".pkl")
_REVISION = re.compile(r"^(?P<rev>refs/pr/\d+|[^/]+)(?:/(?P<path>.*))?$")


class HubModelError(CheckpointError):
    """A ``hf://`` model that cannot be had: bad name, no such repo, no generator in it, no network."""


@dataclass(frozen=True)
class HubModelRef:
    """A model repo, a revision (branch, tag or commit; None = main) and a folder or file inside it."""

    repo_id: str
    revision: str | None = None
    path: str = ""

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{SCHEME}{self.repo_id}{rev}" + (f"/{self.path}" if self.path else "")


def is_hub_ref(source: object) -> bool:
    """True only for a string that starts with ``hf://``: nothing else is ever looked up on the Hub."""
    return isinstance(source, str) and source.startswith(SCHEME)


def parse_hub_ref(text: str) -> HubModelRef:
    """``hf://owner/name``, ``hf://owner/name@v1``, ``hf://owner/name@<commit>/sub/G_A.safetensors``."""
    if not is_hub_ref(text):
        raise HubModelError(f"{text!r} is not a Hub model: write hf://OWNER/NAME")
    body = text[len(SCHEME):].strip("/")
    if body.startswith(("datasets/", "spaces/")):
        raise HubModelError(f"{text}: that is a {body.split('/')[0][:-1]} repo; a model is hf://OWNER/NAME")
    body = body.removeprefix("models/")
    owner, _, rest = body.partition("/")
    name, at, after = rest.partition("@")
    path = ""
    if at:
        match = _REVISION.match(after)
        if not match or not match["rev"]:
            raise HubModelError(f"{text}: empty revision after @")
        revision, path = match["rev"], match["path"] or ""
    else:
        revision = None
        name, _, path = name.partition("/")
    repo_id = f"{owner}/{name}"
    try:
        if not owner or not name:
            raise HFValidationError("expected OWNER/NAME")
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubModelError(f"{text}: not a Hub model id ({str(exc).splitlines()[0]}); write hf://OWNER/NAME") from None
    path = path.strip("/")
    if path.lower().endswith(_PICKLES):
        raise HubModelError(f"{text}: only safetensors are loaded from the Hub; a {Path(path).suffix} file is a "
                            "pickle and is never downloaded (download it yourself and pass the local file)")
    if ".." in path.split("/"):
        raise HubModelError(f"{text}: '..' is not a path inside a repo")
    return HubModelRef(repo_id, revision, path)


@contextmanager
def hub_progress(enabled: bool) -> Iterator[None]:
    """huggingface_hub's own progress bars ("Fetching N files") off inside the block when ``enabled`` is
    False (``pixelate -q``), then as they were."""
    if enabled:
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def resolve_checkpoint(
    source: str | Path,
    *,
    which: str | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    cache_dir: str | Path | None = None,
) -> Path:
    """A local path for ``source``: a ``hf://`` ref is downloaded (or found in the cache), anything else is
    returned as the path it is, unchanged and never looked up anywhere.

    ``which`` (``G_A``/``G_B``) names the generator the caller will load, so a repo without it fails
    here with the files it does have. Raises :class:`HubModelError` with a message that says what to do.
    """
    if not is_hub_ref(source):
        path = Path(source)
        # OWNER/NAME whose OWNER is no folder here reads like a Hub id: say how to ask for one, never fetch it
        if not path.exists() and re.fullmatch(r"[\w.-]+/[\w.-]+", str(source)) and not path.parent.is_dir():
            raise CheckpointError(f"no such checkpoint or run folder: {source} (a model on the Hub is written "
                                  f"with its scheme: --checkpoint hf://{source})")
        return path
    ref = parse_hub_ref(str(source))
    prefix = f"{ref.path}/" if ref.path and not ref.path.endswith(".safetensors") else ""
    wanted = [ref.path] if ref.path.endswith(".safetensors") else [prefix + f for f in (*GENERATOR_FILES, CONFIG_FILE)]
    token = _read_token()
    try:
        with hub_timeouts(timeout):
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(
                ref.repo_id, repo_type="model", revision=ref.revision or "main", allow_patterns=wanted,
                endpoint=endpoint_url(), cache_dir=str(cache_dir) if cache_dir else None, etag_timeout=timeout,
                local_files_only=offline(),
            ))
    except Exception as exc:  # noqa: BLE001 - every failure becomes one message that says what to do
        raise HubModelError(redact(_explain(exc, ref, timeout), token)) from None
    target = folder / ref.path if ref.path else folder
    if ref.path.endswith(".safetensors"):
        if not target.is_file():
            raise HubModelError(f"{ref}: the repo has no file {ref.path}")
        return target
    found = [f for f in GENERATOR_FILES if (target / f).is_file()]
    if not found:
        raise HubModelError(f"{ref}: the repo holds no generator ({' or '.join(GENERATOR_FILES)}"
                            f"{' in ' + ref.path if ref.path else ''}){_listing(ref, folder, cache_dir)}. "
                            "Publish one with `train publish RUN --repo OWNER/NAME`, or pass a local run folder.")
    if which and f"{which}.safetensors" not in found:
        raise HubModelError(f"{ref}: the repo has no {which}.safetensors (it has {', '.join(found)})")
    return target


def _read_token() -> str | None:
    from huggingface_hub import get_token

    try:
        return get_token()
    except Exception:  # noqa: BLE001 - an unreadable login cache only means: no token to redact
        return None


def _listing(ref: HubModelRef, folder: Path, cache_dir: str | Path | None) -> str:
    """What the repo does hold, from the tree listing huggingface_hub cached (no network)."""
    try:
        from huggingface_hub import get_cached_repo_tree

        files = [f.path for f in get_cached_repo_tree(ref.repo_id, revision=folder.name,
                                                     cache_dir=str(cache_dir) if cache_dir else None)]
    except Exception:  # noqa: BLE001 - older huggingface_hub, or no cached listing: say nothing more
        return ""
    if not files:
        return "; the repo is empty"
    pickles = [f for f in files if f.lower().endswith(_PICKLES)]
    shown = ", ".join(files[:8]) + (f", ... ({len(files)} files)" if len(files) > 8 else "")
    note = f"; it holds {shown}"
    if pickles:
        note += f" ({', '.join(pickles[:3])}: pickles are never loaded from the Hub)"
    return note


def _explain(exc: Exception, ref: HubModelRef, timeout: float) -> str:
    where = hub_url()
    local = "pass a local run folder or checkpoint instead (--checkpoint runs/NAME)"
    if find_cause(exc, HubNoAnswer) is not None:
        return f"{ref}: the Hub at {where} did not answer within {timeout:g} s and the model is not in the local cache; {local}."
    if isinstance(exc, RevisionNotFoundError):
        return f"{ref}: {ref.repo_id} has no revision {ref.revision or 'main'!r} on {where}."
    if isinstance(exc, GatedRepoError):
        return f"{ref}: {ref.repo_id} is gated on {where}: accept its terms on the repo page and set HF_TOKEN."
    if isinstance(exc, RepositoryNotFoundError):
        return (f"{ref}: no model repo {ref.repo_id} on {where} (or it is private and HF_TOKEN / `hf auth login` "
                f"gives no access to it). For a local folder, give its path without hf://.")
    if offline() or find_cause(exc, OfflineModeIsEnabled) is not None:
        return (f"{ref}: HF_HUB_OFFLINE is set and the model is not in the local Hugging Face cache; unset it "
                f"to download, or {local}.")
    if is_network_error(exc) or isinstance(exc, LocalEntryNotFoundError):
        cause = exc.__cause__ if isinstance(exc, LocalEntryNotFoundError) and exc.__cause__ is not None else exc
        if isinstance(cause, HfHubHTTPError) and cause.response is not None and cause.response.status_code >= 500:
            return f"{ref}: the Hub at {where} failed ({cause.response.status_code}) and the model is not in the local cache; {local}."
        return f"{ref}: cannot reach the Hub at {where} ({type(cause).__name__}) and the model is not in the local cache; {local}."
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return f"{ref}: the Hub rejected the token (401): set a valid HF_TOKEN, or unset it for a public repo."
        if status >= 500:
            return f"{ref}: the Hub at {where} failed ({status}) and the model is not in the local cache; {local}."
        return f"{ref}: the Hub at {where} answered {status}: {str(exc).splitlines()[0]}"
    return f"{ref}: download failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

"""A small local Hugging Face Hub: the endpoints uploads (``create_repo`` + ``create_commit``) and
downloads (``snapshot_download`` / ``hf_hub_download``) really call.

Point huggingface_hub at it with ``HF_ENDPOINT`` (and ``HF_HUB_DISABLE_XET=1``, since the Xet
storage protocol is not implemented: uploads then use the classic LFS protocol). Implemented,
with the request and response shapes huggingface_hub 2.x expects (read from its source):

===========================================================  ==========================================
``GET  /api/whoami-v2``                                      who owns the token (401 if unknown)
``POST /api/repos/create``                                   create a repo (409 if it exists)
``GET  /api/datasets/<ns>/<name>/tree/<rev>``                list files (``list_repo_files``)
``POST /api/validate-yaml``                                  card metadata validation (see below)
``POST /api/datasets/<ns>/<name>/preupload/<rev>``           which files go through LFS
``POST /datasets/<ns>/<name>.git/info/lfs/objects/batch``    LFS batch: where to PUT each object
``PUT  /__lfs/<oid>``, ``POST /__lfs/verify``                the LFS object store (sha256 checked)
``POST /api/datasets/<ns>/<name>/commit/<rev>``              ndjson commit, applied atomically
``GET  /api/models/<ns>/<name>/revision/<rev>``              repo info: commit ``sha``, ``siblings``
``HEAD|GET /<ns>/<name>/resolve/<rev>/<path>``               a file, with ``X-Repo-Commit``, ``ETag``
                                                             and ``Content-Length`` (what ``file_download``
                                                             requires); datasets under ``/datasets/``
===========================================================  ==========================================

Any repo type works where ``datasets`` is written (``models`` in the API paths, no prefix in the
``resolve`` path). A revision is ``main`` or the oid of any commit (each keeps its files), so a
download pinned to a commit gets that commit's bytes. Public repos are read without a token,
private ones only with their owner's; a missing repo, revision or file answers 404 with the
``X-Error-Code`` huggingface_hub turns into ``RepositoryNotFoundError``, ``RevisionNotFoundError``
or ``EntryNotFoundError``.

Every request is recorded (:attr:`FakeHub.requests`, headers included) and any endpoint can be
made to fail with :meth:`FakeHub.fail_on`. :meth:`FakeHub.export` writes a repo's files to a
folder, so tests can ``datasets.load_dataset`` exactly what was published.

``/api/validate-yaml`` checks what the Hub's metadata validation checks for dataset and model
cards, with the public lists available offline (:mod:`pixelforge.testing.hub_metadata`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pixelforge.testing.hub_http import HubHandler, HubRequest, HubServer, Reply
from pixelforge.testing.hub_metadata import HUB_LICENSES, validate_card_metadata

__all__ = ["FakeHub", "FakeRepo", "HubRequest", "HUB_LICENSES", "LFS_EXTENSIONS", "validate_card_metadata"]

LFS_EXTENSIONS = (".parquet", ".png", ".jpg", ".arrow", ".bin", ".safetensors", ".zip")
#: The commit an empty repo is at (the Hub's repos start with one; ours with none).
EMPTY_COMMIT = hashlib.sha1(b"").hexdigest()

@dataclass
class FakeRepo:
    repo_id: str
    repo_type: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)  # oid, header, operations, files (the tree after it)

    def at(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        """(commit oid, files) at ``main`` or at a commit oid; None for an unknown revision."""
        if revision == "main":
            return (self.commits[-1]["oid"], self.commits[-1]["files"]) if self.commits else (EMPTY_COMMIT, {})
        for commit in self.commits:
            if commit["oid"] == revision:
                return commit["oid"], commit["files"]
        return None


class FakeHub:
    """The local Hub. ``tokens`` maps accepted tokens to user names."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = tokens or {}
        self.repos: dict[str, FakeRepo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[HubRequest] = []
        self.failures: dict[str, tuple[int, dict[str, str], int | None]] = {}
        self._fail_after: dict[str, int] = {}
        self.lock = threading.Lock()
        self.hanging: set[str] = set()
        self.released = threading.Event()  # set on exit: hung handlers give up then
        self._server = HubServer(("127.0.0.1", 0), HubHandler)
        self._server.hub = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    # -- test helpers -------------------------------------------------------------------------
    def fail_on(
        self, endpoint: str, status: int, headers: dict[str, str] | None = None, times: int | None = None, after: int = 0
    ) -> None:
        """Answer ``status`` on an endpoint (whoami, create, tree, validate, preupload, lfs-batch,
        lfs-upload, commit), ``times`` times or forever, once ``after`` calls have succeeded."""
        self.failures[endpoint] = (status, headers or {}, times)
        self._fail_after[endpoint] = after

    def hang_on(self, endpoint: str) -> None:
        """Handle requests to ``endpoint`` (a commit is applied) but never answer them: a Hub that hangs."""
        self.hanging.add(endpoint)

    def hangs(self, req: HubRequest) -> bool:
        return self._endpoint(req)[0] in self.hanging

    def calls(self, endpoint: str) -> list[HubRequest]:
        return [r for r in self.requests if self._endpoint(r)[0] == endpoint]

    def export(self, repo_id: str, dest: str | Path) -> Path:
        """Write a repo's files to ``dest`` as the Hub would serve them."""
        dest = Path(dest)
        for path, data in self.repos[repo_id].files.items():
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            (dest / path).write_bytes(data)
        return dest

    # -- routing ------------------------------------------------------------------------------
    _ROUTES = (
        ("whoami", "GET", re.compile(r"^/api/whoami-v2$")),
        ("create", "POST", re.compile(r"^/api/repos/create$")),
        ("validate", "POST", re.compile(r"^/api/validate-yaml$")),
        ("tree", "GET", re.compile(r"^/api/(?P<type>\w+)s/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?P<path>/.*)?$")),
        ("preupload", "POST", re.compile(r"^/api/(?P<type>\w+)s/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)$")),
        ("commit", "POST", re.compile(r"^/api/(?P<type>\w+)s/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)$")),
        ("lfs-batch", "POST", re.compile(r"^/(?:(?P<type>dataset|space)s/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$")),
        ("lfs-verify", "POST", re.compile(r"^/__lfs/verify$")),
        ("lfs-upload", "PUT", re.compile(r"^/__lfs/(?P<oid>[0-9a-f]{64})$")),
        ("info", "GET", re.compile(r"^/api/(?P<type>model|dataset|space)s/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>[^/]+))?$")),
        ("resolve", "GET HEAD", re.compile(r"^/(?:(?P<type>dataset|space)s/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")),
    )
    #: endpoints anyone may call on a public repo (private repos: their owner only)
    _READS = ("info", "tree", "resolve")

    def _endpoint(self, req: HubRequest) -> tuple[str, dict[str, str]]:
        for name, methods, pattern in self._ROUTES:
            match = pattern.match(req.path)
            if match and req.method in methods.split():
                args = {k: v for k, v in match.groupdict().items() if v is not None}
                if "repo" in args:
                    args.setdefault("type", "model")
                return name, args
        return "unknown", {}

    def _user(self, req: HubRequest) -> str | None:
        auth = req.headers.get("authorization", "")
        return self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None

    def dispatch(self, req: HubRequest) -> Reply:
        name, args = self._endpoint(req)
        with self.lock:
            failure = self.failures.get(name)
            if failure is not None and self._fail_after.get(name, 0) > 0:
                self._fail_after[name] -= 1
                failure = None
            if failure is not None:
                status, headers, times = failure
                if times is not None:
                    if times <= 1:
                        del self.failures[name]
                    else:
                        self.failures[name] = (status, headers, times - 1)
                return status, {"error": f"injected failure {status}"}, headers
            if name == "unknown":
                return 404, {"error": f"no route {req.method} {req.path}"}, {}
            if name in ("lfs-upload", "lfs-verify"):  # pre-signed storage URLs: no Hub token needed
                return getattr(self, "_" + name.replace("-", "_"))(req, args)
            if name == "validate":
                return self._validate(req, args)
            user = self._user(req)
            if user is None and (name not in self._READS or "authorization" in req.headers):
                return 401, {"error": "Invalid credentials in Authorization header"}, {"X-Error-Code": "Unauthorized"}
            if "repo" in args:
                repo = self.repos.get(args["repo"])
                owner = args["repo"].split("/")[0]
                if repo is None or repo.repo_type != args["type"] or (repo.private and owner != user):
                    return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                if name not in self._READS and owner != user:
                    return 403, {"error": "You don't have the rights to write to this repo"}, {}
            return getattr(self, "_" + name.replace("-", "_"))(req, args, user)

    # -- endpoints ----------------------------------------------------------------------------
    def _whoami(self, req: HubRequest, args: dict, user: str) -> Reply:
        return 200, {"type": "user", "name": user, "auth": {"accessToken": {"role": "write"}}}, {}

    def _create(self, req: HubRequest, args: dict, user: str) -> Reply:
        body = req.json()
        namespace = body.get("organization") or user
        if namespace != user:
            return 403, {"error": f"You don't have the rights to create a repo under {namespace}"}, {}
        repo_id = f"{namespace}/{body['name']}"
        repo_type = body.get("type") or "model"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.url}/{prefix}{repo_id}"
        if repo_id in self.repos:
            return 409, {"error": f"You already created this {repo_type} repo", "url": url}, {}
        self.repos[repo_id] = FakeRepo(repo_id, repo_type, body.get("visibility") == "private")
        return 200, {"url": url, "name": repo_id}, {}

    def _validate(self, req: HubRequest, args: dict) -> Reply:
        body = req.json()
        errors = validate_card_metadata(body.get("content", ""), body.get("repoType") or "model")
        if errors:
            if "text/plain" in req.headers.get("accept", ""):
                return 400, "\n".join(errors).encode(), {}
            return 400, {"errors": [{"message": e} for e in errors], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _tree(self, req: HubRequest, args: dict, user: str | None) -> Reply:
        snapshot = self.repos[args["repo"]].at(args["rev"])
        if snapshot is None:
            return 404, {"error": f"Invalid rev id: {args['rev']}"}, {"X-Error-Code": "RevisionNotFound"}
        folder = args.get("path", "").strip("/")
        entries = []
        for path, data in sorted(snapshot[1].items()):
            if folder and not path.startswith(folder + "/"):
                continue
            entry = {"type": "file", "path": path, "size": len(data), "oid": _git_blob_id(data)}
            if _is_lfs(path, data):
                entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        return 200, entries, {}

    def _info(self, req: HubRequest, args: dict, user: str | None) -> Reply:
        repo = self.repos[args["repo"]]
        snapshot = repo.at(args.get("rev", "main"))
        if snapshot is None:
            return 404, {"error": f"Invalid rev id: {args['rev']}"}, {"X-Error-Code": "RevisionNotFound"}
        sha, files = snapshot
        return 200, {"id": repo.repo_id, "sha": sha, "private": repo.private, "tags": [],
                     "siblings": [{"rfilename": p} for p in sorted(files)]}, {}

    def _resolve(self, req: HubRequest, args: dict, user: str | None) -> Reply:
        snapshot = self.repos[args["repo"]].at(args["rev"])
        if snapshot is None:
            return 404, {"error": f"Invalid rev id: {args['rev']}"}, {"X-Error-Code": "RevisionNotFound"}
        sha, files = snapshot
        data = files.get(args["path"])
        if data is None:
            return 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}
        etag = hashlib.sha256(data).hexdigest() if _is_lfs(args["path"], data) else _git_blob_id(data)
        return 200, data, {"X-Repo-Commit": sha, "ETag": f'"{etag}"'}

    def _preupload(self, req: HubRequest, args: dict, user: str) -> Reply:
        files = req.json()["files"]
        return 200, {
            "files": [
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if f["path"].endswith(LFS_EXTENSIONS) or f["size"] > 10_000_000 else "regular",
                    "shouldIgnore": False,
                }
                for f in files
            ]
        }, {}

    def _lfs_batch(self, req: HubRequest, args: dict, user: str) -> Reply:
        body = req.json()
        objects = []
        for obj in body["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/__lfs/{obj['oid']}"},
                    "verify": {"href": f"{self.url}/__lfs/verify"},
                }
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}, {}

    def _lfs_upload(self, req: HubRequest, args: dict) -> Reply:
        if hashlib.sha256(req.body).hexdigest() != args["oid"]:
            return 400, {"error": "sha256 mismatch"}, {}
        self.lfs[args["oid"]] = req.body
        return 200, {}, {}

    def _lfs_verify(self, req: HubRequest, args: dict) -> Reply:
        body = req.json()
        data = self.lfs.get(body["oid"])
        if data is None or len(data) != body["size"]:
            return 404, {"error": "object not uploaded"}, {}
        return 200, {}, {}

    def _commit(self, req: HubRequest, args: dict, user: str) -> Reply:
        repo = self.repos[args["repo"]]
        lines = [json.loads(line) for line in req.body.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return 400, {"error": "commit must start with a header line"}, {}
        files = dict(repo.files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                data = self.lfs.get(value["oid"])
                if data is None or len(data) != value["size"]:
                    return 422, {"error": f"LFS object for {value['path']} was never uploaded"}, {}
                files[value["path"]] = data
            elif key == "deletedFile":
                if value["path"] not in files:
                    return 404, {"error": "A file with this name doesn't exist"}, {"X-Error-Code": "EntryNotFound"}
                del files[value["path"]]
            else:
                return 400, {"error": f"unsupported operation {key}"}, {}
        oid = hashlib.sha1(req.body + str(len(repo.commits)).encode()).hexdigest()
        repo.files = files  # applied only once every line was valid: commits are atomic
        repo.commits.append({"oid": oid, "header": lines[0]["value"], "operations": lines[1:], "files": files})
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return 200, {"commitUrl": f"{self.url}/{prefix}{repo.repo_id}/commit/{oid}", "commitOid": oid, "success": True}, {}


def _is_lfs(path: str, data: bytes) -> bool:
    """Where the Hub keeps a file: LFS for binaries and anything over 10 MB (as preupload decides)."""
    return path.endswith(LFS_EXTENSIONS) or len(data) > 10_000_000


def _git_blob_id(data: bytes) -> str:
    """The git object id of a file's bytes (what the Hub reports as ``oid`` and a regular file's ETag)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Serve a fake Hub by hand: ``python -m pixelforge.testing.fake_hub --user demo --token hf_demo``."""
    import argparse
    import signal
    import time

    parser = argparse.ArgumentParser(description="A local fake Hugging Face Hub for trying `curate push`, "
                                                 "`train publish` and `pixelate --checkpoint hf://` offline.")
    parser.add_argument("--user", default="demo", help="user name the token belongs to")
    parser.add_argument("--token", default="hf_demo", help="the one token it accepts")
    parser.add_argument("--export", type=Path, default=None, help="on exit, write every repo's files here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))  # stop like Ctrl-C
    with FakeHub({args.token: args.user}) as hub:
        print(f"fake Hub at {hub.url} (user {args.user}); run with HF_ENDPOINT={hub.url} HF_HUB_DISABLE_XET=1", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        if args.export:
            for repo_id in hub.repos:
                hub.export(repo_id, args.export / repo_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

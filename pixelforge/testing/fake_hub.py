"""A small local Hugging Face Hub: the endpoints ``create_repo`` + ``create_commit`` really call.

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
===========================================================  ==========================================

Every request is recorded (:attr:`FakeHub.requests`, headers included) and any endpoint can be
made to fail with :meth:`FakeHub.fail_on`. :meth:`FakeHub.export` writes a repo's files to a
folder, so tests can ``datasets.load_dataset`` exactly what was published.

``/api/validate-yaml`` checks what the Hub's metadata validation checks for dataset cards, with
the public lists available offline: YAML without duplicate keys, licence ids from the Hub's
licence list, ``task_categories`` from the Hub's task ids, ``size_categories`` from the
datasets library's list, ``configs`` and ``dataset_info`` parsed by the datasets library itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

#: The Hub's licence ids (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset(
    """apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc
    cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0
    cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0
    cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0
    eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research
    lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa
    unlicense zlib pddl lgpl-lr deepfloyd-if-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
    unknown other""".split()
)

LFS_EXTENSIONS = (".parquet", ".png", ".jpg", ".arrow", ".bin", ".safetensors", ".zip")


def validate_card_metadata(content: str) -> list[str]:
    """Errors the Hub would report for a dataset card's YAML header (empty list: valid)."""
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs, _NoDuplicateSafeLoader, known_task_ids
    from huggingface_hub import DatasetCardData

    lines = content.splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        return ["README.md has no YAML metadata block"]
    end = lines[1:].index("---") + 1
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_NoDuplicateSafeLoader)
    except (yaml.YAMLError, TypeError) as exc:
        return [f"invalid YAML: {exc}"]
    if not isinstance(meta, dict):
        return ["YAML metadata must be a mapping"]
    errors = []
    licenses = meta.get("license", [])
    for lic in [licenses] if isinstance(licenses, str) else licenses:
        if lic not in HUB_LICENSES:
            errors.append(f'"license" must be one of the Hub licence ids, got {lic!r}')
    if "license_name" in meta and not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", str(meta["license_name"])):
        errors.append('"license_name" must be lowercase letters, digits, dots and dashes')
    for task in meta.get("task_categories", []):
        if task not in known_task_ids:
            errors.append(f'"task_categories" has unknown task {task!r}')
    import datasets

    sizes = json.loads((Path(datasets.__file__).parent / "utils/resources/size_categories.json").read_text())
    for size in meta.get("size_categories", []):
        if size not in sizes:
            errors.append(f'"size_categories" has unknown value {size!r}')
    for key in ("pretty_name",):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    if "tags" in meta and not (isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])):
        errors.append('"tags" must be a list of strings')
    card_data = DatasetCardData(**meta)
    try:
        configs = MetadataConfigs.from_dataset_card_data(card_data)
        for name, config in configs.items():
            if not config.get("data_files"):
                errors.append(f"config {name!r} has no data_files")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a validation error
        errors.append(f'"configs" is invalid: {exc}')
    try:
        infos = DatasetInfosDict.from_dataset_card_data(card_data)
        for name, info in infos.items():
            if info.features is None or info.splits is None:
                errors.append(f"dataset_info {name!r} lacks features or splits")
    except Exception as exc:  # noqa: BLE001
        errors.append(f'"dataset_info" is invalid: {exc}')
    return errors


@dataclass
class HubRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class FakeRepo:
    repo_id: str
    repo_type: str
    private: bool
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

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

    def _handle(self) -> None:
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
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def do_HEAD(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: FakeHub


Reply = tuple[int, object, dict[str, str]]


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
        self._server = _Server(("127.0.0.1", 0), _Handler)
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
        ("lfs-batch", "POST", re.compile(r"^/(?P<type>\w+)s/(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch$")),
        ("lfs-verify", "POST", re.compile(r"^/__lfs/verify$")),
        ("lfs-upload", "PUT", re.compile(r"^/__lfs/(?P<oid>[0-9a-f]{64})$")),
    )

    def _endpoint(self, req: HubRequest) -> tuple[str, dict[str, str]]:
        for name, method, pattern in self._ROUTES:
            match = pattern.match(req.path)
            if match and req.method == method:
                return name, {k: v for k, v in match.groupdict().items() if v is not None}
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
            if user is None:
                return 401, {"error": "Invalid credentials in Authorization header"}, {"X-Error-Code": "Unauthorized"}
            if "repo" in args:
                repo = self.repos.get(args["repo"])
                if repo is None or repo.repo_type != args["type"]:
                    return 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"}
                if args["repo"].split("/")[0] != user:
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
            return 409, {"error": "You already created this dataset repo", "url": url}, {}
        self.repos[repo_id] = FakeRepo(repo_id, repo_type, body.get("visibility") == "private")
        return 200, {"url": url, "name": repo_id}, {}

    def _validate(self, req: HubRequest, args: dict) -> Reply:
        body = req.json()
        errors = validate_card_metadata(body.get("content", ""))
        if errors:
            if "text/plain" in req.headers.get("accept", ""):
                return 400, "\n".join(errors).encode(), {}
            return 400, {"errors": [{"message": e} for e in errors], "warnings": []}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def _tree(self, req: HubRequest, args: dict, user: str) -> Reply:
        repo = self.repos[args["repo"]]
        return 200, [
            {"type": "file", "path": p, "size": len(d), "oid": hashlib.sha1(d).hexdigest()} for p, d in sorted(repo.files.items())
        ], {}

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
        oid = hashlib.sha1(req.body).hexdigest()
        repo.files = files  # applied only once every line was valid: commits are atomic
        repo.commits.append({"oid": oid, "header": lines[0]["value"], "operations": lines[1:]})
        return 200, {"commitUrl": f"{self.url}/datasets/{repo.repo_id}/commit/{oid}", "commitOid": oid, "success": True}, {}


def main(argv: list[str] | None = None) -> int:
    """Serve a fake Hub by hand: ``python -m pixelforge.testing.fake_hub --user demo --token hf_demo``."""
    import argparse
    import signal
    import time

    parser = argparse.ArgumentParser(description="A local fake Hugging Face Hub for trying `curate push` offline.")
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

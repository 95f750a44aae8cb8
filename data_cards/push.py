"""Publish a dataset folder to the Hugging Face Hub: plan the files locally, then upload in one commit.

Two steps, so ``--dry-run`` shows exactly what a real push sends:

1. :func:`prepare_push` stages the upload in a temporary folder: Parquet shards (without the rows
   whose licence is unknown, unless asked), and a fresh card, ``attribution.csv`` and
   ``samples.png`` that describe exactly those shards. No network.
2. :func:`upload` checks the token, creates the dataset repo if it is missing and sends every file
   in a single commit (the Hub's commits are atomic, so a failure publishes nothing). Remote
   shards that this push no longer has are deleted in the same commit, so ``data/*`` never mixes
   two versions.

The token comes from ``HF_TOKEN`` or huggingface_hub's login cache. It is passed to
huggingface_hub only; every message we print goes through :func:`redact`.

Every Hub request is bounded by ``timeout`` seconds (connect, send, and each wait for the
answer): huggingface_hub's own client waits forever, so a Hub that accepts a commit and never
answers would hang the push. A request that times out is not retried: the message says that the
commit may have landed and that running the same push again is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.utils import validate_repo_id

from data_cards.card import write_card_files
from data_cards.folder import DatasetFolder
from pixelforge.dataset import (
    ATTRIBUTION_FILE,
    CARD_FILE,
    DATA_DIR,
    SAMPLES_FILE,
    UNKNOWN_LICENSE,
    shard_name,
)
from pixelforge.hub import (  # noqa: F401 - HubNoAnswer, redact and endpoint_url are part of this module's API
    HubNoAnswer,
    HubUploadError,
    UploadFile,
    describe_hub_error,
    endpoint_url,
    find_cause,
    redact,
    write_token,
)
from pixelforge.hub import hub_timeouts as bounded
from pixelforge.licenses import is_unknown

#: The Hub accepts up to 25k LFS files per commit; we stay well below it.
MAX_FILES_PER_COMMIT = 10_000
#: Seconds one Hub request may take to connect, to send a block, or to be answered (``--timeout``).
DEFAULT_TIMEOUT = 120.0


@contextmanager
def hub_timeouts(timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Within the block, every huggingface_hub request is bounded by ``timeout`` seconds."""
    with bounded(timeout):
        yield


class PushError(HubUploadError):
    """A push that could not be done; the message is safe to print (no token) and says what to do."""


@dataclass
class PushPlan:
    """What a push sends: files in upload order, rows per split and what was left out."""

    repo_id: str
    files: list[UploadFile]
    rows: dict[str, int]
    excluded_unknown: int
    unknown_in_folder: int
    private: bool = False
    commits: list[list[UploadFile]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _filter_known(shards: list[Path], split: str, out_dir: Path) -> tuple[list[Path], int]:
    """Rewrite a split's shards without unknown-licence rows; shard order and schema are kept."""
    tables = []
    excluded = 0
    meta = pq.ParquetFile(shards[0]).metadata
    options = {"compression": "none", "row_group_size": None}
    if meta.num_row_groups and meta.num_columns:  # write like the source shards were written
        codec = meta.row_group(0).column(0).compression.lower()
        options = {"compression": "none" if codec == "uncompressed" else codec,
                   "row_group_size": meta.row_group(0).num_rows or None}
    for shard in shards:
        table = pq.read_table(shard)
        licenses = table.column("license").to_pylist()
        keep = pa.array([not is_unknown(lic) for lic in licenses])
        excluded += len(licenses) - int(pc.sum(keep).as_py() or 0)
        kept = table.filter(keep)
        if kept.num_rows:
            tables.append(kept)
    paths = []
    for i, table in enumerate(tables):
        path = out_dir / shard_name(split, i, len(tables))
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, **options)
        paths.append(path)
    return paths, excluded


def prepare_push(
    folder: str | Path,
    staging: str | Path,
    *,
    repo_id: str,
    include_unknown_license: bool = False,
    private: bool = False,
    domain: str | None = None,
) -> PushPlan:
    """Stage everything a push uploads into ``staging`` and return the plan (no network)."""
    try:
        validate_repo_id(repo_id)
    except ValueError as exc:
        raise PushError(f"bad --repo-id: {exc}", exit_code=2) from None
    source = DatasetFolder.read(folder)
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    unknown_in_folder = 0
    shards: dict[str, list[Path]] = {}
    excluded = 0
    for split, files in source.shards.items():
        licenses = source.metadata(split).column("license").to_pylist()
        n_unknown = sum(1 for lic in licenses if is_unknown(lic))
        unknown_in_folder += n_unknown
        if n_unknown and not include_unknown_license:
            kept, n = _filter_known(files, split, staging)
            excluded += n
            if kept:
                shards[split] = kept
        else:
            shards[split] = files
    if not any(source.num_rows(split) for split in source.splits):
        raise PushError(f"nothing to publish: {source.path} has no rows.", exit_code=2)
    if not shards:
        raise PushError(
            f"nothing to publish: all {unknown_in_folder} images in {source.path} have licence "
            f"'{UNKNOWN_LICENSE}'. Pass --include-unknown-license to publish them anyway.",
            exit_code=2,
        )
    staged = DatasetFolder(path=source.path, shards=shards, report=source.report)
    write_card_files(
        staged,
        staging,
        domain=domain,
        repo_id=repo_id,
        excluded_unknown=excluded,
        unknown_included=include_unknown_license and unknown_in_folder > 0,
    )
    files = [
        UploadFile(f"{DATA_DIR}/{p.name}", p, p.stat().st_size) for split in shards for p in shards[split]
    ]
    files += [
        UploadFile(name, staging / name, (staging / name).stat().st_size)
        for name in (CARD_FILE, SAMPLES_FILE, ATTRIBUTION_FILE)
        if (staging / name).exists()
    ]
    plan = PushPlan(
        repo_id=repo_id,
        files=files,
        rows={split: staged.num_rows(split) for split in shards},
        excluded_unknown=excluded,
        unknown_in_folder=unknown_in_folder,
        private=private,
    )
    plan.commits = split_commits(files)
    return plan


def split_commits(files: list[UploadFile], limit: int = MAX_FILES_PER_COMMIT) -> list[list[UploadFile]]:
    """As few commits of at most ``limit`` files as possible; README.md is in the last one.

    The card goes last so it never describes shards that have not landed yet.
    """
    ordered = sorted(files, key=lambda f: (f.path_in_repo == CARD_FILE, not f.path_in_repo.startswith(f"{DATA_DIR}/")))
    return [ordered[i : i + limit] for i in range(0, len(ordered), limit)]


def resolve_token() -> str:
    """The token from ``HF_TOKEN`` or the login cache; raises a :class:`PushError` when there is none."""
    token = write_token()
    if not token:
        raise PushError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access). "
            "Nothing was published.",
            exit_code=2,
        )
    return token


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    repo_url: str
    commit_urls: list[str]
    deleted: list[str]


def resolve_repo_id(repo_id: str, *, token: str, endpoint: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> str:
    """``name`` -> ``<token's user>/name`` (asks the Hub who owns the token); ``user/name`` unchanged."""
    if "/" in repo_id:
        return repo_id
    try:
        with hub_timeouts(timeout):
            return f"{HfApi(endpoint=endpoint or endpoint_url(), token=token).whoami()['name']}/{repo_id}"
    except Exception as exc:  # noqa: BLE001 - translated into one clear message
        raise PushError(_explain(exc, token, repo_id, endpoint or endpoint_url(), [], 1)) from None


def upload(plan: PushPlan, *, token: str, endpoint: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> PushResult:
    """Create the repo if needed and commit the plan's files; errors become :class:`PushError`.

    Every request is bounded by ``timeout`` seconds (see :func:`hub_timeouts`).
    """
    with hub_timeouts(timeout):
        return _upload(plan, token=token, endpoint=endpoint)


def _upload(plan: PushPlan, *, token: str, endpoint: str | None) -> PushResult:
    api = HfApi(endpoint=endpoint or endpoint_url(), token=token)
    landed: list[str] = []
    repo_id = plan.repo_id
    try:
        if "/" not in repo_id:
            repo_id = f"{api.whoami()['name']}/{repo_id}"
        else:
            api.whoami()  # fail early and clearly on a bad token, before anything is created
        repo_url = api.create_repo(repo_id, repo_type="dataset", private=plan.private, exist_ok=True)
        remote = set(api.list_repo_files(repo_id, repo_type="dataset"))
        ours = {f.path_in_repo for f in plan.files}
        stale = sorted(p for p in remote if p.startswith(f"{DATA_DIR}/") and p.endswith(".parquet") and p not in ours)
        for n, batch in enumerate(plan.commits, start=1):
            ops: list = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path)) for f in batch]
            if n == len(plan.commits):
                ops += [CommitOperationDelete(path_in_repo=p) for p in stale]
            suffix = f" ({n}/{len(plan.commits)})" if len(plan.commits) > 1 else ""
            info = api.create_commit(
                repo_id,
                ops,
                repo_type="dataset",
                commit_message=f"pixelforge: publish {sum(plan.rows.values())} images{suffix}",
                commit_description="Uploaded by `curate push`: Parquet shards, data card, samples.png, attribution.csv.",
            )
            landed.append(info.commit_url)
    except Exception as exc:  # noqa: BLE001 - every failure is translated into one clear message
        raise PushError(_explain(exc, token, repo_id, endpoint or endpoint_url(), landed, len(plan.commits))) from None
    return PushResult(repo_id=repo_id, repo_url=str(repo_url), commit_urls=landed, deleted=stale)


def _explain(exc: Exception, token: str, repo_id: str, endpoint: str | None, landed: list[str], total: int) -> str:
    where = endpoint or "https://huggingface.co"
    no_answer = find_cause(exc, HubNoAnswer)
    if no_answer is not None:
        message = (f"the Hub at {where} did not answer: {no_answer}. It may have acted on that request: "
                   f"check {where}/datasets/{repo_id} and run the same `curate push` again (it is safe to repeat; "
                   "--timeout sets the wait).")
        return redact(message + (" Nothing was published before it." if not landed else ""), token)
    message = describe_hub_error(exc, repo_id, where)
    if not landed:
        message += " Nothing was published."
    else:
        message += (
            f" Only {len(landed)} of {total} commits landed, so {repo_id} is INCOMPLETE (not published): "
            "run the same `curate push` again to finish."
        )
    return redact(message, token)

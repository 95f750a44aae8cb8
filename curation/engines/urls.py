"""A raw store read through an fsspec URL (``s3://``, ``gs://``, ``file://`` ...): what workers
that share no disk need. Same :class:`curation.inputs.Inputs` and the same input-stage
rejections as :func:`curation.inputs.read_raw_store`; paths become URLs the workers open."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from curation.inputs import Inputs, RawInput, lines, parse_line, read_inputs
from curation.workers import is_url
from pixelforge.rawstore import MANIFEST_FILE


def read_any(source: str | Path, output: Path) -> Inputs:
    """:func:`curation.inputs.read_inputs` for paths; raw stores only for URLs (a folder would be
    hashed file by file on the driver, which is the work the cluster is for)."""
    if not is_url(source):
        return read_inputs(Path(source), output)
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(source))
    root = root.rstrip("/")
    manifest = posixpath.join(root, MANIFEST_FILE)
    if not fs.isfile(manifest):
        raise FileNotFoundError(f"input {source} has no {MANIFEST_FILE}: URLs must name a raw store")
    existing = set(fs.find(root))  # one listing, not one request per file
    by_sha: dict[str, RawInput] = {}
    rejected: list[dict[str, Any]] = []
    n_records = 0
    with fs.open(manifest, "rb") as fh:  # the same hardened line reader as a local store
        for lineno, line in lines(fh):
            if line is not None and not line.strip():
                continue
            n_records += 1
            rec, problem = parse_line(line)
            if rec is None:
                rejected.append(_rejection(f"{MANIFEST_FILE}:{lineno}", None, "bad-manifest-line", problem))
                continue
            sha, rel = rec["sha256"], rec["path"]
            norm = posixpath.normpath(rel)
            if posixpath.isabs(norm) or norm == ".." or norm.startswith("../"):
                rejected.append(_rejection(rec.get("url") or rel, sha, "path-escape", f"{rel} is outside the store"))
                continue
            if sha in by_sha:
                by_sha[sha].records.append(rec)
            else:  # RawInput.path holds the URL: workers open it with fsspec
                by_sha[sha] = RawInput(sha, fs.unstrip_protocol(posixpath.join(root, norm)), [rec])  # type: ignore[arg-type]
    files = []
    for raw in by_sha.values():
        if fs._strip_protocol(str(raw.path)) in existing:
            files.append(raw)
        else:
            rejected.append(_rejection(raw.label, raw.sha256, "missing-file", f"{raw.path} not found"))
    return Inputs("raw-store", sorted(files, key=lambda r: r.sha256), rejected, n_records)


def _rejection(label: str, sha: str | None, reason: str, detail: str) -> dict[str, Any]:
    return {"input": label, "sha256": sha, "member": "", "stage": "input", "reason": reason, "detail": detail}

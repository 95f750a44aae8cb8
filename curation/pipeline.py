"""`curate run`: raw store or folder -> per-image stages (parallel, cached) -> dedup -> split -> dataset.

Per-file results are cached in ``<output>/cache.sqlite`` by the raw file's sha256 and the hash of
the config that shapes per-image results, and committed as they arrive. So a re-run processes only
new files, a killed run resumes where it stopped, and changing e.g. ``split.test_fraction`` re-uses
every cached image. Dedup, split and the Parquet shards are recomputed from the cache on every run;
they are cheap, deterministic, and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from curation.allocator import keep_freed_memory
from curation.config import CurateConfig, config_from_dict
from curation.dataset import write_shards
from curation.dedup import deduplicate
from curation.process import IMAGE_STAGES, FileResult, Rejection, process_bytes
from curation.report import build_report, format_summary, write_html_report
from curation.schema import REPORT_FILE, UNKNOWN_LICENSE
from curation.stages.background import load_rembg_session
from curation.stages.split import split_of

MANIFEST = "manifest.jsonl"
CACHE_FILE = "cache.sqlite"
COMMIT_EVERY = 32  # files; or every second, whichever comes first
PROVENANCE_FIELDS = ("source", "url", "page_url", "title", "author", "license", "license_url")


@dataclass
class RawInput:
    """One distinct raw file; ``records`` are all its provenances, the first one names the row."""

    sha256: str
    path: Path
    records: list[dict[str, Any]]

    @property
    def label(self) -> str:
        return str(self.records[0].get("url") or self.path)


@dataclass
class Inputs:
    kind: str  # "raw-store" or "folder"
    files: list[RawInput]
    rejected: list[dict[str, Any]] = field(default_factory=list)
    n_records: int = 0


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_raw_store(root: Path) -> Inputs:
    """Group manifest records by sha256 (first record first); bad lines and missing files are rejections."""
    by_sha: dict[str, RawInput] = {}
    rejected: list[dict[str, Any]] = []
    n_records = 0
    root = root.resolve()
    resolve = _Resolver()
    with (root / MANIFEST).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            n_records += 1
            try:
                rec = json.loads(line)
                sha, rel = str(rec["sha256"]), str(rec["path"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                rejected.append(_input_rejection(f"{MANIFEST}:{lineno}", None, "bad-manifest-line", str(exc)))
                continue
            path = resolve(root / rel)
            if not path.is_relative_to(root):
                rejected.append(_input_rejection(rec.get("url") or rel, sha, "path-escape", f"{rel} is outside the store"))
                continue
            if sha in by_sha:
                by_sha[sha].records.append(rec)
            else:
                by_sha[sha] = RawInput(sha, path, [rec])
    files = []
    for raw in by_sha.values():
        if raw.path.is_file():
            files.append(raw)
        else:
            rejected.append(_input_rejection(raw.label, raw.sha256, "missing-file", f"{raw.path} not found"))
    return Inputs("raw-store", sorted(files, key=lambda r: r.sha256), rejected, n_records)


class _Resolver:
    """``Path.resolve`` for many files in few folders: each folder is resolved once (a store has
    at most 256 of them), the file name only when it is itself a symlink."""

    def __init__(self) -> None:
        self.folders: dict[Path, Path] = {}

    def __call__(self, path: Path) -> Path:
        if ".." in path.parts:
            return path.resolve()
        folder = self.folders.get(path.parent)
        if folder is None:
            folder = self.folders[path.parent] = path.parent.resolve()
        full = folder / path.name
        return full.resolve() if full.is_symlink() else full


def read_folder(root: Path, exclude: Path | None = None) -> Inputs:
    """Every file under ``root`` (hidden files and ``exclude`` skipped); provenance is the path."""
    by_sha: dict[str, RawInput] = {}
    n = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude.resolve()):
            continue
        n += 1
        sha = _sha256_file(path)
        rec = {"sha256": sha, "path": rel.as_posix(), "source": "folder", "url": rel.as_posix(), "page_url": "",
               "title": path.stem, "author": "", "license": UNKNOWN_LICENSE, "license_url": "", "tags": [],
               "fetched_at": None}
        by_sha.setdefault(sha, RawInput(sha, path, [])).records.append(rec)
    return Inputs("folder", sorted(by_sha.values(), key=lambda r: r.sha256), [], n)


def read_inputs(root: Path, output: Path | None = None) -> Inputs:
    if not root.is_dir():
        raise FileNotFoundError(f"input {root} is not a folder")
    if (root / MANIFEST).is_file():
        return read_raw_store(root)
    return read_folder(root, exclude=output)


def _input_rejection(label: str, sha: str | None, reason: str, detail: str) -> dict[str, Any]:
    return {"input": label, "sha256": sha, "member": "", "stage": "input", "reason": reason, "detail": detail}


class ResultCache:
    """SQLite cache of per-file results (JSON) and their PNGs, keyed by raw sha256 + config key."""

    def __init__(self, path: Path, config_key: str) -> None:
        self.key = config_key
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS files (key TEXT, sha256 TEXT, result TEXT, PRIMARY KEY (key, sha256))")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS images (key TEXT, pixel_sha256 TEXT, native BLOB, canvas BLOB,"
            " PRIMARY KEY (key, pixel_sha256))"
        )
        self.db.commit()

    def done(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM files WHERE key = ?", (self.key,))}

    def put(self, sha: str, meta: dict[str, Any], images: list[tuple[str, bytes, bytes]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO images VALUES (?, ?, ?, ?)", [(self.key, *im) for im in images])
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (self.key, sha, json.dumps(meta)))

    def commit(self) -> None:
        self.db.commit()

    def get(self, sha: str) -> dict[str, Any]:
        row = self.db.execute("SELECT result FROM files WHERE key = ? AND sha256 = ?", (self.key, sha)).fetchone()
        return json.loads(row[0])

    def image(self, pixel_sha: str) -> tuple[bytes, bytes]:
        row = self.db.execute("SELECT native, canvas FROM images WHERE key = ? AND pixel_sha256 = ?", (self.key, pixel_sha)).fetchone()
        return row[0], row[1]

    def close(self) -> None:
        self.db.commit()
        self.db.close()


def result_payload(result: FileResult) -> tuple[dict[str, Any], list[tuple[str, bytes, bytes]]]:
    """A FileResult as cacheable JSON plus its (pixel_sha256, native PNG, canvas PNG) blobs."""
    meta = {
        "items": [it.meta() for it in result.items],
        "rejected": [r.__dict__ for r in result.rejected],
        "stages": result.stages,
    }
    return meta, [(it.pixel_sha256, it.native_png, it.canvas_png) for it in result.items]


# ---- worker processes -------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(config_dict: dict[str, Any], threads: int | None = None) -> None:
    config = config_from_dict(config_dict)
    _WORKER["config"] = config
    _WORKER["session"] = load_rembg_session(config.background, threads) if config.background.uses_rembg() else None


def _init_pool_worker(config_dict: dict[str, Any], threads: int | None = None) -> None:
    keep_freed_memory()  # a worker process does nothing but image batches
    _init_worker(config_dict, threads)


def _work(task: tuple[str, str]) -> tuple[str, dict[str, Any], list[tuple[str, bytes, bytes]]]:
    sha, path = task
    config: CurateConfig = _WORKER["config"]
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        result = FileResult()
        result.reject("", "input", "unreadable", str(exc))
        return (sha, *result_payload(result))
    if hashlib.sha256(data).hexdigest() != sha:
        result = FileResult()
        result.reject("", "input", "sha256-mismatch", f"{path} does not hash to its manifest sha256")
        return (sha, *result_payload(result))
    try:
        result = process_bytes(data, config, _WORKER["session"])
    except Exception as exc:  # one bad file never aborts the run
        result = FileResult()
        result.reject("", "internal", "error", f"{type(exc).__name__}: {exc}")
    return (sha, *result_payload(result))


def _results(tasks: list[tuple[str, str]], config: CurateConfig, workers: int) -> Iterator[tuple[str, dict, list]]:
    if workers <= 1 or len(tasks) <= 1:
        _init_worker(config.to_dict())
        for task in tasks:
            yield _work(task)
        return
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(config.to_dict(), 1)) as pool:
        yield from pool.imap_unordered(_work, tasks, chunksize=max(1, min(16, len(tasks) // (workers * 8))))


# ---- the run -----------------------------------------------------------------------------------


@dataclass
class RunResult:
    report: dict[str, Any]
    processed: int  # files processed in this run (the rest came from the cache)
    output: Path


def _rank(entry: dict[str, Any]) -> tuple:
    """Best cluster member first: largest native size, then a known licence, then most metadata."""
    rec = entry["record"]
    known = rec.get("license") not in (None, "", UNKNOWN_LICENSE)
    filled = sum(1 for f in PROVENANCE_FIELDS + ("tags",) if rec.get(f))
    item = entry["item"]
    return (-(item["native_width"] * item["native_height"]), not known, -filled, item["pixel_sha256"],
            entry["sha256"], item["member"])


def _row(entry: dict[str, Any], cluster_size: int, native: bytes, canvas: bytes) -> dict[str, Any]:
    rec, item = entry["record"], entry["item"]
    tags = rec.get("tags") or []
    return {
        "image": canvas,
        "native": native,
        "sha256": entry["sha256"],
        "pixel_sha256": item["pixel_sha256"],
        **{f: str(rec.get(f) or "") for f in PROVENANCE_FIELDS},
        "license": str(rec.get("license") or UNKNOWN_LICENSE),
        "member": item["member"],
        "native_width": item["native_width"],
        "native_height": item["native_height"],
        "pixel_scale": item["pixel_scale"],
        "grid_confidence": item["grid_confidence"],
        "scale": item["scale"],
        "n_colors": item["n_colors"],
        "phash": item["phash"],
        "dhash": item["dhash"],
        "cluster_size": cluster_size,
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
    }


def run(
    input_dir: str | Path,
    output_dir: str | Path,
    config: CurateConfig | None = None,
    *,
    progress: bool = True,
    write_card: bool = True,
) -> RunResult:
    """Curate ``input_dir`` into the dataset folder ``output_dir``; see the module docstring."""
    config = (config or CurateConfig()).validate()
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    inputs = read_inputs(input_dir, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if config.background.uses_rembg():
        load_rembg_session(config.background)  # fail now, with the file to download, not in every worker
    workers = config.workers or os.cpu_count() or 1
    cache = ResultCache(output_dir / CACHE_FILE, config.image_key())
    started = time.perf_counter()
    processed = 0
    try:
        done = cache.done()
        tasks = [(f.sha256, str(f.path)) for f in inputs.files if f.sha256 not in done]
        live = dict.fromkeys(("expanded", "decoded", "filtered", "passed", "rejected"), 0)
        last_commit, uncommitted = time.monotonic(), 0
        with tqdm(total=len(tasks), unit="file", desc="curate", disable=not progress, dynamic_ncols=True) as bar:
            for sha, meta, images in _results(tasks, config, workers):
                cache.put(sha, meta, images)
                processed += 1
                st = meta["stages"]
                live["expanded"] += st.get("expand", {}).get("out", 0)
                live["decoded"] += st.get("decode", {}).get("out", 0)
                live["filtered"] += st.get("filters", {}).get("rejected", 0)
                live["passed"] += len(meta["items"])  # before dedup, which runs over the whole set
                live["rejected"] += len(meta["rejected"])
                bar.set_postfix(live, refresh=False)
                bar.update()
                uncommitted += 1
                if uncommitted >= COMMIT_EVERY or time.monotonic() - last_commit > 1.0:
                    cache.commit()  # a killed run loses at most these few files' work
                    last_commit, uncommitted = time.monotonic(), 0
        cache.commit()
        report = _assemble(inputs, input_dir, output_dir, config, cache)
    finally:
        cache.close()
    report["timing"] = {"seconds": round(time.perf_counter() - started, 3), "processed_files": processed,
                        "cached_files": len(inputs.files) - processed, "workers": workers}
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    if write_card:
        from data_cards.card import write_card as _write_card

        _write_card(output_dir, domain=config.domain)
    return RunResult(report, processed, output_dir)


def _assemble(inputs: Inputs, input_dir: Path, output_dir: Path, config: CurateConfig, cache: ResultCache) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = list(inputs.rejected)
    stages: dict[str, dict[str, int]] = {"input": {"in": inputs.n_records, "out": len(inputs.files),
                                                   "rejected": len(inputs.rejected)}}
    for stage in IMAGE_STAGES:
        stages[stage] = {"in": 0, "out": 0, "rejected": 0}
    for raw in inputs.files:
        meta = cache.get(raw.sha256)
        for stage, c in meta["stages"].items():
            agg = stages.setdefault(stage, {"in": 0, "out": 0, "rejected": 0})
            for k in ("in", "out", "rejected"):
                agg[k] += c[k]
        for rej in meta["rejected"]:
            r = Rejection(**rej)
            rejected.append({"input": raw.label, "sha256": raw.sha256, "member": r.member, "stage": r.stage,
                             "reason": r.reason, "detail": r.detail})
        for item in meta["items"]:
            entries.append({"sha256": raw.sha256, "record": raw.records[0], "item": item, "raw": raw})
    entries.sort(key=lambda e: (e["sha256"], e["item"]["member"]))
    dd = config.dedup
    result = deduplicate(
        [e["item"]["pixel_sha256"] for e in entries],
        [e["item"]["phash"] for e in entries],
        [e["item"]["dhash"] for e in entries],
        rank=lambda i: _rank(entries[i]),
        sizes=[(e["item"]["native_width"], e["item"]["native_height"]) for e in entries],
        dhash_distance=dd.dhash_distance,
        phash_distance=dd.phash_distance,
        max_aspect_change=dd.max_aspect_change,
        near=dd.enabled,
    )
    # exact duplicates are always merged: two rows with equal pixels would leak between splits
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for cluster in result.clusters:
        best = entries[cluster[0]]
        split = split_of(best["item"]["pixel_sha256"], config.split.test_fraction, config.split.salt)
        splits[split].append(_row(best, len(cluster), b"", b""))
    for rows in splits.values():
        rows.sort(key=lambda r: r["pixel_sha256"])

    def fill(row: dict[str, Any]) -> dict[str, Any]:
        native, canvas = cache.image(row["pixel_sha256"])
        return {**row, "image": canvas, "native": native}

    write_shards(output_dir, splits, config.output.shard_rows, fill=fill)
    n_items = len(entries)
    stages["dedup"] = {"in": n_items, "out": len(result.clusters), "rejected": 0}
    stages["split"] = {"in": len(result.clusters), "out": len(result.clusters), "rejected": 0}
    report = build_report(
        input_dir=input_dir,
        input_kind=inputs.kind,
        config=config,
        inputs=inputs,
        entries=entries,
        clusters=result.clusters,
        rejected=rejected,
        stages=stages,
        duplicates_exact=result.exact_duplicates,
        duplicates_near=result.near_duplicates,
        n_train=len(splits["train"]),
        n_test=len(splits["test"]),
    )
    if config.output.html_report:
        write_html_report(output_dir, report, entries, result.clusters, cache.image)
    return report


__all__ = ["run", "read_inputs", "ResultCache", "RunResult", "format_summary"]

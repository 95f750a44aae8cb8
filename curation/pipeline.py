"""`curate run`: raw store or folder -> per-image stages (parallel, cached) -> dedup -> split -> dataset.

The parts, each in its own module: :mod:`curation.inputs` reads what to curate,
:mod:`curation.workers` runs the per-image stages, :mod:`curation.cache` keeps their results,
and this module orchestrates and writes the dataset folder (shards and report; the card is the
data_cards stage's job, composed by the ``curate`` command).

Per-file results are cached in ``<output>/cache.sqlite`` by the raw file's sha256 and the hash of
the config that shapes per-image results, and committed as they arrive. So a re-run processes only
new files, a killed run resumes where it stopped, and changing e.g. ``split.test_fraction`` re-uses
every cached image. Dedup, split and the Parquet shards are recomputed from the cache on every run;
they are cheap, deterministic, and written atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from curation.cache import CACHE_FILE, ResultCache, damaged
from curation.config import CurateConfig
from curation.dataset import write_shards
from curation.dedup import NativeConfirm, deduplicate
from curation.engines import open_engine
from curation.engines.urls import read_any
from curation.errors import CurateError, is_disk_full
from curation.inputs import Entry, Inputs, read_inputs
from curation.process import IMAGE_STAGES
from curation.report import build_report, format_summary, write_html_report
from curation.stages.background import load_rembg_session
from curation.stages.split import held_out, split_of
from pixelforge.dataset import DATA_DIR, REPORT_FILE, UNKNOWN_LICENSE
from pixelforge.io import atomic_write
from pixelforge.rawstore import PROVENANCE_FIELDS, record_licenses

#: tqdm's monitor is a thread; without it the local pool can still fork (see curation.workers.start_method)
tqdm.monitor_interval = 0
COMMIT_EVERY = 32  # files; or every second, whichever comes first


@dataclass
class RunResult:
    report: dict[str, Any]
    processed: int  # files processed in this run (the rest came from the cache)
    output: Path


def _rank(entry: Entry) -> tuple:
    """Best cluster member first: largest native size, then lossless, then the least upscaled input,
    then a known licence, then most metadata."""
    rec, item = entry.record, entry.item
    known = rec.get("license") not in (None, "", UNKNOWN_LICENSE)
    filled = sum(1 for f in PROVENANCE_FIELDS + ("tags",) if rec.get(f))
    return (-(item.native_width * item.native_height), item.lossy, item.pixel_scale, not known, -filled,
            item.pixel_sha256, entry.sha256, item.member)


def _row(entry: Entry, cluster_size: int, native: bytes, canvas: bytes) -> dict[str, Any]:
    rec, item = entry.record, entry.item
    tags = rec.get("tags") or []
    return {
        "image": canvas,
        "native": native,
        "sha256": entry.sha256,
        "pixel_sha256": item.pixel_sha256,
        **{f: str(rec.get(f) or "") for f in PROVENANCE_FIELDS},
        "license": str(rec.get("license") or UNKNOWN_LICENSE),
        "member": item.member,
        "native_width": item.native_width,
        "native_height": item.native_height,
        "pixel_scale": item.pixel_scale,
        "grid_confidence": item.grid_confidence,
        "scale": item.scale,
        "n_colors": item.n_colors,
        "phash": item.phash,
        "dhash": item.dhash,
        "cluster_size": cluster_size,
        "tags": [str(t) for t in tags] if isinstance(tags, list) else [str(tags)],
        "licenses": [x["name"] for x in record_licenses(rec)],
        "background": item.background,
    }


def is_own_output(folder: Path) -> bool:
    """True for a folder `curate run` wrote: it has our cache, or a report with our keys."""
    if (folder / CACHE_FILE).is_file():
        return True
    try:
        report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(report, dict) and {"config", "counts", "stages"} <= report.keys()


def check_paths(input_dir: Path, output_dir: Path) -> None:
    """Refuse an output that would overwrite what is not ours, or that overlaps the input.

    `curate run` replaces ``data/`` and ``README.md`` in its output, so the output must be new,
    empty, or a folder it wrote before; and input and output must not contain each other (the
    input would be rewritten, or the dataset read back as input).
    """
    if input_dir.is_dir():  # else read_inputs says so
        inp, out = input_dir.resolve(), output_dir.resolve()
        if inp == out:
            raise CurateError(f"--input and --output are the same folder ({inp}): write the dataset elsewhere")
        if out.is_relative_to(inp):
            raise CurateError(f"--output {out} is inside --input {inp}: write the dataset outside the input")
        if inp.is_relative_to(out):
            raise CurateError(f"--input {inp} is inside --output {out}: curate would rewrite its own input")
    if output_dir.exists() or output_dir.is_symlink():
        if not output_dir.is_dir():
            raise CurateError(f"--output {output_dir} exists and is not a folder: give a folder "
                              "(it is created when missing)")
        try:
            empty = next(output_dir.iterdir(), None) is None
        except OSError as exc:
            raise CurateError(f"--output {output_dir} cannot be listed: {exc.strerror or exc}") from None
        if not empty and not is_own_output(output_dir):
            raise CurateError(
                f"--output {output_dir} is not empty and not a dataset folder written by `curate run` (no "
                f"{CACHE_FILE} or {REPORT_FILE}); curate would replace its {DATA_DIR}/ and README.md, so it "
                "refuses: choose a new or empty folder")


def run(
    input_dir: str | Path,
    output_dir: str | Path,
    config: CurateConfig | None = None,
    *,
    progress: bool = True,
    engine: str = "local",  # "local" or "dask" (curation.engines)
    address: str | None = None,  # an existing Dask scheduler; None = a local cluster
) -> RunResult:
    """Curate ``input_dir`` into the dataset folder ``output_dir``; see the module docstring."""
    config = (config or CurateConfig()).validate()
    output_dir = Path(output_dir)
    input_dir = input_dir if "://" in str(input_dir) else Path(input_dir)  # fsspec URLs: a raw store
    if isinstance(input_dir, Path):
        check_paths(input_dir, output_dir)
    inputs = read_any(input_dir, output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run(inputs, input_dir, output_dir, config, progress, engine, address)
    except sqlite3.Error as exc:
        raise damaged(output_dir / CACHE_FILE, exc) from None
    except OSError as exc:
        if is_disk_full(exc, output_dir):
            raise CurateError(f"no space left on the device of {output_dir} ({exc}); free some space and run "
                              "again: the images processed so far are kept in its cache, and the dataset "
                              "files there are still those of the last complete run") from None
        raise
    finally:
        shutil.rmtree(output_dir / f".{DATA_DIR}.tmp", ignore_errors=True)  # half-written shards, if any


def _run(inputs: Inputs, input_dir: Path | str, output_dir: Path, config: CurateConfig, progress: bool,
         engine: str, address: str | None) -> RunResult:
    # fail now, with the file to download, not in every worker; one worker reuses this session
    session = load_rembg_session(config.background) if config.background.uses_rembg() else None
    workers = config.workers or os.cpu_count() or 1
    cache = ResultCache(output_dir / CACHE_FILE, config.image_key())
    runner = open_engine(engine, address=address, workers=workers)
    workers = runner.workers
    started = time.perf_counter()
    processed = 0
    try:
        done = cache.done()
        tasks = [(f.sha256, str(f.path)) for f in inputs.files if f.sha256 not in done]
        live = dict.fromkeys(("expanded", "decoded", "filtered", "passed", "rejected"), 0)
        last_commit, uncommitted = time.monotonic(), 0
        with tqdm(total=len(tasks), unit="file", desc="curate", disable=not progress, dynamic_ncols=True) as bar:
            for sha, cached, images in runner.results(tasks, config, session):
                cache.put(sha, cached, images)
                processed += 1
                st = cached.stages
                live["expanded"] += st.get("expand", {}).get("out", 0)
                live["decoded"] += st.get("decode", {}).get("out", 0)
                live["filtered"] += st.get("filters", {}).get("rejected", 0)
                live["passed"] += len(cached.items)  # before dedup, which runs over the whole set
                live["rejected"] += len(cached.rejected)
                bar.set_postfix(live, refresh=False)
                bar.update()
                uncommitted += 1
                if uncommitted >= COMMIT_EVERY or time.monotonic() - last_commit > 1.0:
                    cache.commit()  # a killed run loses at most these few files' work
                    last_commit, uncommitted = time.monotonic(), 0
        cache.commit()
        report = _assemble(inputs, input_dir, output_dir, config, cache, runner.deduplicate)
    finally:
        cache.close()
        runner.close()
    report["timing"] = {"seconds": round(time.perf_counter() - started, 3), "processed_files": processed,
                        "cached_files": len(inputs.files) - processed, "workers": workers}
    atomic_write(output_dir / REPORT_FILE, json.dumps(report, indent=2, sort_keys=False) + "\n")
    return RunResult(report, processed, output_dir)


def _assemble(inputs: Inputs, input_dir: Path, output_dir: Path, config: CurateConfig, cache: ResultCache,
              dedupe: Any = deduplicate) -> dict[str, Any]:  # the engine's dedup
    entries: list[Entry] = []
    rejected: list[dict[str, Any]] = list(inputs.rejected)
    stages: dict[str, dict[str, int]] = {"input": {"in": inputs.n_records, "out": len(inputs.files),
                                                   "rejected": len(inputs.rejected)}}
    for stage in IMAGE_STAGES:
        stages[stage] = {"in": 0, "out": 0, "rejected": 0}
    for raw in inputs.files:
        cached = cache.get(raw.sha256)
        for stage, c in cached.stages.items():
            agg = stages.setdefault(stage, {"in": 0, "out": 0, "rejected": 0})
            for k in ("in", "out", "rejected"):
                agg[k] += c[k]
        for r in cached.rejected:
            rejected.append({"input": raw.label, "sha256": raw.sha256, "member": r.member, "stage": r.stage,
                             "reason": r.reason, "detail": r.detail})
        for item in cached.items:
            entries.append(Entry(raw.sha256, raw.records[0], item, raw))
    entries.sort(key=lambda e: (e.sha256, e.item.member))
    dd = config.dedup
    art = [e.item.art() for e in entries]  # hashes and size without white margins: candidates for dedup
    result = dedupe(
        [e.item.pixel_sha256 for e in entries],
        [a[0] for a in art],
        [a[1] for a in art],
        rank=lambda i: _rank(entries[i]),
        sizes=[(a[2], a[3]) for a in art],
        dhash_distance=dd.dhash_distance,
        phash_distance=dd.phash_distance,
        max_aspect_change=dd.max_aspect_change,
        near=dd.enabled,
        confirm=NativeConfirm(lambda i: cache.image(entries[i].item.pixel_sha256)[0], lossy=lambda i: entries[i].item.lossy,
                              source=lambda i: entries[i].sha256, background=lambda i: entries[i].item.background,
                              tolerance=dd.pixel_tolerance,
                              max_share=dd.max_diff_share, merge_recolors=dd.merge_recolors) if dd.confirm else None,
    )
    # exact duplicates are always merged: two rows with equal pixels would leak between splits
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for cluster in result.clusters:
        best = entries[cluster[0]]
        split = split_of(best.item.pixel_sha256, config.split.test_fraction, config.split.salt)
        if held_out([entries[i].sha256 for i in cluster], config.split.holdout_prefixes):
            split = "test"
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


__all__ = ["run", "read_inputs", "ResultCache", "RunResult", "CACHE_FILE", "format_summary"]

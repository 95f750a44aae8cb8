"""`curate run --engine dask` on a real local Dask cluster (separate worker processes, one per
module): byte-identical to `--engine local` (shards, report minus timing, card, progress counts),
a raw store read through a ``file://`` URL, a worker killed with SIGKILL mid-run, and the banded
dedup shuffled through the cluster returning the local dedup's clusters."""

import contextlib
import io
import json
import os
import re
import signal
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

from curation.cli import main
from curation.dedup import deduplicate
from curation.engines import open_engine
from curation.lsh import deduplicate_sharded
from tests.test_curation_pipeline import RawStore, sprite_png

WORKERS = 2


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        with Client(lc) as client:
            client.wait_for_workers(WORKERS)
            yield lc, client


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = RawStore(tmp_path_factory.mktemp("raw"))
    for k in range(90):
        s.add(sprite_png(500 + k, (16 + k % 9, 16 + k % 7), background="transparent", seed=k))
    s.add(sprite_png(500, (16, 16), background="transparent", seed=0), url="https://mirror.example/0.png")
    s.add(sprite_png(501, (17, 17), background="transparent", seed=77), license="")  # exact dup after compositing
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pack/a.png", sprite_png(20, (24, 24)))
        zf.writestr("../escape.png", sprite_png(22))
    s.add(buf.getvalue(), ext="zip", content_type="application/zip")
    good = sprite_png(30)
    s.add(good[: len(good) // 2], url="https://example.org/truncated.png")
    s.add(b"<!doctype html><p>not found</p>", ext="png")
    with (s.root / "manifest.jsonl").open("a") as fh:
        fh.write("{not json\n")
    return s


def _curate(store, out, *extra):
    """`curate run` in this process (the card names the dataset after the folder: always ``ds``)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", "--input", str(store), "--output", str(out), "--workers", str(WORKERS),
                     "--set", "output.html_report=true", *extra])
    assert code == 0, err.getvalue()
    return err.getvalue()


def _final_counts(stderr: str) -> str:
    """The progress bar's last per-stage counts (``expanded=.., decoded=.., ...``)."""
    found = re.findall(r"expanded=\d+, decoded=\d+, filtered=\d+, passed=\d+, rejected=\d+", stderr)
    assert found, stderr[-500:]
    return found[-1]


@pytest.fixture(scope="module")
def local(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "ds"
    return out, _curate(store.root, out, "--engine", "local")


def _report(out, drop=("timing",)):
    report = json.loads((out / "curation_report.json").read_text())
    return {k: v for k, v in report.items() if k not in drop}


def _assert_same_dataset(a: Path, b: Path, drop=("timing",), card_input=("", "")):
    shards = sorted(p.relative_to(a) for p in (a / "data").rglob("*.parquet"))
    assert shards and shards == sorted(p.relative_to(b) for p in (b / "data").rglob("*.parquet"))
    for rel in shards:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert _report(a, drop) == _report(b, drop)
    assert (a / "README.md").read_text().replace(*card_input) == (b / "README.md").read_text()


def test_dask_engine_is_byte_identical_to_local_with_the_same_progress(cluster, store, local, tmp_path):
    lc, _ = cluster
    out = tmp_path / "dask" / "ds"
    stderr = _curate(store.root, out, "--engine", "dask", "--address", lc.scheduler_address)
    _assert_same_dataset(local[0], out)
    report = _report(out, ())
    assert report["timing"]["workers"] == WORKERS and report["timing"]["processed_files"] == 94
    assert report["counts"]["duplicates_exact"] == 1 and report["counts"]["kept"] > 80
    assert {"bad-manifest-line", "zip-slip", "unreadable"} <= {r["reason"] for r in report["rejected"]}
    assert _final_counts(stderr) == _final_counts(local[1])
    # a second run on the cluster takes everything from the cache and writes the same bytes
    _curate(store.root, out, "--engine", "dask", "--address", lc.scheduler_address)
    assert _report(out, ())["timing"]["processed_files"] == 0
    _assert_same_dataset(local[0], out)


def test_raw_store_through_a_file_url(cluster, store, local, tmp_path):
    lc, _ = cluster
    out = tmp_path / "url" / "ds"
    _curate(store.root.as_uri(), out, "--engine", "dask", "--address", lc.scheduler_address, "--no-progress")
    named = ("`" + str(store.root), "`" + store.root.as_uri())  # the card names the input as given
    _assert_same_dataset(local[0], out, drop=("timing", "input"), card_input=named)
    assert _report(out, ())["input"] == store.root.as_uri()
    # the local engine reads file:// URLs too (other schemes need workers that read them)
    out2 = tmp_path / "url-local" / "ds"
    _curate(store.root.as_uri(), out2, "--engine", "local", "--no-progress")
    _assert_same_dataset(local[0], out2, drop=("timing", "input"), card_input=named)


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, store, local, tmp_path):
    lc, client = cluster
    client.wait_for_workers(WORKERS)
    pids = client.run(os.getpid)
    killed: dict[str, object] = {}

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
            if busy:  # a worker with a batch of images in hand
                killed["tasks"] = len(client.processing()[busy[0]])
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed["addr"] = busy[0]
                return
            time.sleep(0.005)

    out = tmp_path / "killed" / "ds"
    thread = threading.Thread(target=kill_a_busy_worker)
    thread.start()
    _curate(store.root, out, "--engine", "dask", "--address", lc.scheduler_address, "--no-progress")
    thread.join()
    assert killed.get("tasks"), "no worker was caught with work in hand"
    with pytest.raises(ProcessLookupError):
        os.kill(pids[killed["addr"]], 0)  # really gone
    _assert_same_dataset(local[0], out)  # every row once: no file lost, none counted twice
    assert _report(out, ())["timing"]["processed_files"] == 94
    client.wait_for_workers(WORKERS, timeout=60)  # the nanny restarted it for the next tests


def _planted(n_groups=150, noise=1500, seed=7):
    rng = np.random.default_rng(seed)
    dh = list(rng.integers(0, 2**64, noise, dtype=np.uint64))
    ph = list(rng.integers(0, 2**64, noise, dtype=np.uint64))
    sizes = [(int(w), int(h)) for w, h in rng.integers(8, 64, (noise, 2))]
    for g in range(n_groups):
        base_d, base_p = rng.integers(0, 2**64, 2, dtype=np.uint64)
        for _ in range(int(rng.integers(2, 5))):
            flips = rng.choice(64, int(rng.integers(0, 9)), replace=False)  # some beyond distance 6
            mask = np.uint64(sum(1 << int(f) for f in flips))
            dh.append(base_d ^ mask)
            ph.append(base_p ^ np.uint64(sum(1 << int(f) for f in rng.choice(64, int(rng.integers(0, 20)), False))))
            sizes.append((20 + g % 3, 20))
    pixel = [f"{int(d):016x}" if i % 97 else "same" for i, d in enumerate(dh)]  # some exact duplicates too
    return pixel, [f"{int(p):016x}" for p in ph], [f"{int(d):016x}" for d in dh], sizes


def test_sharded_dedup_through_the_cluster_equals_the_local_dedup(cluster):
    lc, _ = cluster
    pixel, ph, dh, sizes = _planted()
    kwargs = {"sizes": sizes, "dhash_distance": 6, "phash_distance": 16, "max_aspect_change": 1.1}
    ref = deduplicate(pixel, ph, dh, rank=lambda i: (i,), **kwargs)
    assert ref.near_duplicates > 50  # the planted groups are found, so the comparison means something
    engine = open_engine("dask", address=lc.scheduler_address, cluster_dedup_min_rows=0)
    try:
        assert engine.deduplicate(pixel, ph, dh, rank=lambda i: (i,), **kwargs) == ref
    finally:
        engine.close()
    assert deduplicate_sharded(pixel, ph, dh, rank=lambda i: (i,), **kwargs) == ref

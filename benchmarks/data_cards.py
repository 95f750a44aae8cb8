"""Data cards and push: how long a card and a push take, against references measured in the same run.

Run: ``.venv/bin/python benchmarks/data_cards.py [--rows N] [--canvas PX]``

References (same data, same machine, same run):

* ``write_card`` (stats + attribution.csv + samples.png + README.md) against
  ``datasets.load_dataset(folder)`` (what any user pays to read the folder once) and against a
  plain pyarrow read of every shard (the floor for anything that reads all the data);
* ``prepare_push`` (filter unknown licences, rewrite shards, regenerate the card) against
  copying the shards with ``shutil.copy``;
* the upload through huggingface_hub to a local fake Hub (whoami, create, preupload, LFS batch,
  PUT, verify, commit) against raw HTTP PUTs of the same bytes to the same server.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows in the benchmark dataset (default 2000)")
    parser.add_argument("--canvas", type=int, default=256, help="canvas size of the rows (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per measurement")
    args = parser.parse_args()

    import httpx2 as http
    import huggingface_hub.constants as hf_constants
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from datasets.utils.logging import disable_progress_bar

    from data_cards.card import write_card
    from data_cards.push import prepare_push, upload
    from pixelforge.testing.dataset_folder import build_dataset_folder
    from pixelforge.testing.fake_hub import FakeHub

    disable_progress_bar()
    work = Path(tempfile.mkdtemp(prefix="pixelforge-bench-cards-"))
    try:
        t0 = time.perf_counter()
        n_test = max(1, args.rows // 10)
        built = build_dataset_folder(
            work / "ds", n_train=args.rows - n_test, n_test=n_test, canvas=args.canvas,
            licenses=("CC0 1.0", "CC-BY 4.0", "CC-BY-SA 3.0", "unknown"),
            shards={"train": max(1, args.rows // 1000), "test": 1},
        )
        build_s = time.perf_counter() - t0
        shards = sorted((built.path / "data").glob("*.parquet"))
        data_bytes = sum(p.stat().st_size for p in shards)
        print(f"dataset: {args.rows} rows, canvas {args.canvas}, {len(shards)} shards, {data_bytes / 1e6:.1f} MB "
              f"(built in {build_s:.1f} s)")

        card_s = best_of(lambda: write_card(built.path), args.repeat)
        arrow_s = best_of(lambda: [pq.read_table(p) for p in shards], args.repeat)
        counter = iter(range(1000))
        load_s = best_of(
            lambda: load_dataset(str(built.path), cache_dir=str(work / f"cache{next(counter)}")), args.repeat
        )

        def stage() -> None:
            out = work / "stage"
            shutil.rmtree(out, ignore_errors=True)
            prepare_push(built.path, out, repo_id="u/bench")

        def copy() -> None:
            out = work / "copy"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            for p in shards:
                shutil.copy(p, out / p.name)

        stage_s = best_of(stage, args.repeat)
        copy_s = best_of(copy, args.repeat)

        plan = prepare_push(built.path, work / "stage", repo_id="u/bench")
        upload_times, raw_times = [], []
        for i in range(args.repeat):
            with FakeHub({"hf_bench": "u"}) as hub:
                hf_constants.HF_HUB_DISABLE_XET = True
                hf_constants.ENDPOINT = hub.url
                start = time.perf_counter()
                upload(plan, token="hf_bench", endpoint=hub.url)
                upload_times.append(time.perf_counter() - start)
                with http.Client() as client:
                    start = time.perf_counter()
                    for f in plan.files:
                        data = f.local_path.read_bytes()
                        oid = hashlib.sha256(data + bytes([i])).hexdigest()  # fresh object each time
                        hub.lfs.pop(oid, None)
                        client.put(f"{hub.url}/__lfs/{oid}", content=data)
                    raw_times.append(time.perf_counter() - start)
        upload_s, raw_s = min(upload_times), min(raw_times)
        up_bytes = plan.total_bytes

        rows = [
            ("write_card (README + attribution.csv + samples.png)", card_s, "datasets.load_dataset", load_s),
            ("write_card", card_s, "pyarrow read of all shards", arrow_s),
            ("prepare_push (drop unknown licences, new card)", stage_s, "shutil.copy of the shards", copy_s),
            (f"upload via huggingface_hub ({len(plan.files)} files, 1 commit)", upload_s, "raw HTTP PUT of the files", raw_s),
        ]
        print()
        print(f"{'step':<58} {'s':>8}   {'reference':<28} {'s':>8} {'ratio':>7}")
        print("-" * 116)
        for name, t, ref, rt in rows:
            print(f"{name:<58} {t:>8.3f}   {ref:<28} {rt:>8.3f} {t / rt:>6.2f}x")
        print()
        print(f"card throughput: {args.rows / card_s:,.0f} rows/s; upload payload {up_bytes / 1e6:.1f} MB "
              f"({up_bytes / 1e6 / upload_s:.1f} MB/s to a local server)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

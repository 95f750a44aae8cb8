"""`curate run --engine dask`: the per-image stages and the near-duplicate search on Dask distributed.

Why Dask: it is pure Python on top of what curation already uses (numpy, pandas, pyarrow), a
scheduler and workers start with one command each (``dask scheduler``, ``dask worker ADDRESS``)
or from Kubernetes/SLURM/YARN deployers, it re-runs the tasks of a worker that dies, and its
dataframe shuffle (peer to peer, spilling to disk) is the group-by the banded dedup needs.

The driver (the `curate` process) keeps what the local path keeps: it submits files in batches,
receives each batch's results as they complete, writes them into the SQLite cache and counts
them for the progress bar. At most a few batches per worker are in flight, so neither the driver
nor the workers hold more than a window of images. A batch lost with a killed worker is
re-run by the scheduler; a batch that keeps killing workers is split into single files, and a
single file that still does is rejected with the reason (one bad file never aborts the run).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from curation.config import CurateConfig
from curation.engines.files import process_batch
from curation.lsh import Banding, band_frame, deduplicate_sharded, local_near_pairs, pairs_array, shard_pairs
from curation.workers import Outcome, Task, rejected_file

IN_FLIGHT_PER_WORKER = 4  # batches
ROWS_PER_PARTITION = 250_000  # hashes per dataframe partition of the dedup
#: below this many hashes the driver searches them itself (same function, same pairs): a round of
#: shuffles costs seconds of scheduling, a local search of 200k hashes about as much
CLUSTER_DEDUP_MIN_ROWS = 200_000


class DaskEngine:
    """A client of an existing scheduler (``address``), or of a local cluster of ``workers`` processes."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int = 1,
                 cluster_dedup_min_rows: int = CLUSTER_DEDUP_MIN_ROWS) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        self.cluster_dedup_min_rows = cluster_dedup_min_rows
        if address:
            self.client = Client(address)
        else:
            self.cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        self.client.wait_for_workers(1, timeout=120)
        self.workers = len(self.client.scheduler_info(n_workers=-1)["workers"])
        self.deduplicate = functools.partial(deduplicate_sharded, near_pairs=self.near_pairs)

    def results(self, tasks: list[Task], config: CurateConfig, session: Any = None) -> Iterator[Outcome]:
        """Outcomes in completion order, each file exactly once (``session`` stays on the driver:
        sessions do not cross processes; each worker builds its own)."""
        from distributed import as_completed

        if not tasks:
            return
        size = max(1, min(16, len(tasks) // (self.workers * 8)))
        pending = [tasks[i : i + size] for i in range(0, len(tasks), size)][::-1]
        window = as_completed()
        batch_of: dict[str, list[Task]] = {}

        def submit(batch: list[Task]) -> None:
            fut = self.client.submit(process_batch, batch, config, pure=False)
            batch_of[fut.key] = batch
            window.add(fut)

        for _ in range(min(len(pending), self.workers * IN_FLIGHT_PER_WORKER)):
            submit(pending.pop())
        for fut in window:
            batch = batch_of.pop(fut.key)
            try:
                outcomes = fut.result()
            except Exception as exc:  # the batch's worker died (KilledWorker) more times than allowed
                if len(batch) > 1:
                    pending.extend([task] for task in batch)
                    outcomes = []
                else:
                    outcomes = [rejected_file(batch[0][0], "worker-lost", f"{type(exc).__name__}: {exc}")]
            fut.release()
            if pending:
                submit(pending.pop())
            yield from outcomes

    def near_pairs(self, frame: pd.DataFrame, banding: Banding, phash_distance: int,
                   max_aspect_change: float) -> np.ndarray:
        """Banded near pairs of a frame the driver holds, searched by the cluster."""
        import dask.dataframe as dd

        if len(frame) < self.cluster_dedup_min_rows:
            return local_near_pairs(frame, banding, phash_distance, max_aspect_change)
        parts = max(self.workers, -(-len(frame) // ROWS_PER_PARTITION))
        hashes = dd.from_pandas(frame, npartitions=parts, sort=False)
        return shuffled_near_pairs(hashes, banding, phash_distance, max_aspect_change)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def shuffled_near_pairs(hashes: Any, banding: Banding, phash_distance: int, max_aspect_change: float,
                        partitions: int | None = None) -> np.ndarray:
    """Steps 1-2 of :mod:`curation.lsh` on a Dask dataframe (columns ``idx dhash phash aspect``):
    Dask's shuffle puts every row with a given (band, band value) key in one partition, and each
    partition yields its confirmed pairs. Only the pairs come back to the caller."""
    partitions = partitions or hashes.npartitions
    meta_keyed = band_frame(hashes._meta, banding)
    meta_pairs = pd.DataFrame({"a": pd.Series(dtype=np.int64), "b": pd.Series(dtype=np.int64)})
    keyed = hashes.map_partitions(band_frame, banding, meta=meta_keyed)
    grouped = keyed.shuffle(on=["band", "key"], npartitions=partitions)
    found = grouped.map_partitions(shard_pairs, banding, phash_distance, max_aspect_change, meta=meta_pairs)
    return pairs_array([found.compute()])

__all__ = ["DaskEngine", "shuffled_near_pairs"]

"""`train average`: one generator from the average of a run's checkpoints (weight averaging).

A GAN generator's weights wander around a good point while it trains: each epoch's checkpoint is that
point plus its own noise, which shows as odd single cells in flat areas. The element-wise mean of
several checkpoints of one run (Izmailov et al. 2018, "Averaging Weights Leads to Wider Optima";
Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training") cancels much of that
noise at no training cost. Only the generators are averaged; the discriminators are the last
checkpoint's, so a later stage can ``--init-from`` the result. The output is a run folder without a
training state: it is a starting point or a model, not something to ``--resume``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from pixelforge.io import atomic_write, public_mode, replace_dir
from pixelforge.model.checkpoint import (
    CHECKPOINTS_DIR,
    LATEST,
    STATE_JSON,
    CheckpointError,
    find_checkpoint_dir,
    read_network,
    spec_from_metadata,
    write_safetensors,
)

GENERATORS = ("G_A", "G_B")
DISCRIMINATORS = ("D_A", "D_B")
#: what the run folder keeps from the last source's run, so `pixelate`, `train publish` and the card work on it
RUN_FILES = ("config.json", "losses.csv", "loss.png")
#: the record of what was averaged, in the output run folder
RECORD = "average.json"
#: G_A/G_B metadata key naming the averaged checkpoints (run and checkpoint names, no local paths)
AVERAGED_KEY = "averaged_from"


@dataclass(frozen=True)
class Source:
    folder: Path  # a checkpoint folder
    name: str  # "RUN/epoch_0003": what the record and the metadata show
    step: int | None


def checkpoints_of(path: str | Path, last: int | None = None) -> list[Path]:
    """A run folder's ``checkpoints/epoch_NNNN`` folders in order (the last ``last`` of them); a checkpoint
    folder is itself."""
    path = Path(path)
    root = path / CHECKPOINTS_DIR
    if not root.is_dir():
        return [find_checkpoint_dir(path)]
    epochs = sorted(p for p in root.glob("epoch_*") if p.is_dir())
    if not epochs:
        raise CheckpointError(
            f"{path} keeps no checkpoints/epoch_NNNN folders to average (train with a smaller "
            "--save-epoch-freq, or name checkpoint folders)"
        )
    return epochs[-last:] if last else epochs


def _source(folder: Path) -> Source:
    run = folder.parent.parent.name if folder.parent.name == CHECKPOINTS_DIR else ""
    try:
        step = json.loads((folder / STATE_JSON).read_text())["counters"]["step"]
    except (OSError, ValueError, KeyError, TypeError):
        step = None
    return Source(
        folder, f"{run}/{folder.name}" if run else folder.name, step if isinstance(step, int) else None
    )


def average_states(
    states: Sequence[dict[str, torch.Tensor]], what: str = "weights"
) -> dict[str, torch.Tensor]:
    """The element-wise mean of state dicts of one architecture, in float64, cast back to each tensor's dtype.

    Integer tensors (counters) must agree: there is no mean of a count. Keys and shapes must match exactly.
    """
    if len(states) < 2:
        raise CheckpointError(f"averaging needs at least 2 checkpoints, got {len(states)}")
    first = states[0]
    out = {}
    for i, state in enumerate(states[1:], start=2):
        if state.keys() != first.keys():
            odd = sorted(set(state) ^ set(first))[:4]
            raise CheckpointError(
                f"{what}: checkpoint {i} has other weights than checkpoint 1 ({', '.join(odd)}): "
                "only checkpoints of one architecture can be averaged"
            )
    for key, ref in first.items():
        values = [s[key] for s in states]
        if any(v.shape != ref.shape for v in values):
            raise CheckpointError(
                f"{what}: {key} has shapes {[tuple(v.shape) for v in values]}: not one architecture"
            )
        if ref.is_floating_point():
            out[key] = (torch.stack([v.double() for v in values]).mean(0)).to(ref.dtype)
        elif all(torch.equal(v, ref) for v in values):
            out[key] = ref.clone()
        else:
            raise CheckpointError(f"{what}: {key} is an integer tensor that differs between checkpoints")
    return out


def average_checkpoints(folders: Sequence[str | Path], output: str | Path) -> Path:
    """Write ``output/checkpoints/latest`` with the mean generators of ``folders`` (checkpoint folders).

    Returns the new run folder. ``output`` must be new or empty; nothing is written before every input
    has been read and checked.
    """
    sources = [_source(find_checkpoint_dir(f)) for f in folders]
    if len({s.folder.resolve() for s in sources}) != len(sources):
        raise CheckpointError("the same checkpoint is named twice: each would count double in the mean")
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise CheckpointError(
            f"--output {output} exists and is not empty: train average writes a new run folder"
        )
    averaged, metas = {}, {}
    for name in GENERATORS:
        present = [(s.folder / f"{name}.safetensors").is_file() for s in sources]
        if not any(present):
            continue
        if not all(present):
            raise CheckpointError(
                f"{name}.safetensors is missing from {', '.join(s.name for s, p in zip(sources, present) if not p)}"
            )
        read = [read_network(s.folder / f"{name}.safetensors") for s in sources]
        specs = [spec_from_metadata(meta) for _, meta in read]
        if any(spec != specs[0] for spec in specs):
            raise CheckpointError(
                f"{name}: the checkpoints record different architectures: "
                + "; ".join(f"{s.name} {spec}" for s, spec in zip(sources, specs))
            )
        averaged[name] = average_states([state for state, _ in read], what=name)
        metas[name] = read[-1][1] | {AVERAGED_KEY: ", ".join(s.name for s in sources)}
    if "G_A" not in averaged:
        raise CheckpointError("no G_A.safetensors in the checkpoints: nothing `pixelate` could use")
    run_of_last = (
        sources[-1].folder.parent.parent if sources[-1].folder.parent.name == CHECKPOINTS_DIR else None
    )

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        latest = tmp / CHECKPOINTS_DIR / LATEST
        latest.mkdir(parents=True)
        for name, state in averaged.items():
            write_safetensors(state, latest / f"{name}.safetensors", metas[name])
        for name in DISCRIMINATORS:
            if (sources[-1].folder / f"{name}.safetensors").is_file():
                shutil.copyfile(sources[-1].folder / f"{name}.safetensors", latest / f"{name}.safetensors")
        for name in RUN_FILES if run_of_last else ():
            if (run_of_last / name).is_file():
                shutil.copyfile(run_of_last / name, tmp / name)
        record = {
            "averaged": [{"checkpoint": s.name, "step": s.step} for s in sources],
            "networks": sorted(averaged),
            "discriminators_from": sources[-1].name,
            "method": "element-wise mean of the weights, in float64",
        }
        atomic_write(tmp / RECORD, json.dumps(record, indent=2) + "\n")
        public_mode(tmp)
        for path in tmp.rglob("*"):
            public_mode(path)
        if output.exists():
            output.rmdir()
        replace_dir(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output

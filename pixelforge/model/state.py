"""A training run's state without pickle, and the checkpoint folders it is written into.

``save_state`` splits a nested state (optimizers, image pools, RNG states, counters) into
``state.safetensors`` (every tensor and array) and ``state.json`` (the rest, with int keys and
tuples kept); ``save_checkpoint`` writes the networks and that state to a temporary sibling
folder and renames it into place, so a crash never leaves a half-written ``latest``. The network
files and their formats are :mod:`pixelforge.model.checkpoint`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from pixelforge.io import public_mode, replace_dir
from pixelforge.model.checkpoint import (
    LATEST,
    STATE_JSON,
    STATE_TENSORS,
    CheckpointError,
    save_network,
    write_safetensors,
)


def _pack(obj: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    """Turn a nested state into JSON, moving tensors/arrays into ``tensors`` (no pickle anywhere)."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, np.ndarray):
        tensors[prefix] = torch.from_numpy(np.ascontiguousarray(obj).copy())
        return {"__ndarray__": prefix}
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _pack(v, tensors, f"{prefix}.{k}") for k, v in obj.items()}
        return {"__items__": [[k, _pack(v, tensors, f"{prefix}.{i}")] for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_pack(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_pack(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} without pickle")


def _unpack(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_unpack(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(_unpack(v, tensors) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {k: _unpack(v, tensors) for k, v in obj["__items__"]}
        return {k: _unpack(v, tensors) for k, v in obj.items()}
    return obj


def save_state(folder: str | Path, state: Mapping[str, Any]) -> None:
    """Write a nested training state as ``state.safetensors`` (tensors) + ``state.json`` (the rest).

    Floats survive exactly (JSON keeps the shortest repr that round-trips); dicts with non-string
    keys (optimizer state is keyed by int) and tuples (RNG states) keep their types.
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _pack(dict(state), tensors, "s")
    folder = Path(folder)
    write_safetensors(tensors, folder / STATE_TENSORS)
    (folder / STATE_JSON).write_text(json.dumps(skeleton, indent=1, allow_nan=True) + "\n")


def load_state(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    for name in (STATE_TENSORS, STATE_JSON):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder} has no {name}: not a resumable checkpoint")
    try:
        tensors = load_file(str(folder / STATE_TENSORS))
        skeleton = json.loads((folder / STATE_JSON).read_text())
        return _unpack(skeleton, tensors)
    except (SafetensorError, OSError, json.JSONDecodeError, KeyError) as exc:
        raise CheckpointError(f"training state in {folder} is unreadable: {exc}") from exc


def publish_dir(tmp: Path, final: Path) -> None:
    """Move a fully written temporary checkpoint folder to ``final`` (see :func:`pixelforge.io.replace_dir`);
    a crash between its two renames leaves ``.latest.old``, which :func:`pixelforge.model.checkpoint.find_checkpoint_dir` falls back to."""
    replace_dir(tmp, final)


def save_checkpoint(
    root: str | Path,
    nets: Mapping[str, nn.Module],
    metadata: Mapping[str, Mapping[str, str]],
    state: Mapping[str, Any],
    *,
    also_as: str | None = None,
) -> Path:
    """Write ``root/latest`` atomically (and hard-link it to ``root/<also_as>``, e.g. ``epoch_0005``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    public_mode(tmp)  # mkdtemp makes it 0700; a checkpoint folder is as readable as any other the user makes
    try:
        for name, net in nets.items():
            save_network(net, tmp / f"{name}.safetensors", metadata[name])
        save_state(tmp, state)
        if also_as:
            copy = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
            public_mode(copy)
            for f in tmp.iterdir():
                try:
                    os.link(f, copy / f.name)
                except OSError:
                    shutil.copy2(f, copy / f.name)
            publish_dir(copy, root / also_as)
        publish_dir(tmp, root / LATEST)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root / LATEST

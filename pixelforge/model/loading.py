"""Weights into networks: our safetensors files, and the reference implementation's ``.pth``.

:func:`load_generator` is the one door through which inference loads a generator, from a run folder,
a checkpoint folder, a ``G_A.safetensors`` (its metadata says the architecture) or a reference
``latest_net_G_A.pth``. The reference's files are read with ``torch.load(weights_only=True)``, so a
pickle that carries code is refused, and get its key clean-up; :func:`export_reference_pth` writes
them back. :func:`init_networks` starts training from either form. The file formats and folder
layout are :mod:`pixelforge.model.checkpoint`'s.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from pixelforge.model.checkpoint import (
    DIRECTIONS,
    CheckpointError,
    check_shapes,
    check_spec,
    check_state_dict,
    find_checkpoint_dir,
    generator_file,
    holds_ours,
    read_header,
    read_network,
    spec_from_metadata,
    unwrap,
)
from pixelforge.model.networks import GeneratorSpec, ResnetGenerator

#: keys the reference's old InstanceNorm wrote and its own loader deletes (``__patch_instance_norm_state_dict``)
_STALE_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def clean_reference_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference's key clean-up: strip ``module.`` / ``_orig_mod.``, drop InstanceNorm stats."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        if key.rsplit(".", 1)[-1] in _STALE_SUFFIXES:
            continue
        out[key] = value
    return out


def _pickle_detail(exc: Exception) -> str:
    """The part of torch's refusal that names what was refused, without its advice to disable the check."""
    text = str(exc)
    for line in text.splitlines():
        if "Unsupported global" in line or "Unsupported operand" in line:
            return line.strip().removeprefix("WeightsUnpickler error: ")[:300]
    return text.split(". ")[0][:200]


def has_skip(state: Mapping[str, object]) -> bool:
    """Whether a generator's state (tensors or shapes) holds the long skip, ``skip.1.*``."""
    return any(k.startswith("skip.") for k in state)


def infer_generator_spec(state: Mapping[str, torch.Tensor | tuple[int, ...]]) -> GeneratorSpec | None:
    """Best guess of the architecture that produced ``state`` (tensors or their shapes; used in error hints only)."""
    try:
        first = _Shaped(state["model.1.weight"])
        n_blocks = len({k.split(".")[1] for k in state if ".conv_block." in k})
        # keys may come sorted as strings (safetensors), so find the last layer by its index
        top = [k for k in state if k.count(".") == 2 and k.startswith("model.") and k.endswith(".weight")]
        last = max(top, key=lambda k: int(k.split(".")[1]))
        return GeneratorSpec(
            input_nc=int(first.shape[1]),
            output_nc=int(_Shaped(state[last]).shape[0]),
            ngf=int(first.shape[0]),
            n_blocks=n_blocks,
            skip=int(has_skip(state)),
        )
    except (KeyError, IndexError, ValueError, TypeError):
        return None


class _Shaped:
    """A tensor or a bare shape tuple, seen through ``.shape``."""

    def __init__(self, value: torch.Tensor | tuple[int, ...]) -> None:
        self.shape = tuple(value.shape) if hasattr(value, "shape") else tuple(value)


def load_reference_pth(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a reference ``latest_net_*.pth`` safely and return its cleaned state dict."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refused to load {path}: it is a pickle that carries code or objects other than tensors "
            f"(only plain state dicts are accepted, torch.load(weights_only=True)). Detail: {_pickle_detail(exc)}"
        ) from exc
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint: {exc}") from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return clean_reference_keys(obj)


def export_reference_pth(net_or_state: nn.Module | Mapping[str, torch.Tensor], path: str | Path) -> Path:
    """Write weights in the reference's format (``torch.save`` of a plain state dict, CPU tensors)."""
    if isinstance(net_or_state, nn.Module):
        state = unwrap(net_or_state).state_dict()
    else:
        state = dict(net_or_state)
    if has_skip(state):
        raise CheckpointError(f"{path}: this generator has the long skip (skip=1), which the reference's ResnetGenerator "
                              "lacks, so no reference code could load it; export it as safetensors instead")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu().clone() for k, v in state.items()}, str(path))
    return path


def load_generator(
    path: str | Path,
    *,
    which: str = "G_A",
    spec: GeneratorSpec | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[ResnetGenerator, GeneratorSpec]:
    """Load a generator for inference, in eval mode, from any checkpoint form we know.

    ``path`` may be a run folder (uses ``checkpoints/latest``), a checkpoint folder, a
    ``.safetensors`` file or a reference ``.pth``. The architecture comes from the file's
    metadata; ``spec`` overrides it (and is required for ``.pth`` files that are not the
    reference default ngf 64, 9 blocks). ``which`` is ``G_A`` (A->B, pictures to pixel art) or ``G_B``.
    """
    if which not in DIRECTIONS:
        raise CheckpointError(f"which must be one of {sorted(DIRECTIONS)}, got {which!r}")
    path = Path(path)
    if path.is_dir():
        path = generator_file(path, which)
    elif which != "G_A":
        raise CheckpointError(f"{path} is one generator's file; which={which!r} chooses within a folder: "
                              f"give the folder, or the {which} file itself")
    if not path.exists():
        raise CheckpointError(f"checkpoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        # header first: the metadata's architecture must match the file's tensors before anything is built
        shapes, meta = read_header(path)
        spec = check_spec(spec) if spec is not None else spec_from_metadata(meta) if meta else GeneratorSpec()
        _check_or_hint(spec, clean_reference_keys(shapes), str(path))
        state = clean_reference_keys(read_network(path)[0])
    elif suffix in (".pth", ".pt", ".ckpt", ".bin"):
        state = load_reference_pth(path)
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        # a reference file carries no metadata: its tensors say the width and depth
        spec = check_spec(spec or infer_generator_spec(shapes) or GeneratorSpec())
        _check_or_hint(spec, shapes, str(path))
    else:
        raise CheckpointError(f"unknown checkpoint type {path.name!r}: expected .safetensors or .pth")
    net = spec.build()
    check_state_dict(net, state, str(path))
    net.load_state_dict(state, strict=True)
    return net.to(map_location).eval(), spec


def _check_or_hint(spec: GeneratorSpec, shapes: Mapping[str, tuple[int, ...]], what: str) -> None:
    """:func:`check_shapes`, adding the architecture the file looks like when that differs."""
    try:
        check_shapes(spec, shapes, what)
    except CheckpointError as exc:
        guess = infer_generator_spec(shapes)
        if guess is not None and guess != spec:
            how = (f"pixelate --ngf {guess.ngf} --n-blocks {guess.n_blocks}; " if not guess.skip else "") + "spec=GeneratorSpec(...) in Python"
            raise CheckpointError(
                f"{exc}\n  the file looks like ngf={guess.ngf}, n_blocks={guess.n_blocks}"
                f"{', with the long skip' if guess.skip else ''}: give that architecture ({how}), "
                "or leave it out to use the file's own"
            ) from exc
        raise


def load_network_into(net: nn.Module, path: str | Path) -> dict[str, str]:
    """Load a ``.safetensors`` network file into ``net`` strictly; returns its metadata."""
    state, meta = read_network(path)
    target = unwrap(net)
    check_state_dict(target, state, str(path))
    target.load_state_dict(state, strict=True)
    return meta


def _load_adding_skip(net: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``state`` strictly, except that a generator with the long skip may start from one without:
    its skip conv is then zeroed, so the network computes exactly what the parent did."""
    if isinstance(net, ResnetGenerator) and net.skip is not None and not has_skip(state):
        state = {**state, **{f"skip.{k}": torch.zeros_like(v) for k, v in net.skip.state_dict().items()}}
    check_state_dict(net, state, what)
    net.load_state_dict(state, strict=True)


def init_networks(source: str | Path, nets: Mapping[str, nn.Module]) -> list[str]:
    """Start training from existing weights: a run or checkpoint folder of ours, or a folder of the
    reference's ``latest_net_G_A.pth``-style files (weights only: optimizers start fresh).

    Loads every network found, strictly (architecture mismatches name keys and shapes); returns
    the names loaded and raises CheckpointError when none is there.
    """
    source = Path(source)
    if not source.is_dir():
        raise CheckpointError(f"--init-from {source}: not a folder")
    folder = find_checkpoint_dir(source) if holds_ours(source) else source
    loaded = []
    for name, net in nets.items():
        ours, ref = folder / f"{name}.safetensors", folder / f"latest_net_{name}.pth"
        if ours.is_file():
            state, where = read_network(ours)[0], ours  # ours: keys as written, no reference clean-up
        elif ref.is_file():
            state, where = load_reference_pth(ref), ref
        else:
            continue
        _load_adding_skip(unwrap(net), state, str(where))
        loaded.append(name)
    if not loaded:
        raise CheckpointError(f"--init-from {source}: no G_A/G_B/D_A/D_B .safetensors or latest_net_*.pth found")
    return loaded

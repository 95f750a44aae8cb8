"""Checkpoints without pickle: safetensors weights, a safetensors + JSON training state.

A checkpoint folder (``runs/NAME/checkpoints/latest`` or ``epoch_0005``) holds::

    G_A.safetensors G_B.safetensors D_A.safetensors D_B.safetensors
    state.safetensors state.json      optimizers, pools, RNG states, counters (pixelforge.model.state)

Each network file carries safetensors metadata saying how to rebuild it (``GeneratorSpec`` or
``DiscriminatorSpec`` fields, ``direction``, ``size``), so a single ``G_A.safetensors`` is enough
for inference. :mod:`pixelforge.model.state` writes the folders (to a temporary sibling, renamed
into place, so a crash never leaves a half-written ``latest``) and the training state in them.

Loading weights into networks, ours and the reference implementation's ``latest_net_G_A.pth``
(``torch.load(weights_only=True)``, a pickle that carries code is refused), is
:mod:`pixelforge.model.loading`; what a published generator records about how to run it (its resolution, input and
measured options) is :mod:`pixelforge.model.recorded`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from pixelforge.io import atomic_path, public_mode
from pixelforge.model.networks import DiscriminatorSpec, GeneratorSpec

FORMAT = "pixelforge"
GENERATOR_ARCH = "resnet_generator"
DISCRIMINATOR_ARCH = "nlayer_discriminator"
NETWORKS = ("G_A", "G_B", "D_A", "D_B")
DIRECTIONS = {"G_A": "AtoB", "G_B": "BtoA"}
STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
CHECKPOINTS_DIR = "checkpoints"
LATEST = "latest"

class CheckpointError(ValueError):
    """A checkpoint that cannot be read, is unsafe, or does not fit the requested architecture."""


# --------------------------------------------------------------------------- network files


#: Spec fields added after the format was published: files written before them lack the key and get the default.
OPTIONAL_SPEC_FIELDS = ("skip",)


def spec_fields(spec: GeneratorSpec) -> dict[str, int]:
    """The spec's fields as written to files; a later, optional one only when set, so files without
    it (every plain generator) stay byte-identical to those written before it existed."""
    return {f.name: getattr(spec, f.name) for f in fields(spec)
            if f.name not in OPTIONAL_SPEC_FIELDS or getattr(spec, f.name) != f.default}


def generator_metadata(spec: GeneratorSpec, direction: str, size: int) -> dict[str, str]:
    """The self-description stored in every ``G_*.safetensors`` (all values are strings)."""
    meta = {"format": FORMAT, "arch": GENERATOR_ARCH}
    meta.update({name: str(value) for name, value in spec_fields(spec).items()})
    meta.update({"direction": direction, "size": str(size)})
    return meta


def discriminator_metadata(spec: DiscriminatorSpec, size: int) -> dict[str, str]:
    meta = {"format": FORMAT, "arch": DISCRIMINATOR_ARCH}
    meta.update({f.name: str(getattr(spec, f.name)) for f in fields(spec)})
    meta["size"] = str(size)
    return meta


#: Accepted range of every GeneratorSpec field: the reference uses 3 channels, ngf 64, 6 or 9 blocks.
#: ngf 1024 already means ~700 M parameters (2.8 GB); anything beyond is a corrupt or hostile file.
SPEC_RANGES = {"input_nc": (1, 4), "output_nc": (1, 4), "ngf": (1, 1024), "n_blocks": (0, 64), "skip": (0, 1)}
#: Largest safetensors header read (the safetensors library's own limit).
MAX_HEADER_BYTES = 100_000_000


def check_spec(spec: GeneratorSpec, where: str = "generator spec") -> GeneratorSpec:
    """``spec`` if every field is an int within :data:`SPEC_RANGES`, else CheckpointError (nothing is built)."""
    for name, (low, high) in SPEC_RANGES.items():
        value = getattr(spec, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise CheckpointError(f"{where}: {name}={value!r} is outside {low}..{high}")
    return spec


def spec_from_metadata(meta: Mapping[str, str]) -> GeneratorSpec:
    """Rebuild a GeneratorSpec from safetensors metadata, or raise CheckpointError (types and ranges checked)."""
    if not isinstance(meta, Mapping):
        raise CheckpointError(f"metadata is not a table of strings: {type(meta).__name__}")
    if meta.get("format") != FORMAT or meta.get("arch") != GENERATOR_ARCH:
        raise CheckpointError(
            f"metadata says format={meta.get('format')!r} arch={meta.get('arch')!r}; "
            f"expected format={FORMAT!r} arch={GENERATOR_ARCH!r}"
        )
    values = {}
    for f in fields(GeneratorSpec):
        raw = meta.get(f.name)
        if raw is None and f.name in OPTIONAL_SPEC_FIELDS:
            continue
        if not isinstance(raw, str) or not raw.strip().lstrip("+-").isdigit() or len(raw) > 12:
            shown = {k: meta[k] for k in list(meta)[:12]}
            raise CheckpointError(f"generator metadata is incomplete or not integers ({f.name}={raw!r}): {shown}")
        values[f.name] = int(raw)
    return check_spec(GeneratorSpec(**values), "generator metadata")


def read_header(path: str | Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Tensor shapes and metadata from a ``.safetensors`` header, without reading any tensor data.

    Lets a loader compare the file with the architecture its metadata claims before building
    anything: a 200-byte file that says ``ngf=512`` must not allocate gigabytes first.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            if length < 2 or length > min(MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(f"{path} is not a readable safetensors file: header length {length} "
                                      f"does not fit the {size}-byte file")
            header = json.loads(fh.read(length))
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a readable safetensors file: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise CheckpointError(f"{path}: safetensors metadata must map strings to strings")
    shapes: dict[str, tuple[int, ...]] = {}
    for name, info in header.items():
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise CheckpointError(f"{path}: tensor {name!r} has no valid shape in the header")
        shapes[name] = tuple(shape)
    return shapes, meta


def expected_shapes(spec: GeneratorSpec) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of the generator ``spec`` describes, computed on the meta device (no memory)."""
    check_spec(spec)
    with torch.device("meta"):
        net = spec.build()
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def check_shapes(spec: GeneratorSpec, got: Mapping[str, tuple[int, ...]], what: str) -> None:
    """CheckpointError unless ``got`` (cleaned keys) has exactly the shapes ``spec`` needs; nothing is allocated."""
    expected = expected_shapes(spec)
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f"{k}: checkpoint {got[k]} vs model {expected[k]}" for k in expected if k in got and got[k] != expected[k]]
    if missing or unexpected or shapes:
        _mismatch(what, missing, unexpected, shapes)


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module behind DDP (``.module``) and ``torch.compile`` (``._orig_mod``)."""
    while True:
        if isinstance(net, nn.parallel.DistributedDataParallel):
            net = net.module
        elif hasattr(net, "_orig_mod"):
            net = net._orig_mod
        else:
            return net


def write_safetensors(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: Mapping[str, str] | None = None) -> None:
    """``safetensors.torch.save_file``, made reproducible and readable.

    safetensors writes its metadata in hash-map order, which changes from process to process, so
    the same weights came out as different bytes (a published model churned on every publish);
    the header is rewritten with its keys sorted, same length, same offsets. It also creates the
    file 0600 whatever the umask.
    """
    save_file(dict(tensors), str(path), metadata=dict(metadata) if metadata else None)
    with open(path, "r+b") as fh:
        size = int.from_bytes(fh.read(8), "little")
        header = json.loads(fh.read(size))
        canonical = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if len(canonical) <= size:
            fh.seek(8)
            fh.write(canonical.ljust(size, b" "))
    public_mode(path)


def save_network(net: nn.Module, path: str | Path, metadata: Mapping[str, str]) -> None:
    """Write one network's weights (bit-exact, CPU) with its metadata."""
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in unwrap(net).state_dict().items()}
    write_safetensors(state, path, metadata)


def read_network(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Weights and metadata of one ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        return load_file(str(path)), meta
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc


def copy_network(src: str | Path, dst: str | Path, *, fp16: bool = False, extra: Mapping[str, str] | None = None) -> Path:
    """Copy one network file with its metadata (plus ``extra``), optionally as fp16 (half the size; the shipped model).

    Loading casts back to the model's dtype, so an fp16 file runs wherever an fp32 one does.
    """
    state, meta = read_network(src)
    meta.update(extra or {})
    if fp16:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    meta["dtype"] = "float16" if fp16 else meta.get("dtype", "float32")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as tmp:
        write_safetensors({k: v.contiguous() for k, v in state.items()}, tmp, meta)
    return dst


def check_state_dict(net: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Raise CheckpointError naming every missing, unexpected and differently shaped key."""
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f"{k}: checkpoint {got[k]} vs model {expected[k]}" for k in expected if k in got and got[k] != expected[k]]
    if missing or unexpected or shapes:
        _mismatch(what, missing, unexpected, shapes)


def _mismatch(what: str, missing: list[str], unexpected: list[str], shapes: list[str]) -> None:
    lines = [f"{what} does not match the requested architecture:"]
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            lines.append(f"  {title}: {shown}")
    raise CheckpointError("\n".join(lines))


# --------------------------------------------------------------------------- locating checkpoints


def find_checkpoint_dir(path: str | Path) -> Path:
    """A run folder resolves to its ``checkpoints/latest``; a checkpoint folder to itself."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no such checkpoint or run folder: {path}")
    if (path / CHECKPOINTS_DIR).is_dir():
        root = path / CHECKPOINTS_DIR
        latest = root / LATEST
        if latest.is_dir():
            return latest
        # a crash between the two renames of publish_dir leaves the previous latest here
        old = root / f".{LATEST}.old"
        if old.is_dir():
            return old
        raise CheckpointError(f"{path} is a run folder without a complete checkpoint ({latest} missing)")
    if path.is_dir():
        if any((path / f"{n}.safetensors").is_file() for n in NETWORKS):
            return path
        raise CheckpointError(f"{path} holds no checkpoint (no G_A/G_B/D_A/D_B .safetensors)")
    return path


def holds_ours(folder: Path) -> bool:
    """A run folder (``checkpoints/``) or a checkpoint folder (network ``.safetensors``), not the reference's layout."""
    return (folder / CHECKPOINTS_DIR).is_dir() or any((folder / f"{n}.safetensors").is_file() for n in NETWORKS)


def generator_file(folder: Path, which: str) -> Path:
    """The ``which`` generator in a folder: ours (run or checkpoint folder), else the reference's
    ``checkpoints/NAME/`` layout (``latest_net_G_A.pth``; ``latest_net_G.pth`` from ``--model test``)."""
    if holds_ours(folder):
        return find_checkpoint_dir(folder) / f"{which}.safetensors"
    for name in (f"latest_net_{which}.pth", "latest_net_G.pth" if which == "G_A" else None):
        if name and (folder / name).is_file():
            return folder / name
    raise CheckpointError(f"{folder} holds no checkpoint: no run folder, no {'/'.join(NETWORKS)} .safetensors "
                          f"and no reference latest_net_{which}.pth")

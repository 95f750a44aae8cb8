"""``train publish``: a run folder (or one checkpoint folder) becomes a model repo on the Hub, in one commit.

Two steps, so ``--dry-run`` shows exactly what a real publish sends:

1. :func:`prepare_publish` stages the repo in a temporary folder, no network: the generators
   (``G_A.safetensors``, and ``G_B`` unless left out; fp32 byte for byte, or cast to fp16), a
   ``config.json`` (architecture, precision, step, and the training config with local paths reduced
   to folder names), ``loss.png`` and ``metrics.json`` when the run has them, ``attribution.csv``
   for training images with stated provenance, and ``README.md``, the model card. Discriminators
   and optimizer state are never published.
2. :func:`upload` checks the token, creates the model repo if it is missing and commits every file
   at once (Hub commits are atomic); files an earlier publish wrote that this one lacks are deleted
   in the same commit. Every request is bounded by ``timeout`` seconds.

The token comes from ``HF_TOKEN`` or the login cache and goes to huggingface_hub only; every
message goes through :func:`pixelforge.hub.redact`. ``pixelate --checkpoint hf://OWNER/NAME``
loads what this writes.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelforge.dataset import CARD_FILE
from pixelforge.hub import (
    HubNoAnswer,
    HubUploadError,
    UploadFile,
    describe_hub_error,
    endpoint_url,
    find_cause,
    hub_timeouts,
    hub_url,
    redact,
)
from pixelforge.licenses import HUB_LICENSES
from pixelforge.model.checkpoint import (
    CHECKPOINTS_DIR,
    DIRECTIONS,
    FORMAT,
    GENERATOR_ARCH,
    STATE_JSON,
    CheckpointError,
    copy_network,
    expected_shapes,
    find_checkpoint_dir,
    read_header,
    spec_fields,
    spec_from_metadata,
)
from pixelforge.model.recorded import (
    ANCHOR_WITHIN_KEY,
    KEEP_FEATURES_KEY,
    MAX_ANCHOR_WITHIN,
    MAX_PIXELS_PER_CELL,
    MODEL_INPUT,
    MODEL_INPUTS,
    PIXELS_PER_CELL,
)
from training.average import RECORD as AVERAGE_RECORD
from training.model_card import Ancestor, CardFile, CardInputs, build_model_card
from training.provenance import attribution_csv, describe_domain, shown_source

DEFAULT_TIMEOUT = 120.0
RUN_CONFIG = "config.json"
LOSS_PLOT = "loss.png"
METRICS = "metrics.json"
ATTRIBUTION = "attribution.csv"
#: Files ``train publish`` owns in a repo: a later publish deletes the ones it no longer sends.
MANAGED = ("G_A.safetensors", "G_B.safetensors", RUN_CONFIG, LOSS_PLOT, METRICS, ATTRIBUTION, CARD_FILE)
_WHAT = {
    "G_A.safetensors": "generator A→B: pictures → pixel art (what `pixelate` runs)",
    "G_B.safetensors": "generator B→A: pixel art → pictures (`pixelate --which G_B`)",
    RUN_CONFIG: "architecture, precision, step and the training config",
    LOSS_PLOT: "the training losses",
    METRICS: "the run's measured metrics",
    ATTRIBUTION: "one line per training image: title, author, licence, source page",
    CARD_FILE: "this card",
}


class PublishError(HubUploadError):
    """A publish that could not be done; the message is safe to print (no token) and says what to do."""


@dataclass(frozen=True)
class PublishPlan:
    repo_id: str
    files: list[UploadFile]
    checkpoint: Path
    dtype: str
    license: str
    private: bool = False
    step: int | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class PublishResult:
    repo_url: str
    commit_url: str
    deleted: list[str]


def run_root(source: Path, checkpoint: Path) -> Path | None:
    """The run folder around a checkpoint (the one holding config.json), if there is one."""
    if (source / RUN_CONFIG).is_file() and (source / CHECKPOINTS_DIR).is_dir():
        return source
    if checkpoint.parent.name == CHECKPOINTS_DIR and (checkpoint.parent.parent / RUN_CONFIG).is_file():
        return checkpoint.parent.parent
    return None


def published_config(config: dict[str, Any]) -> dict[str, Any]:
    """The training config without the publisher's file system: local paths become folder names."""
    out = dict(config)
    for key in ("domain_a", "domain_b", "output", "resume", "init_from"):
        value = out.get(key)
        if isinstance(value, str) and value and not value.startswith("hf://"):
            out[key] = shown_source(value)
    return out


def prepare_publish(
    source: str | Path,
    staging: str | Path,
    *,
    repo_id: str,
    fp16: bool = False,
    generators: tuple[str, ...] = ("G_A", "G_B"),
    private: bool = False,
    license_id: str | None = None,
    pixels_per_cell: int | None = None,
    anchor_within: float | None = None,
    model_input: str | None = None,
    keep_features: bool | None = None,
) -> PublishPlan:
    """Stage everything a publish uploads into ``staging`` and return the plan (no network)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        if repo_id.count("/") != 1:
            raise HFValidationError("write it as OWNER/NAME")
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise PublishError(f"bad --repo {repo_id!r}: {str(exc).splitlines()[0]}", exit_code=2) from None
    if license_id is not None:
        if license_id not in HUB_LICENSES:
            raise PublishError(f"--license {license_id!r} is not a Hub licence id (e.g. cc-by-4.0, mit, other)", exit_code=2)
    source, staging = Path(source), Path(staging)
    try:
        checkpoint = find_checkpoint_dir(source)
    except CheckpointError as exc:
        raise PublishError(str(exc), exit_code=2) from None
    if not checkpoint.is_dir():
        raise PublishError(f"{source}: give a run folder or a checkpoint folder, not a file", exit_code=2)
    root = run_root(source, checkpoint)
    staging.mkdir(parents=True, exist_ok=True)
    if pixels_per_cell is not None and not 0 <= pixels_per_cell <= MAX_PIXELS_PER_CELL:
        raise PublishError(f"--pixels-per-cell {pixels_per_cell}: must be from 0 (full resolution) to {MAX_PIXELS_PER_CELL}",
                           exit_code=2)
    if anchor_within is not None and not 0 <= anchor_within <= MAX_ANCHOR_WITHIN:
        raise PublishError(f"--anchor-within {anchor_within:g}: must be from 0 (a plain blur) to {MAX_ANCHOR_WITHIN:g}", exit_code=2)
    if model_input is not None and model_input not in MODEL_INPUTS:
        raise PublishError(f"--model-input {model_input!r}: must be one of {', '.join(MODEL_INPUTS)}", exit_code=2)
    recorded = {PIXELS_PER_CELL: pixels_per_cell, ANCHOR_WITHIN_KEY: anchor_within, MODEL_INPUT: model_input,
                KEEP_FEATURES_KEY: keep_features}
    spec, size, names = _stage_generators(checkpoint, staging, generators, fp16,
                                          {k: _metadata_value(v) for k, v in recorded.items() if v is not None})
    config = _read_json(root / RUN_CONFIG) if root else None
    metrics = _read_json(root / METRICS) if root and (root / METRICS).is_file() else None
    counters = _counters(checkpoint)
    record = _read_json(root / AVERAGE_RECORD) if root and (root / AVERAGE_RECORD).is_file() else {}
    averaged = [(str(a.get("checkpoint")), a.get("step") if isinstance(a.get("step"), int) else None)
                for a in record.get("averaged", []) if isinstance(a, dict)]
    if averaged and counters is None and averaged[-1][1] is not None:
        counters = {"step": averaged[-1][1]}
    dtype = "float16" if fp16 else "float32"
    model_config = {
        "format": FORMAT, "arch": GENERATOR_ARCH, "generator": spec_fields(spec),
        "networks": {n.removesuffix(".safetensors"): DIRECTIONS[n.removesuffix(".safetensors")] for n in names}, "dtype": dtype, "size": size,
        "step": counters.get("step") if counters else None, "training": published_config(config) if config else None,
        "pixels_per_cell": pixels_per_cell, "anchor_within": anchor_within,
        **({"model_input": model_input} if model_input is not None else {}),
        **({"keep_features": keep_features} if keep_features is not None else {}),
    }
    (staging / RUN_CONFIG).write_text(json.dumps(model_config, indent=2) + "\n")
    names += [RUN_CONFIG]
    for name, payload in ((LOSS_PLOT, root / LOSS_PLOT if root else None), (METRICS, metrics)):
        if isinstance(payload, Path) and payload.is_file():
            shutil.copyfile(payload, staging / name)
            names.append(name)
        elif isinstance(payload, dict):
            (staging / name).write_text(json.dumps(payload, indent=2) + "\n")
            names.append(name)
    domains = [describe_domain(config.get(key) or "", role, config.get("split", "train"))
               for key, role in (("domain_a", "A"), ("domain_b", "B"))] if config else []
    attribution = attribution_csv(domains)
    if attribution:
        (staging / ATTRIBUTION).write_text(attribution, encoding="utf-8")
        names.append(ATTRIBUTION)
    inputs = CardInputs(
        repo_id=repo_id, spec=spec, params=_params(spec), dtype=dtype,
        files=[CardFile(n, _WHAT[n]) for n in [*names, CARD_FILE]], domains=domains,
        config=published_config(config) if config else None, counters=counters, metrics=metrics,
        has_loss_plot=LOSS_PLOT in names, license_override=license_id, hub=hub_url(),
        ancestors=lineage(config.get("init_from")) if config else [], pixels_per_cell=pixels_per_cell,
        anchor_within=anchor_within, averaged=averaged, model_input=model_input, keep_features=keep_features,
    )
    card = build_model_card(inputs)
    (staging / CARD_FILE).write_text(card, encoding="utf-8")
    names.append(CARD_FILE)
    license_line = next(line for line in card.splitlines() if line.startswith("license:"))
    files = [UploadFile(n, staging / n, (staging / n).stat().st_size) for n in names]
    return PublishPlan(repo_id, files, checkpoint, dtype, license_line.split(":", 1)[1].strip(), private,
                       counters.get("step") if counters else None)


def _metadata_value(value: object) -> str:
    """A recorded setting as safetensors metadata holds it: text; a switch as 1 or 0, a number as written."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else f"{value:g}"


def _stage_generators(
    checkpoint: Path, staging: Path, generators: tuple[str, ...], fp16: bool, recorded: dict[str, str] | None = None,
) -> tuple[Any, int, list[str]]:
    """Copy (fp32, byte for byte) or cast (fp16) each generator; the first one's spec and crop size.

    ``recorded`` (``pixels_per_cell``, ``anchor_within``, ``input``, ``keep_features``) is written into G_A's metadata: how ``pixelate`` then runs
    it by default.
    """
    if "G_A" in generators and not (checkpoint / "G_A.safetensors").is_file():
        raise PublishError(f"{checkpoint} has no G_A.safetensors (the generator `pixelate` uses)", exit_code=2)
    names, spec, size = [], None, 0
    for which in generators:
        path = checkpoint / f"{which}.safetensors"
        if not path.is_file():
            continue
        try:
            _, meta = read_header(path)
            spec = spec or spec_from_metadata(meta)
            size = size or int(meta.get("size", "0") or 0)
        except (CheckpointError, ValueError) as exc:
            raise PublishError(f"{path}: {exc}", exit_code=2) from None
        target = staging / path.name
        extra = recorded if recorded and which == "G_A" else None
        if fp16 or extra:
            copy_network(path, target, fp16=fp16, extra=extra)
        else:
            shutil.copyfile(path, target)
        names.append(path.name)
    if spec is None:
        raise PublishError(f"{checkpoint} holds none of {', '.join(generators)} .safetensors", exit_code=2)
    return spec, size, names


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishError(f"{path} is not readable JSON: {exc}", exit_code=2) from None
    if not isinstance(value, dict):
        raise PublishError(f"{path} must hold a JSON object", exit_code=2)
    return value


def lineage(init_from: str | None, limit: int = 32) -> list[Ancestor]:
    """The runs a fine-tuned run descends from, nearest first, followed through local run folders.

    A model trained in stages (``make model``: each recipe's ``init_from`` is the run before) would
    otherwise name only its last parent; the card lists every stage and the steps it trained.
    """
    chain: list[Ancestor] = []
    seen: set[Path] = set()
    while init_from and not init_from.startswith("hf://") and len(chain) < limit:
        path = Path(init_from)
        try:
            steps = (_counters(find_checkpoint_dir(path)) or {}).get("step")
        except CheckpointError:
            steps = None
        config = path / RUN_CONFIG
        parent = None
        if config.is_file() and path.resolve() not in seen:
            seen.add(path.resolve())
            try:
                data = _read_json(config)
            except PublishError:
                data = {}
            # a published model folder (`train publish --stage`) nests its run's settings and records its step
            recipe = data["training"] if isinstance(data.get("training"), dict) else data
            if "init_from" in recipe:
                parent = recipe["init_from"] or ""
            if steps is None and isinstance(data.get("step"), int):
                steps = data["step"]
        # parent: "" = trained from random weights; None = unknown (not a run folder here)
        chain.append(Ancestor(shown_source(init_from), steps, from_scratch=parent == ""))
        init_from = parent
    return chain


def _counters(checkpoint: Path) -> dict[str, int] | None:
    try:
        counters = json.loads((checkpoint / STATE_JSON).read_text()).get("counters")
    except (OSError, ValueError, AttributeError):
        return None
    return {k: v for k, v in counters.items() if isinstance(v, int)} if isinstance(counters, dict) else None


def _params(spec: Any) -> int:
    return sum(math.prod(shape) for shape in expected_shapes(spec).values())


def upload(plan: PublishPlan, *, token: str, timeout: float = DEFAULT_TIMEOUT) -> PublishResult:
    """Create the model repo if needed and commit the plan's files; errors become :class:`PublishError`."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    where = hub_url()
    try:
        with hub_timeouts(timeout):
            api = HfApi(endpoint=endpoint_url(), token=token)
            api.whoami()  # a bad token fails here, before anything is created
            repo_url = api.create_repo(plan.repo_id, repo_type="model", private=plan.private, exist_ok=True)
            ours = {f.path_in_repo for f in plan.files}
            stale = sorted(p for p in api.list_repo_files(plan.repo_id) if p in MANAGED and p not in ours)
            ops: list = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path)) for f in plan.files]
            ops += [CommitOperationDelete(path_in_repo=p) for p in stale]
            step = f" at step {plan.step:,}" if plan.step is not None else ""
            info = api.create_commit(plan.repo_id, ops, commit_message=f"pixelforge: publish the generator{step}",
                                     commit_description="Uploaded by `train publish`: generators, config.json, model card.")
    except Exception as exc:  # noqa: BLE001 - every failure is translated into one clear message
        no_answer = find_cause(exc, HubNoAnswer)
        if no_answer is not None:
            message = (f"the Hub at {where} did not answer: {no_answer}. The commit may have landed: check "
                       f"{where}/{plan.repo_id} and run the same `train publish` again (it is safe to repeat).")
        else:
            message = describe_hub_error(exc, plan.repo_id, where) + " Nothing was published."
        raise PublishError(redact(message, token)) from None
    return PublishResult(repo_url=str(repo_url), commit_url=info.commit_url, deleted=stale)

"""The Hub's metadata rules for card headers, applied offline (the fake Hub's ``/api/validate-yaml``).

Dataset cards: YAML without duplicate keys, licence ids from the Hub's licence list,
``task_categories`` from the Hub's task ids, ``size_categories`` from the datasets library's list,
``configs`` and ``dataset_info`` parsed by the datasets library itself.

Model cards: a single licence id from the same list (``other`` needs ``license_name``), a known
``pipeline_tag``, ``tags`` and ``datasets`` as lists of strings (each dataset a valid repo id), and
the header parsed by huggingface_hub's ``ModelCardData`` (its ``model-index`` checks included).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from pixelforge.licenses import HUB_LICENSES

__all__ = ["HUB_LICENSES", "validate_card_metadata"]

def validate_card_metadata(content: str, repo_type: str = "dataset") -> list[str]:
    """Errors the Hub would report for a card's YAML header (empty list: valid).

    ``repo_type`` is ``dataset`` (a data card) or ``model`` (a model card), as ``/api/validate-yaml`` is told.
    """
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs, known_task_ids
    from huggingface_hub import DatasetCardData

    meta = _front_matter(content)
    if isinstance(meta, str):
        return [meta]
    if repo_type == "model":
        return _model_errors(meta)
    errors = []
    licenses = meta.get("license", [])
    for lic in [licenses] if isinstance(licenses, str) else licenses:
        if lic not in HUB_LICENSES:
            errors.append(f'"license" must be one of the Hub licence ids, got {lic!r}')
    if "license_name" in meta and not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", str(meta["license_name"])):
        errors.append('"license_name" must be lowercase letters, digits, dots and dashes')
    for task in meta.get("task_categories", []):
        if task not in known_task_ids:
            errors.append(f'"task_categories" has unknown task {task!r}')
    import datasets

    sizes = json.loads((Path(datasets.__file__).parent / "utils/resources/size_categories.json").read_text())
    for size in meta.get("size_categories", []):
        if size not in sizes:
            errors.append(f'"size_categories" has unknown value {size!r}')
    for key in ("pretty_name",):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    if "tags" in meta and not (isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])):
        errors.append('"tags" must be a list of strings')
    card_data = DatasetCardData(**meta)
    try:
        configs = MetadataConfigs.from_dataset_card_data(card_data)
        for name, config in configs.items():
            if not config.get("data_files"):
                errors.append(f"config {name!r} has no data_files")
    except Exception as exc:  # noqa: BLE001 - any parse failure is a validation error
        errors.append(f'"configs" is invalid: {exc}')
    try:
        infos = DatasetInfosDict.from_dataset_card_data(card_data)
        for name, info in infos.items():
            if info.features is None or info.splits is None:
                errors.append(f"dataset_info {name!r} lacks features or splits")
    except Exception as exc:  # noqa: BLE001
        errors.append(f'"dataset_info" is invalid: {exc}')
    return errors


def _front_matter(content: str) -> dict | str:
    """The card's YAML header as a mapping, or the error the Hub would give."""
    from datasets.utils.metadata import _NoDuplicateSafeLoader

    lines = content.splitlines()
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        return "README.md has no YAML metadata block"
    end = lines[1:].index("---") + 1
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_NoDuplicateSafeLoader)
    except (yaml.YAMLError, TypeError) as exc:
        return f"invalid YAML: {exc}"
    if not isinstance(meta, dict):
        return "YAML metadata must be a mapping"
    return meta


def _model_errors(meta: dict) -> list[str]:
    from datasets.utils.metadata import known_task_ids
    from huggingface_hub import ModelCardData
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    errors = []
    lic = meta.get("license")
    if lic is not None and (not isinstance(lic, str) or lic not in HUB_LICENSES):
        errors.append(f'"license" must be one Hub licence id, got {lic!r}')
    if lic == "other" and not meta.get("license_name"):
        errors.append('"license: other" needs a "license_name" (and a "license_link")')
    if "license_name" in meta and not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", str(meta["license_name"])):
        errors.append('"license_name" must be lowercase letters, digits, dots and dashes')
    if "license_link" in meta and not isinstance(meta["license_link"], str):
        errors.append('"license_link" must be a string (a URL or a file in the repo)')
    if "pipeline_tag" in meta and meta["pipeline_tag"] not in known_task_ids:
        errors.append(f'"pipeline_tag" has unknown task {meta["pipeline_tag"]!r}')
    for key in ("library_name", "model_name", "base_model"):
        if key in meta and not isinstance(meta[key], str):
            errors.append(f'"{key}" must be a string')
    for key in ("tags", "datasets", "metrics", "language"):
        value = meta.get(key, [])
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            errors.append(f'"{key}" must be a list of strings')
    for dataset in meta.get("datasets", []) if isinstance(meta.get("datasets"), list) else []:
        try:
            validate_repo_id(str(dataset))
        except HFValidationError:
            errors.append(f'"datasets" has an invalid repo id {dataset!r}')
    try:
        ModelCardData(**meta)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a validation error
        errors.append(f"the model card metadata does not parse: {exc}")
    return errors

"""The model card: ``README.md`` of a model repo, in the Hugging Face model-card format.

:func:`build_model_card` fills ``templates/model_card.md`` from what the run folder says and nothing
typed in: the generator's architecture (from its safetensors metadata), the recipe (``config.json``),
the steps trained (``state.json``), the training data with its licences and authors
(:mod:`training.provenance`), metrics (``metrics.json``, if the run folder has one) and the loss plot.
The YAML header is written by huggingface_hub's ``ModelCardData``, so the Hub reads it as its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from huggingface_hub import ModelCardData

from pixelforge.model.networks import GeneratorSpec
from pixelforge.model.recorded import MODEL_INPUTS
from training.provenance import DomainData, model_license

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
TAGS = ["pixel-art", "cyclegan", "image-to-image", "pixelforge"]
#: The recipe settings the card shows (config.json holds them all).
RECIPE_KEYS = ("size", "load_size", "a_min_load_size", "a_resize", "b_max_scale", "b_scale", "b_balance", "ngf", "n_blocks", "skip", "skip_lr", "ndf",
               "n_layers", "batch_size", "epochs", "epochs_decay", "lr_decay", "lr", "lambda_a", "lambda_b", "lambda_identity", "lambda_content", "content_pool", "content_salience", "content_lines", "content_lines_contrast", "content_target", "content_reduce", "lambda_flat", "lambda_sym", "lambda_distill", "lambda_line", "line_contrast", "lambda_speck", "pool_size", "max_steps", "time_limit",
               "seed", "amp", "amp_dtype")
MAX_METRICS = 40
#: At most this many measured limitations, each at most this long, reach the card (metrics.json is the run's, not trusted text).
MAX_LIMITATIONS = 8
MAX_LIMITATION = 400


@dataclass(frozen=True)
class Ancestor:
    """A run a fine-tuned run started from: its shown name, its optimizer steps, whether it started from random weights."""

    name: str
    steps: int | None
    from_scratch: bool = False


@dataclass(frozen=True)
class CardFile:
    name: str
    what: str


@dataclass(frozen=True)
class CardInputs:
    """Everything the card says, gathered by ``train publish`` from the run folder."""

    repo_id: str
    spec: GeneratorSpec
    params: int
    dtype: str  # float32 | float16
    files: list[CardFile]
    domains: list[DomainData]
    config: dict[str, Any] | None  # the run's training config, as published
    counters: dict[str, int] | None  # step, epoch of the checkpoint
    metrics: dict[str, Any] | None
    has_loss_plot: bool = False
    license_override: str | None = None
    hub: str = "https://huggingface.co"
    extra_tags: list[str] = field(default_factory=list)
    ancestors: list[Ancestor] = field(default_factory=list)  # the runs it was fine-tuned from, nearest first
    pixels_per_cell: int | None = None  # the generator resolution recorded for pixelate (train publish --pixels-per-cell)
    anchor_within: float | None = None  # the pixelate --anchor-within recorded (train publish --anchor-within)
    averaged: list[tuple[str, int | None]] = field(default_factory=list)  # `train average`: (checkpoint, step) each
    model_input: str | None = None  # the generator input recorded for pixelate instead of the trained one (train publish --model-input)
    keep_features: bool | None = None  # the pixelate --keep-features recorded (train publish --keep-features)


def card_metadata(inputs: CardInputs) -> ModelCardData:
    """The YAML header: licence from the training data (or the publisher's), tags, task, datasets."""
    if inputs.license_override:
        license_id, extra = inputs.license_override, {}
    else:
        license_id, extra = model_license(inputs.domains)
    datasets = sorted({d.hub_dataset for d in inputs.domains if d.hub_dataset})
    return ModelCardData(
        license=license_id,
        license_name=extra.get("license_name"),
        license_link=extra.get("license_link"),
        library_name="pixelforge",
        pipeline_tag="image-to-image",
        tags=TAGS + [t for t in inputs.extra_tags if t not in TAGS],
        datasets=datasets or None,
    )


def build_model_card(inputs: CardInputs) -> str:
    """The card's Markdown, header included."""
    data = card_metadata(inputs)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    config = inputs.config or {}
    name = inputs.repo_id.split("/")[-1]
    return template.render(
        card_data=data.to_yaml(),
        name=name,
        repo_id=inputs.repo_id,
        hub=inputs.hub,
        summary=_summary(inputs),
        files=inputs.files,
        spec=inputs.spec,
        params=f"{inputs.params:,}",
        dtype=inputs.dtype,
        domains=inputs.domains,
        split=config.get("split", "train"),
        licence_rows=[(d, lic) for d in inputs.domains for lic in d.licences],
        licence_note=_licence_note(inputs, data),
        credits=[(d, lic) for d in inputs.domains for lic in d.licences if lic.needs_attribution and lic.authors],
        progress=_progress(inputs.counters, config.get("init_from"), inputs.ancestors, inputs.averaged),
        recipe=_recipe(config, inputs.spec),
        pixels_per_cell=inputs.pixels_per_cell,
        anchor_within=inputs.anchor_within,
        model_input=inputs.model_input,
        trained_input=config.get("a_resize") if config.get("a_resize") in MODEL_INPUTS else None,
        keep_features=inputs.keep_features,
        has_config=inputs.config is not None,
        has_loss_plot=inputs.has_loss_plot,
        metrics=_metric_rows(inputs.metrics),
        metrics_note=_metrics_note(inputs.metrics),
        measured_limitations=_measured_limitations(inputs.metrics),
    ).rstrip() + "\n"


def _summary(inputs: CardInputs) -> str:
    b = next((d for d in inputs.domains if d.role == "B"), None)
    trained_on = f" trained on {b.images} pixel-art images" if b is not None and b.images else ""
    return (f"A CycleGAN generator{trained_on} that turns pictures (domain A) into pixel art (domain B), "
            "published with pixelforge's `train publish`. `G_A.safetensors` is the pictures-to-pixel-art direction "
            "`pixelate` uses.")


def _licence_note(inputs: CardInputs, data: ModelCardData) -> str:
    if inputs.license_override:
        return (f"The publisher set the licence to `{data.license}` (`train publish --license`); the training "
                "images keep their own licences, listed above where known.")
    unknown = [d for d in inputs.domains if not d.known]
    if unknown:
        names = ", ".join(f"{d.role} ({d.kind})" for d in unknown)
        return (f"The licence is `unknown`: the licences of domain {names} are not stated in its files (only a "
                "dataset folder from `curate run` records each image's licence, and an image without one is "
                "`unknown`). Check them before reusing this model.")
    if data.license == "other" and data.license_link == "attribution.csv":
        return ("The training images carry several licences, so the licence is `other`: each image's licence "
                "is in [attribution.csv](attribution.csv); using the model means respecting the terms of each.")
    return f"Every training image is under the same licence, so the model's card says `{data.license}`."


def _progress(counters: dict[str, int] | None, init_from: str | None = None, ancestors: list[Ancestor] | None = None,
              averaged: list[tuple[str, int | None]] | None = None) -> str:
    """Where the weights stand; a fine-tuned run names the weights it started from (their steps are not counted here).

    ``averaged`` (`train average`): the checkpoints whose mean the weights are; ``counters`` is then the last one's."""
    if init_from and ancestors:
        stages = [f"`{a.name}`" + (f" ({a.steps:,} steps)" if a.steps is not None else "") for a in ancestors]
        origin = (" That one was trained from random weights." if ancestors[-1].from_scratch
                  else " Earlier stages, if any, are not recorded here.")
        total = [a.steps for a in ancestors] + [(counters or {}).get("step")]
        steps_in_all = (f" {sum(total):,} optimizer steps in all." if ancestors[-1].from_scratch and None not in total else "")
        start = (f" This run was fine-tuned from the weights of {stages[0]} (`init_from`)"
                 + (", which descends from " + " <- ".join(stages[1:]) if len(stages) > 1 else "") + "." + origin + steps_in_all)
    elif init_from:
        start = f" This run started from the weights of `{init_from}` (`init_from`), not from random ones."
    else:
        start = ""
    if averaged:
        shown = ", ".join(f"`{name}`" + (f" (step {step:,})" if step is not None else "") for name, step in averaged)
        return (f"The weights are the element-wise mean of {len(averaged)} checkpoints of one run (`train average`): "
                f"{shown}." + start)
    if not counters:
        return "The checkpoint records no step count." + start
    step, epoch, iteration = counters.get("step", 0), counters.get("epoch", 0), counters.get("iteration", 0)
    where = f"the end of epoch {epoch}" if epoch and not iteration else f"epoch {epoch + 1}"  # a finished epoch is not the next one
    return f"Published from the checkpoint at optimizer step {step:,} ({where})." + start


def _recipe(config: dict[str, Any], spec: GeneratorSpec) -> list[tuple[str, str]]:
    if not config:
        return [("ngf", str(spec.ngf)), ("n_blocks", str(spec.n_blocks))]
    # an empty setting (b_balance "") is a switched-off option: say so instead of printing `""`;
    # skip_lr means something only with the skip, content_lines_contrast and content_target only with content_lines;
    # the view losses and the time limit, newer than most published runs, are shown only when they are on
    needs = {"skip_lr": "skip", "content_lines_contrast": "content_lines", "content_target": "content_lines",
             "lambda_sym": "lambda_sym", "lambda_distill": "lambda_distill", "lambda_line": "lambda_line",
             "line_contrast": "lambda_line", "lambda_speck": "lambda_speck", "time_limit": "time_limit"}
    shown = [key for key in RECIPE_KEYS if key in config and (key not in needs or config.get(needs[key]))]
    return [(key, f"`{json.dumps(config[key])}`" if config[key] != "" else "off") for key in shown]


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    return [(prefix, value)]


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value[:8]) + (" ..." if len(value) > 8 else "")
    return str(value).replace("|", "\\|").replace("\n", " ")[:200]


def _metric_rows(metrics: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not metrics:
        return []
    values = metrics.get("metrics", metrics) if isinstance(metrics.get("metrics"), dict) else metrics
    rows = [(key, _fmt(v)) for key, v in _flatten(values) if key not in ("command", "source", "note")]
    return rows[:MAX_METRICS]


def _measured_limitations(metrics: dict[str, Any] | None) -> list[str]:
    """The limitations the benchmark measured (``metrics.json``'s ``limitations``, written by
    ``benchmarks/quality.py --metrics``): a card lists where its own model is worse, not only the generic caveats."""
    found = metrics.get("limitations") if metrics else None
    if not isinstance(found, list):
        return []
    return [" ".join(str(line).split())[:MAX_LIMITATION] for line in found[:MAX_LIMITATIONS] if str(line).strip()]


def _metrics_note(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return ""
    how = next((str(metrics[k]) for k in ("command", "source") if isinstance(metrics.get(k), str)), None)
    note = "From the run folder's `metrics.json` (published beside this card)"
    note += f", measured with `{how}`." if how else "."
    if isinstance(metrics.get("note"), str):
        note += " " + metrics["note"]
    return note

"""The dataset card: ``README.md`` with the Hub's YAML header and a body computed from the data.

Contract: ``write_card(folder, domain=...) -> Path`` writes ``<folder>/README.md`` plus the two files
the card links to, ``attribution.csv`` and ``samples.png``. ``curate run`` calls it at the end and
``curate card`` calls it again whenever the folder changes. Every number comes from
:func:`data_cards.stats.compute_stats`; the template only formats them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
from datasets import DatasetInfo, Features, SplitDict, SplitInfo
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard, DatasetCardData

from data_cards.attribution import write_attribution
from data_cards.folder import DatasetFolder
from data_cards.samples import pick_samples, write_samples
from data_cards.stats import CardStats, compute_stats
from pixelforge.dataset import CARD_FILE, DATA_DIR, FEATURES
from pixelforge.decoding import ImageDecodeError, open_image
from pixelforge.io import atomic_write

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md"

_TAGS = {
    "B": ["pixel-art", "sprites", "image-to-image", "cyclegan", "pixelforge"],
    "A": ["pixelforge", "cyclegan", "image-to-image", "domain-a"],
}
_INTENDED_USE = {
    "B": (
        "Domain B (pixel art) of an unpaired image-to-image translation dataset: train a CycleGAN that turns "
        "pictures into pixel art (pixelforge `train`), or study pixel-art palettes and scales."
    ),
    "A": (
        "Domain A (ordinary pictures) of an unpaired image-to-image translation dataset: the pictures a "
        "pixelforge CycleGAN learns to turn into pixel art."
    ),
}


def _limitations(domain: str, input_kind: str | None) -> list[str]:
    """What a user must know before using the data; depends on where it came from."""
    if input_kind == "folder":
        origin = (
            "The images were curated from a local folder; where they came from before that is not recorded, "
            "and their licences are whatever the folder's owner stated (`unknown` when nothing was stated)."
        )
    else:
        origin = (
            "The images were scraped from the web. Licences are **as stated by the sources**; pixelforge did not "
            "verify them. Check [attribution.csv](attribution.csv) and the source page before reusing an image, "
            "and give credit where the licence asks for it."
        )
    if domain == "A":
        mistakes = (
            "Automatic curation makes mistakes: a few pictures may be near-duplicates the perceptual hash "
            "missed, or may have had a background removed wrongly."
        )
        coverage = "The pictures reflect what was curated, not pictures in general."
    else:
        mistakes = (
            "Automatic curation makes mistakes: a few images may not be pixel art, may be near-duplicates the "
            "perceptual hash missed, or may have had a background removed wrongly."
        )
        coverage = "Sources over-represent game sprites and tiles; the data does not represent pixel art as a whole."
    return [origin, mistakes, coverage]


def _filesize(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _cell(value: object) -> str:
    """Text from the web inside a Markdown table cell: no pipes or line breaks that would break the row."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _bar(n: int, total: int, width: int = 20) -> str:
    return "█" * round(width * n / total) if total else ""


def _feature_kind(feature: object) -> str:
    name = type(feature).__name__
    if name == "Value":
        return feature.dtype
    if name in ("Sequence", "List", "LargeList"):
        return f"list of {_feature_kind(getattr(feature, 'feature', None))}"
    return name.lower()


def card_data(stats: CardStats, *, pretty_name: str, domain: str, features: Features = FEATURES) -> DatasetCardData:
    """The YAML header: licence, task, size, tags, data files per split and dataset_info."""
    single = stats.single_license
    extra: dict[str, str] = {}
    license_id: str | list[str]
    ids = list(dict.fromkeys(lic.hub_id or "other" for lic in stats.licenses))
    if not stats.licenses:  # no rows at all
        license_id = "unknown"
    elif single is not None and single.hub_id is not None:
        license_id = single.hub_id
    elif single is not None:  # one licence the Hub has no id for: name it and link it
        license_id = "other"
        extra["license_name"] = re.sub(r"[^a-z0-9]+", "-", single.stated.lower()).strip("-") or "other"
        if single.url:
            extra["license_link"] = single.url
    else:  # several: list every one present (per image in the `licenses` column)
        license_id = ids if len(ids) > 1 else ids[0]
        if "other" in ids:
            extra["license_name"] = "mixed-per-image"
            extra["license_link"] = "attribution.csv"
    data = DatasetCardData(
        pretty_name=pretty_name,
        license=license_id,
        task_categories=["image-to-image"],
        size_categories=[stats.size_category],
        tags=_TAGS.get(domain, _TAGS["B"]),
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s.name, "path": f"{DATA_DIR}/{s.name}-*"} for s in stats.splits],
            }
        ],
        **extra,
    )
    info = DatasetInfo(
        features=features,
        splits=SplitDict({s.name: SplitInfo(name=s.name, num_bytes=s.num_bytes, num_examples=s.rows) for s in stats.splits}),
        download_size=sum(s.download_size for s in stats.splits),
        dataset_size=sum(s.num_bytes for s in stats.splits),
    )
    DatasetInfosDict({"default": info}).to_dataset_card_data(data)
    return data


def _canvas_note(folder: DatasetFolder) -> str:
    """Size of the training canvas, read from the first row's ``image``."""
    for split in folder.splits:
        if folder.num_rows(split):
            value = folder.column(split, "image", [0])[0]
            try:
                width, height = open_image((value.get("bytes") if isinstance(value, dict) else value) or b"").image.size
            except ImageDecodeError:
                return "square canvas"
            return f"{width}x{height} canvas"
    return "square canvas"


def _license_summary(stats: CardStats, license_id: str | list[str]) -> str:
    if stats.single_license is not None and stats.single_license.hub_id == "unknown":
        return f"None of the {stats.total} images has a licence stated by its source (Hub id `unknown`)."
    if stats.single_license is not None:
        lic = stats.single_license
        return f"All {lic.images} images are under **{lic.stated}** (Hub id `{license_id}`)."
    ids = license_id if isinstance(license_id, list) else [license_id]
    multi = (
        f" {stats.multi_licensed} images are offered under more than one licence (use them under any one); "
        "such an image counts under each of its licences below, so the counts add up to more than the images."
        if stats.multi_licensed else ""
    )
    return (
        f"The images carry {len(stats.licenses)} different licences, so the header lists them all "
        f"(`license: [{', '.join(ids)}]`); each image's licences are in its `licenses` column (`license` is the "
        "first, or the one the crawl's licence filter chose, also in [attribution.csv](attribution.csv))." + multi
    )


def _unknown_note(stats: CardStats, unknown_included: bool) -> str:
    notes = []
    if stats.unknown_license and unknown_included:
        notes.append(
            f"{stats.unknown_license} images have no licence stated by their source (`unknown`); this copy "
            "includes them because it was published with `--include-unknown-license`."
        )
    elif stats.unknown_license:
        notes.append(
            f"{stats.unknown_license} images have no licence stated by their source (`unknown`). "
            "`curate push` leaves them out unless it is given `--include-unknown-license`."
        )
    if stats.excluded_unknown:
        notes.append(
            f"This copy was published without {stats.excluded_unknown} images whose licence is unknown; "
            "they remain in the local dataset folder."
        )
    return " ".join(notes) or "Every image has a licence stated by its source."


def render_card(
    folder: DatasetFolder,
    *,
    domain: str | None = None,
    repo_id: str | None = None,
    excluded_unknown: int = 0,
    unknown_included: bool = False,
    pretty_name: str | None = None,
    samples: list[tuple[str, int]] | None = None,
) -> DatasetCard:
    """Build the card for ``folder`` (no files written); ``samples`` are the rows in samples.png."""
    stats = compute_stats(folder, excluded_unknown=excluded_unknown)
    report = folder.report or {}
    domain = (domain or report.get("domain") or "B").upper()
    noun = "pixel-art images" if domain == "B" else "pictures (domain A)"
    kind = "pixel art" if domain == "B" else "pictures, domain A"
    pretty_name = pretty_name or f"{folder.path.name}: {kind} (pixelforge)"
    # the shards' own columns: an older folder (without a later column) is described as it is served
    features = Features({name: FEATURES[name] for name in folder.columns})
    data = card_data(stats, pretty_name=pretty_name, domain=domain, features=features)
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.filters["filesize"] = _filesize
    env.filters["bar"] = _bar
    env.filters["cell"] = _cell
    n_sources = len([s for s in stats.sources if s.images])
    summary = (
        f"{stats.total} {noun} from {n_sources} source{'s' if n_sources != 1 else ''}, "
        f"curated by pixelforge into white-background PNGs with full provenance: "
        + ", ".join(f"{s.rows} {s.name}" for s in stats.splits)
        + "."
    )
    body = env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        card_data=data.to_yaml(),
        pretty_name=pretty_name,
        summary=summary,
        repo_id=repo_id or f"<user>/{folder.path.name}",
        folder_name=folder.path.name,
        canvas_note=_canvas_note(folder),
        stats=stats,
        columns=[(name, _feature_kind(f)) for name, f in features.items()],
        samples=pick_samples(folder, 16) if samples is None else samples,
        license_summary=_license_summary(stats, data.license),
        unknown_note=_unknown_note(stats, unknown_included),
        report=report or None,
        domain=domain,
        counts=list(report.get("counts", {}).items()),
        stages=list(report.get("stages", {}).items()),
        config_json=json.dumps(report.get("config", {}), indent=2, sort_keys=True),
        intended_use=_INTENDED_USE.get(domain, _INTENDED_USE["B"]),
        limitations=_limitations(domain, report.get("input_kind")),
    )
    return DatasetCard(body)


def write_card(folder: str | Path, *, domain: str | None = None, repo_id: str | None = None) -> Path:
    """Write ``README.md``, ``attribution.csv`` and ``samples.png`` into a dataset folder; return the card path.

    ``repo_id`` only changes the ``load_dataset("...")`` line; without it the card shows ``<user>/<folder>``.
    """
    return write_card_files(DatasetFolder.read(folder), domain=domain, repo_id=repo_id)


def write_card_files(
    folder: DatasetFolder,
    out_dir: str | Path | None = None,
    *,
    domain: str | None = None,
    repo_id: str | None = None,
    excluded_unknown: int = 0,
    unknown_included: bool = False,
) -> Path:
    """Write the card and the files it links to into ``out_dir`` (default: the folder itself)."""
    out = Path(out_dir or folder.path)
    write_attribution(folder, out)
    shown = write_samples(folder, out)
    card = render_card(
        folder,
        domain=domain,
        repo_id=repo_id,
        excluded_unknown=excluded_unknown,
        unknown_included=unknown_included,
        samples=shown,
    )
    path = out / CARD_FILE
    atomic_write(path, str(card))  # the card is replaced whole or not at all
    return path

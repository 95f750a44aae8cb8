"""What a run was trained on, read back from its ``config.json`` domains, for the model card.

A domain that is a dataset folder from ``curate run`` carries every image's licence, author and
source page in its Parquet shards: those are counted (for the split the run read) and become the
card's licence table, its attribution and ``attribution.csv``. An image folder or a Hub dataset
carries no licence we can read here, so the model's licence is ``unknown`` unless the publisher
states one (``train publish --license``). Local paths are published as their last folder name
only, so a model repo never shows the publisher's file system.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pixelforge.dataset import CARD_FILE, DATA_DIR, UNKNOWN_LICENSE
from pixelforge.licenses import hub_license_id

#: Licences whose terms need no credit; every other one is credited by author on the card.
NO_ATTRIBUTION = frozenset({"cc0-1.0", "pddl", "unlicense", "wtfpl"})
ATTRIBUTION_COLUMNS = ("domain", "title", "author", "license", "license_url", "page_url")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_LOAD_LINE = re.compile(r'load_dataset\("(?P<id>[\w.-]+/[\w.-]+)"\)')


@dataclass(frozen=True)
class LicenceCount:
    stated: str  # as the source states it, e.g. "CC-BY 4.0"
    hub_id: str | None  # the Hub's id for it; None when it has none (the card says "other")
    url: str
    images: int
    authors: tuple[str, ...]

    @property
    def needs_attribution(self) -> bool:
        return self.hub_id not in NO_ATTRIBUTION and self.hub_id != UNKNOWN_LICENSE


@dataclass(frozen=True)
class DomainData:
    """One training domain as the card describes it."""

    role: str  # A (pictures) or B (pixel art)
    shown: str  # the source as published: a Hub id, or a local folder's name
    kind: str  # dataset folder | image folder | Hub dataset | not found here
    images: int | None = None
    licences: tuple[LicenceCount, ...] = ()
    hub_dataset: str | None = None  # the dataset's Hub id, when it is on the Hub
    rows: tuple[dict[str, str], ...] = field(default=(), repr=False)  # attribution rows

    @property
    def known(self) -> bool:
        """True when every image's licence is stated (the model's licence can follow from them)."""
        return self.kind == "dataset folder" and all(lic.hub_id != UNKNOWN_LICENSE for lic in self.licences)


def shown_source(source: str) -> str:
    """A Hub id as it is; a local path as its last folder name (no user names, no home folders)."""
    if source and not Path(source).exists() and _HUB_ID.match(source) and not source.startswith((".", "/", "~")):
        return source
    return Path(source.rstrip("/\\")).name or source


def describe_domain(source: str, role: str, split: str = "train") -> DomainData:
    """Read one domain's provenance (no network: a Hub dataset is named, not fetched)."""
    path = Path(source) if source else None
    if path is None or not path.exists():
        if source and _HUB_ID.match(source) and "/" in source:
            return DomainData(role, source, "Hub dataset", hub_dataset=source)
        return DomainData(role, shown_source(source), "not found here")
    if (path / f"train{role}").is_dir():
        path = path / f"train{role}"
    shards = sorted((path / DATA_DIR).glob(f"{split}-*.parquet")) if (path / DATA_DIR).is_dir() else []
    if not shards:
        return DomainData(role, shown_source(source), "image folder")
    import pyarrow.parquet as pq

    columns = ("license", "license_url", "author", "title", "page_url")
    rows: list[dict[str, str]] = []
    for shard in shards:
        table = pq.read_table(shard, columns=[c for c in columns if c in pq.read_schema(shard).names])
        rows += [{k: str(v or "") for k, v in row.items()} for row in table.to_pylist()]
    by_licence: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_licence[row.get("license") or UNKNOWN_LICENSE].append(row)
    licences = tuple(
        LicenceCount(
            stated=stated,
            hub_id=hub_license_id(stated),
            url=Counter(r.get("license_url", "") for r in group).most_common(1)[0][0],
            images=len(group),
            authors=credited_authors(r.get("author", "") for r in group),
        )
        for stated, group in sorted(by_licence.items(), key=lambda item: (-len(item[1]), item[0]))
    )
    attribution = tuple({"domain": role, **{c: r.get(c, "") for c in ATTRIBUTION_COLUMNS[1:]}} for r in rows)
    return DomainData(role, shown_source(source), "dataset folder", len(rows), licences, _card_repo_id(path), attribution)


def _card_repo_id(folder: Path) -> str | None:
    """The Hub id the folder's data card was written for (``curate card --repo-id``), if any."""
    card = folder / CARD_FILE
    try:
        match = _LOAD_LINE.search(card.read_text(encoding="utf-8")) if card.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None
    return match["id"] if match and not match["id"].startswith("<") else None


def model_license(domains: list[DomainData]) -> tuple[str, dict[str, str]]:
    """The card's ``license`` (and ``license_name``/``license_link`` for ``other``) from the training data.

    One licence for every image: that licence. Several: ``other``, pointing at ``attribution.csv``,
    which lists each image's. Any image or domain whose licence is not stated here: ``unknown``.
    """
    if not domains or not all(d.known for d in domains):
        return UNKNOWN_LICENSE, {}
    licences = [lic for d in domains for lic in d.licences]
    ids = {lic.hub_id or "other" for lic in licences}
    if len(ids) == 1 and "other" not in ids:
        return ids.pop(), {}
    if len(ids) == 1 and len({lic.stated for lic in licences}) == 1:
        lic = licences[0]
        extra = {"license_name": re.sub(r"[^a-z0-9]+", "-", lic.stated.lower()).strip("-") or "other"}
        return "other", extra | ({"license_link": lic.url} if lic.url else {})
    return "other", {"license_name": "mixed-training-data-licenses", "license_link": "attribution.csv"}


def attribution_csv(domains: list[DomainData]) -> str | None:
    """One line per training image with a stated provenance (None when no domain has any)."""
    rows = [row for d in domains for row in d.rows]
    if not rows:
        return None
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ATTRIBUTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def credited_authors(fields: Iterable[str]) -> tuple[str, ...]:
    """Each person once: an image's author field may credit several, separated by ``;`` (LPC sheets do),
    and the same people recur across thousands of frames in different combinations."""
    return tuple(sorted({name.strip() for field in fields for name in field.split(";") if name.strip()}, key=str.casefold))

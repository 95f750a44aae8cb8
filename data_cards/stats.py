"""Every number the data card shows, computed from the shards and ``curation_report.json``.

Nothing here is typed in: the card template only formats a :class:`CardStats`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tqdm import tqdm

from data_cards.folder import DatasetFolder
from pixelforge.dataset import NON_WHITE_BACKGROUNDS, UNKNOWN_LICENSE
from pixelforge.licenses import hub_license_id

#: Palette-size buckets, the same as the report's ``native.n_colors_histogram``.
COLOR_BUCKETS: tuple[tuple[str, int, int], ...] = (("<=4", 0, 4), ("5-16", 5, 16), ("17-64", 17, 64), (">64", 65, 1 << 30))

#: The Hub's ``size_categories`` values and their upper bounds.
SIZE_CATEGORIES: tuple[tuple[str, int], ...] = (
    ("n<1K", 1_000),
    ("1K<n<10K", 10_000),
    ("10K<n<100K", 100_000),
    ("100K<n<1M", 1_000_000),
    ("1M<n<10M", 10_000_000),
    ("10M<n<100M", 100_000_000),
)


@dataclass(frozen=True)
class LicenseRow:
    stated: str  # as the source stated it
    hub_id: str | None  # Hub licence id, None when it has none
    url: str  # licence URL as stated (first seen)
    images: int  # works under this licence (a work with two licences counts under both)


@dataclass(frozen=True)
class SourceRow:
    source: str
    images: int  # rows in this dataset
    files: int | None  # files fetched (report)
    first_fetched: str | None
    last_fetched: str | None


@dataclass(frozen=True)
class SplitRow:
    name: str
    rows: int
    download_size: int  # Parquet bytes
    num_bytes: int  # Arrow bytes
    shards: int


@dataclass(frozen=True)
class CardStats:
    splits: list[SplitRow]
    licenses: list[LicenseRow]
    sources: list[SourceRow]
    authors: int
    scale_histogram: list[tuple[str, int]]  # detected pixel scale -> images
    color_histogram: list[tuple[str, int]]  # palette size bucket -> images
    canvas_scales: list[tuple[str, int]]  # native -> canvas factor -> images
    native_sizes: tuple[int, int, int, int]  # min w, max w, min h, max h
    unknown_license: int  # rows in the data with licence "unknown"
    multi_licensed: int = 0  # rows offered under more than one licence (counted under each)
    excluded_unknown: int = 0  # rows left out of this copy because their licence is unknown
    report: dict | None = None
    rejections: list[tuple[str, str, int]] = field(default_factory=list)  # (stage, reason, count)
    clusters: int = 0
    clustered_members: int = 0
    largest_cluster: int = 0
    # rows whose background is not white (background column: scene, complex, none) -> count
    non_white: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(s.rows for s in self.splits)

    @property
    def size_category(self) -> str:
        for name, bound in SIZE_CATEGORIES:
            if self.total < bound:
                return name
        return "n>1T"

    @property
    def single_license(self) -> LicenseRow | None:
        return self.licenses[0] if len(self.licenses) == 1 else None


def _histogram(values: list, key: object = None) -> list[tuple[str, int]]:
    counts = Counter(values)
    return [(str(k), counts[k]) for k in sorted(counts, key=key)]


def _scale_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def compute_stats(folder: DatasetFolder, *, excluded_unknown: int = 0) -> CardStats:
    """Read the metadata columns of every split once and count what the card reports."""
    splits, licenses, urls, sources, authors = [], Counter(), {}, Counter(), set()
    backgrounds: Counter = Counter()
    unknown = multi = 0
    scales, colors, canvas, widths, heights = [], [], [], [], []
    for split in tqdm(folder.splits, desc="card: reading splits", unit="split", disable=None, leave=False):
        table, nbytes = folder.scan(split)
        cols = table.to_pydict()
        splits.append(
            SplitRow(
                name=split,
                rows=table.num_rows,
                download_size=folder.download_size(split),
                num_bytes=nbytes,
                shards=len(folder.shards[split]),
            )
        )
        for lic, url, stated in zip(cols["license"], cols["license_url"], cols["licenses"]):
            lic = lic or UNKNOWN_LICENSE
            if url and not urls.get(lic):
                urls[lic] = url  # only the first/chosen licence has its URL in the row
            names = list(dict.fromkeys(n for n in stated or () if n)) or [lic]
            for name in names:
                licenses[name] += 1
                urls.setdefault(name, "")
            multi += len(names) > 1
            unknown += all(hub_license_id(n) == UNKNOWN_LICENSE for n in names)
        sources.update(cols["source"])
        backgrounds.update(b for b in cols["background"] if b in NON_WHITE_BACKGROUNDS)
        authors.update(a for a in cols["author"] if a)
        scales += [_scale_label(v) for v in cols["pixel_scale"]]
        colors += cols["n_colors"]
        canvas += cols["scale"]
        widths += cols["native_width"]
        heights += cols["native_height"]
    color_counts = Counter()
    for n in colors:
        color_counts[next(name for name, lo, hi in COLOR_BUCKETS if lo <= n <= hi)] += 1
    report = folder.report or {}
    report_sources = report.get("sources", {})
    source_rows = [
        SourceRow(
            source=name,
            images=sources.get(name, 0),
            files=report_sources.get(name, {}).get("files"),
            first_fetched=report_sources.get(name, {}).get("first_fetched"),
            last_fetched=report_sources.get(name, {}).get("last_fetched"),
        )
        for name in sorted(set(sources) | set(report_sources), key=lambda s: (-sources.get(s, 0), s))
    ]
    rejections = Counter((r.get("stage", "?"), r.get("reason", "?")) for r in report.get("rejected", []))
    clusters = report.get("clusters", [])
    return CardStats(
        splits=splits,
        licenses=[
            LicenseRow(stated=lic, hub_id=hub_license_id(lic), url=urls[lic], images=n)
            for lic, n in sorted(licenses.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        sources=source_rows,
        authors=len(authors),
        scale_histogram=_histogram(scales, key=lambda s: float(s)),
        color_histogram=[(name, color_counts.get(name, 0)) for name, _, _ in COLOR_BUCKETS],
        canvas_scales=_histogram(canvas),
        native_sizes=(min(widths, default=0), max(widths, default=0), min(heights, default=0), max(heights, default=0)),
        unknown_license=unknown,
        multi_licensed=multi,
        excluded_unknown=excluded_unknown,
        report=folder.report,
        rejections=[(s, r, n) for (s, r), n in sorted(rejections.items(), key=lambda kv: (-kv[1], kv[0]))],
        clusters=len(clusters),
        clustered_members=sum(int(c.get("size", 0)) for c in clusters),
        largest_cluster=max((int(c.get("size", 0)) for c in clusters), default=0),
        non_white=sorted(backgrounds.items(), key=lambda kv: (-kv[1], kv[0])),
    )

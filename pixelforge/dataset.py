"""The dataset folder contract, declared once: curation writes it, training and the cards read it.

A curated dataset folder looks like this (exactly what the Hugging Face Hub serves)::

    <folder>/
      README.md                          data card (YAML header + body)
      data/train-00000-of-00002.parquet  Parquet shards with the FEATURES below
      data/test-00000-of-00001.parquet
      curation_report.json               counts per stage, rejections with reasons, dedup clusters
      attribution.csv                    author + source page per row (data cards)
      samples.png                        sample grid (data cards)

``datasets.load_dataset(<folder>)`` loads it as it is.
"""

from __future__ import annotations

from datasets import Features, Image, Sequence, Value

#: Column name -> feature. Order is the column order in the Parquet files.
FEATURES = Features(
    {
        # images
        "image": Image(),  # the training canvas: white square, integer nearest-neighbour scaled, PNG
        "native": Image(),  # native resolution (one pixel per art pixel), composited on white, PNG
        # identity and provenance
        "sha256": Value("string"),  # sha256 of the raw input bytes (the raw store's key)
        "pixel_sha256": Value("string"),  # sha256 of the decoded native pixels after compositing
        "source": Value("string"),  # crawler source name, or "folder" for a plain folder input
        "url": Value("string"),  # where the file came from (or its path for folder inputs)
        "page_url": Value("string"),
        "title": Value("string"),
        "author": Value("string"),
        "license": Value("string"),  # as stated by the source; "unknown" when it stated none
        "license_url": Value("string"),
        "member": Value("string"),  # path inside a zip pack / frame / sprite box; "" for whole files
        # measurements
        "native_width": Value("int32"),
        "native_height": Value("int32"),
        "pixel_scale": Value("float32"),  # detected upscale factor of the input (1 = already native)
        "grid_confidence": Value("float32"),
        "scale": Value("int32"),  # canvas scale: native -> canvas factor (>= 1: curation never decimates)
        "n_colors": Value("int32"),  # distinct colours at native resolution
        "phash": Value("string"),  # 64-bit hex
        "dhash": Value("string"),  # 64-bit hex
        "cluster_size": Value("int32"),  # members of the near-duplicate cluster this row represents
        "tags": Sequence(Value("string")),
        # every licence the source states (a multi-licensed work has several; the user picks one);
        # "license" above is the first/chosen one. Last, so older consumers keep their column positions.
        "licenses": Sequence(Value("string")),
        # how the background became white ("alpha", "white", "border" key colour flood-filled, "rembg"),
        # or why the row keeps its own: "scene" (full-bleed art, never filled), "complex" (kept by
        # background.keep_complex_domains), "none" (background.mode = "none"); "" in older folders
        "background": Value("string"),
    }
)

COLUMNS: tuple[str, ...] = tuple(FEATURES.keys())
#: columns added after the first folders were written, with the value a folder without them implies;
#: readers (cards, push) accept a folder whose shards stop before any of them
LATER_COLUMNS: dict[str, object] = {"licenses": [], "background": ""}
#: background kinds whose row is not on a white background (see the ``background`` column)
NON_WHITE_BACKGROUNDS: frozenset[str] = frozenset({"scene", "complex", "none"})


def known_columns(names: list[str] | tuple[str, ...]) -> bool:
    """True when ``names`` are the contract's columns in order, possibly without trailing later ones."""
    names = tuple(names)
    return names == COLUMNS[: len(names)] and all(c in LATER_COLUMNS for c in COLUMNS[len(names):])


IMAGE_COLUMNS: tuple[str, ...] = ("image", "native")

SPLITS: tuple[str, ...] = ("train", "test")
DATA_DIR = "data"
REPORT_FILE = "curation_report.json"
CARD_FILE = "README.md"
ATTRIBUTION_FILE = "attribution.csv"
SAMPLES_FILE = "samples.png"
UNKNOWN_LICENSE = "unknown"


def shard_name(split: str, index: int, total: int) -> str:
    """Hub naming for a Parquet shard, relative to the dataset folder."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{total:05d}.parquet"


def colors_bucket(n: int) -> str:
    """The ``native.n_colors_histogram`` buckets of the report contract."""
    if n <= 4:
        return "<=4"
    if n <= 16:
        return "5-16"
    if n <= 64:
        return "17-64"
    return ">64"

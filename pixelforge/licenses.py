"""Map licences as sources state them ("CC-BY 4.0", "CC0", "GPL 3.0") to Hub licence ids.

The Hub's ``license:`` field only accepts its own ids (https://huggingface.co/docs/hub/repositories-licenses).
Sources write licences many ways, so we normalise the text and look it up; anything we cannot map
with certainty is ``None`` and the card says ``other`` and names it, rather than guessing.
"""

from __future__ import annotations

import re

from pixelforge.dataset import UNKNOWN_LICENSE

#: The Hub's licence ids (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset(
    """apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
    bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc
    cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0
    cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0
    cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0
    eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research
    lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa
    unlicense zlib pddl lgpl-lr deepfloyd-if-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma
    unknown other""".split()
)

#: The Hub licence ids we can map source licences onto (a subset of the Hub's list).
HUB_LICENSE_IDS: frozenset[str] = frozenset(
    {
        "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0",
        "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "mit", "apache-2.0", "gpl-2.0", "gpl-3.0",
        "lgpl-2.1", "lgpl-3.0", "agpl-3.0", "unlicense", "wtfpl", "ofl-1.1", "bsd-2-clause", "bsd-3-clause",
        "mpl-2.0", "zlib", "isc", "odc-by", "odbl", "pddl", "other", "unknown",
    }
)

_ALIASES = {
    "cc0": "cc0-1.0",
    "cc-zero": "cc0-1.0",
    "publicdomain-zero-1.0": "cc0-1.0",
    "unlicensed": "unlicense",
    "the-unlicense": "unlicense",
    "gpl-3.0-or-later": "gpl-3.0",
    "gpl-2.0-or-later": "gpl-2.0",
    "gplv3": "gpl-3.0",
    "gplv2": "gpl-2.0",
    "lgpl-2.1-or-later": "lgpl-2.1",
    "lgpl-3.0-or-later": "lgpl-3.0",
    "mit-license": "mit",
    "apache": "apache-2.0",
}


def _slug(text: str) -> str:
    """'CC BY-SA 3.0 ' -> 'cc-by-sa-3.0'; 'CC0 1.0' -> 'cc0-1.0'; 'GPL v3' -> 'gpl-v3'."""
    text = text.strip().lower()
    text = re.sub(r"^creative\s*commons\s*", "cc ", text)
    text = text.replace("attribution", "by").replace("sharealike", "sa").replace("share-alike", "sa")
    text = text.replace("noncommercial", "nc").replace("non-commercial", "nc").replace("noderivatives", "nd")
    text = re.sub(r"[\s_/]+", "-", text)
    text = re.sub(r"-+", "-", text).strip("-")
    return re.sub(r"-v(\d)", r"-\1", text)


def hub_license_id(stated: str | None) -> str | None:
    """The Hub id for a stated licence, ``"unknown"`` for none, or ``None`` when it has no Hub id."""
    if stated is None or not stated.strip() or stated.strip().lower() == UNKNOWN_LICENSE:
        return UNKNOWN_LICENSE
    slug = _slug(stated)
    candidates = [slug, _ALIASES.get(slug, "")]
    if re.fullmatch(r"(cc[0a-z-]*|gpl|lgpl|agpl)-\d", slug):  # "cc-by-4" / "gpl-3" -> "-4.0"
        candidates.append(slug + ".0")
    if slug.startswith("cc-") and not re.search(r"\d", slug):  # "cc-by" without a version: not certain
        return None
    for candidate in candidates:
        if candidate in HUB_LICENSE_IDS and candidate not in ("other", UNKNOWN_LICENSE):
            return candidate
    return None


def is_unknown(stated: str | None) -> bool:
    """True when the source stated no licence at all."""
    return hub_license_id(stated) == UNKNOWN_LICENSE

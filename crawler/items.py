"""What a spider hands the raw store: one file URL with the provenance of the page it was found on."""

from __future__ import annotations

from dataclasses import dataclass, field

UNKNOWN_LICENSE = "unknown"


@dataclass
class ArtFile:
    """One original file to store. ``license`` is what the page states, or ``"unknown"``; never guessed."""

    url: str
    page_url: str
    source: str
    title: str = ""
    author: str = ""
    license: str = UNKNOWN_LICENSE
    license_url: str = ""
    tags: list[str] = field(default_factory=list)
    #: every licence the page states, ``{"name", "url"}`` in page order (``license`` is the chosen one)
    licenses: list[dict[str, str]] = field(default_factory=list)

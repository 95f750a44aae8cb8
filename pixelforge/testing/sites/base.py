"""What every fixture site shares: the art it publishes, the built site, licences, robots.txt, file helpers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pixelforge.testing.http_server import FixtureServer

LICENSES = {
    "CC0": "http://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY 4.0": "http://creativecommons.org/licenses/by/4.0/",
    "CC-BY-SA 3.0": "http://creativecommons.org/licenses/by-sa/3.0/",
    "GPL 3.0": "http://www.gnu.org/licenses/gpl-3.0.html",
    "GPL 2.0": "http://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
}

ROBOTS_TXT = """# Drupal-style robots.txt
User-agent: *
Disallow: /admin/
Disallow: /user/
Disallow: /private/
"""


@dataclass
class Art:
    """One piece of art a fixture site publishes."""

    file: Path | None  # local bytes to serve; None for a link only (bad routes)
    title: str
    author: str = "fixture-artist"
    licenses: tuple[str, ...] = ("CC0",)
    tags: tuple[str, ...] = ("pixel art",)
    url_path: str = ""  # where the file is served (filled in by the builder)
    name: str = ""  # served file name (defaults to file.name)


@dataclass
class Site:
    """A built fixture site: static files in ``root`` plus dynamic routes."""

    root: Path
    routes: dict[str, Callable] = field(default_factory=dict)
    arts: list[Art] = field(default_factory=list)
    #: file URL paths a crawl must store (good files), for assertions
    expected_files: list[str] = field(default_factory=list)
    #: expected files a crawl cannot reach because a bad input hides them (malformed API page)
    unreachable: list[str] = field(default_factory=list)

    def install(self, server: FixtureServer) -> FixtureServer:
        for path, fn in self.routes.items():
            server.route(path, fn)
        return server


def _arts(files: Sequence[Path | Art], licenses: Sequence[str]) -> list[Art]:
    out = []
    for i, f in enumerate(files):
        if isinstance(f, Art):
            out.append(f)
        else:
            f = Path(f)
            out.append(Art(file=f, title=f.stem.replace("-", " ").title(), author=f"artist{i % 3}",
                           licenses=(licenses[i % len(licenses)],)))
    return out


def _write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def _query(handler: object) -> dict[str, str]:
    q = parse_qs(urlsplit(handler.path).query, keep_blank_values=True)  # type: ignore[attr-defined]
    return {k: v[-1] for k, v in q.items()}

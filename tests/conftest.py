"""Fixtures every test module can use: the local HTTP server, fixture art and sprites."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixelforge.testing.http_server import FixtureServer

FIXTURES = Path(__file__).parent / "fixtures"
ART = FIXTURES / "art"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Exported ONNX graphs go to a per-session folder, never the user's ~/.cache."""
    old = os.environ.get("PIXELFORGE_CACHE")
    os.environ["PIXELFORGE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("PIXELFORGE_CACHE", None)
    else:
        os.environ["PIXELFORGE_CACHE"] = old


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[FixtureServer]:
    """A fresh 127.0.0.1 server over an empty temporary folder (write files into ``srv.root``)."""
    root = tmp_path / "site"
    root.mkdir()
    with FixtureServer(root) as srv:
        yield srv


@pytest.fixture(scope="session")
def art_dir() -> Path:
    return ART


@pytest.fixture(scope="session")
def cartoon_files() -> list[Path]:
    return sorted((ART / "cartoon").glob("*.png"))


@pytest.fixture(scope="session")
def pixel_files() -> list[Path]:
    return sorted((ART / "pixel").glob("*.png"))

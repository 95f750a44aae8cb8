"""``scrapy crawl pixelart``: every enabled source in one crawl (``-a sources=a,b`` to pick some).

Sources: ``opengameart``, ``wikimedia`` and every ``crawler/configs/*.toml`` with ``enabled = true``.
``-a base_url=`` moves all of them (tests); ``-a <source>_base_url=`` moves one.
"""

from __future__ import annotations

from typing import Any

from crawler.spiders.base import PixelForgeSpider, Source
from crawler.spiders.gallery import GallerySource, enabled_configs
from crawler.spiders.opengameart import OpenGameArtSource
from crawler.spiders.wikimedia import WikimediaSource


class PixelArtSpider(PixelForgeSpider):
    """All sources: OpenGameArt, Wikimedia Commons and the enabled gallery configs."""

    name = "pixelart"
    source_classes = (OpenGameArtSource, WikimediaSource)

    def build_sources(self, base_url: str | None, options: dict[str, Any]) -> list[Source]:
        built = super().build_sources(base_url, options)
        for config in enabled_configs():
            built.append(GallerySource(self, config, options.get(f"{config.name}_base_url") or base_url, **options))
        return built

    def available_sources(self) -> list[str]:
        return [*super().available_sources(), *(c.name for c in enabled_configs())]

"""Running a crawl against a fixture site, as ``scrapy.utils.test`` runs spiders: tests and the crawl benchmark.

A crawl runs in a subprocess (Twisted's reactor cannot restart in one process) with settings fit for a local
site (no politeness delays, short timeouts); what it wrote is read back from the raw store it filled.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Settings for crawling a local fixture: no politeness delays, quick timeouts, no fsync.
FAST_SETTINGS = {
    "AUTOTHROTTLE_ENABLED": "0", "DOWNLOAD_DELAY": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "16",
    "DOWNLOAD_TIMEOUT": "5", "RAW_STORE_FSYNC": "0", "LOG_LEVEL": "INFO", "RETRY_TIMES": "1",
}


def crawl_command(spider: str, raw_store: Path, args: dict[str, str] | None = None,
                  settings: dict[str, str] | None = None) -> list[str]:
    """``python -m scrapy crawl <spider>`` with ``-a``/``-s`` pairs, fixture-speed settings first."""
    cmd = [sys.executable, "-m", "scrapy", "crawl", spider, "-s", f"RAW_STORE={raw_store}"]
    for key, value in {**FAST_SETTINGS, **(settings or {})}.items():
        cmd += ["-s", f"{key}={value}"]
    for key, value in (args or {}).items():
        cmd += ["-a", f"{key}={value}"]
    return cmd


def run_crawl(spider: str, raw_store: Path, args: dict[str, str] | None = None,
              settings: dict[str, str] | None = None, timeout: float = 60) -> str:
    """Run a crawl in a subprocess (Twisted's reactor cannot restart in-process); return its log."""
    proc = subprocess.run(crawl_command(spider, raw_store, args, settings), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"crawl {spider} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return proc.stderr


def read_manifest(raw_store: Path) -> list[dict]:
    """The raw store's manifest rows (none when the crawl wrote nothing)."""
    path = Path(raw_store) / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_stats(raw_store: Path) -> dict:
    """The crawl's summary (``crawl_stats.json``), which the crawler writes when it closes."""
    return json.loads((Path(raw_store) / "crawl_stats.json").read_text(encoding="utf-8"))

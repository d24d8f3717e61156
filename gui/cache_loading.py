"""Reading a cache folder into rows: runs on a worker thread, never on the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.cache import ImageCache
from core.executor import Backend
from core.models import ImageEntry
from core.settings import RefreshSettings
from gui.rows import FileFacts, ImageRow

WORKER_NICENESS = 5


@dataclass(frozen=True)
class LoadedCache:
    cache: ImageCache
    rows: list[ImageRow]


def stat_row(cache: ImageCache, entry: ImageEntry) -> ImageRow:
    path = cache.path_of(entry)
    facts = None
    if path is not None:
        try:
            stat = path.stat()
            facts = FileFacts(stat.st_mtime, stat.st_size)
        except OSError:
            facts = None
    return ImageRow(entry, path, facts)


def load_cache(folder: Path, settings: RefreshSettings) -> LoadedCache:
    """Refreshes run in worker processes: the GUI thread shares no GIL with downloads and
    decoding, and the workers, below the window's CPU priority, never slow its painting. They
    start once the rows are shown (`ImageCache.start`), so neither the first screen nor the
    first refresh waits for them."""
    cache = ImageCache(folder, settings, backend=Backend.PROCESSES, niceness=WORKER_NICENESS).open()
    return LoadedCache(cache, [stat_row(cache, entry) for entry in cache.entries()])


def add_urls(cache: ImageCache, urls: list[str], category: str) -> list[ImageRow]:
    return [stat_row(cache, entry) for entry in cache.add_urls(urls, category)]

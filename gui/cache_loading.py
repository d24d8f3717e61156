"""Reading a cache folder into rows: runs on a worker thread, never on the GUI thread."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core import sources
from core.cache import ImageCache
from core.executor import Backend
from core.models import ImageEntry
from core.settings import RefreshSettings
from core.storage import is_image_cache
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
    """Open a cache, or adopt any other folder of images in place (core.cache: nothing of ours
    is written into it); an empty or new folder becomes a cache of our own.

    Refreshes run in worker processes: the GUI thread shares no GIL with downloads and
    decoding, and the workers, below the window's CPU priority, never slow its painting. They
    start once the rows are shown (`ImageCache.start`), so neither the first screen nor the
    first refresh waits for them."""
    adopting = not is_image_cache(folder) and _holds_files(folder)
    cache = ImageCache(
        folder, settings, backend=Backend.PROCESSES, niceness=WORKER_NICENESS, adopt=adopting
    ).open()
    if adopting:
        cache.adopt()
    return LoadedCache(cache, [stat_row(cache, entry) for entry in cache.entries()])


def _holds_files(folder: Path) -> bool:
    try:
        with os.scandir(folder) as listing:
            return any(not item.name.startswith(".") for item in listing)
    except OSError:
        return False


def import_sources(cache: ImageCache, file: Path) -> SourcesImported:
    """Set the source URLs an export names (core.sources), and read the rows anew."""
    records = sources.import_sources(cache, sources.read_sources(file))
    refused = [str(record["error"]) for record in records if not record["ok"]]
    rows = [stat_row(cache, entry) for entry in cache.entries()]
    return SourcesImported(len(records) - len(refused), refused, rows)


@dataclass(frozen=True)
class SourcesImported:
    matched: int
    refused: list[str]  # why, for each row refused
    rows: list[ImageRow]


def add_urls(cache: ImageCache, urls: list[str], category: str) -> list[ImageRow]:
    return [stat_row(cache, entry) for entry in cache.add_urls(urls, category)]

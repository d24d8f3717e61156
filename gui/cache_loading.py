"""Reading a cache folder into rows: runs on a worker thread, never on the GUI thread."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from core import sources
from core.cache import ImageCache
from core.executor import Backend
from core.models import ImageEntry
from core.secrets import redact
from core.settings import RefreshSettings
from core.storage import is_image_cache
from core.variants import VariantRule
from gui.rows import FileFacts, ImageRow, VariantFile

log = logging.getLogger("core.gui")
# The workers' CPU priority under the window's. At 5 the GUI thread, woken by a timer or an
# event, waited behind them for a core: during a 1000-image refresh its worst pauses after the
# first click were 35-82 ms, of which it ran 3-25 ms. At 19 they are at most 38 ms, and the
# batch takes as long (gui_responsiveness, 2 cores).
WORKER_NICENESS = 19


@dataclass(frozen=True)
class LoadedCache:
    cache: ImageCache
    rows: list[ImageRow]


def stat_row(cache: ImageCache, entry: ImageEntry) -> ImageRow:
    path = cache.path_of(entry)
    return ImageRow(entry, path, _facts(path) if path is not None else None)


def _facts(path: Path) -> FileFacts | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return FileFacts(stat.st_mtime, stat.st_size)


def variant_files(cache: ImageCache, entry: ImageEntry) -> list[VariantFile]:
    """An adopted original's derived sizes by the folder's rules, each as it is on disk now."""
    return [
        VariantFile(path, f"{rule.width}×{rule.height} {rule.fit}", _facts(path))
        for rule, path in cache.variants_of(entry)
    ]


def load_cache(
    folder: Path, settings: RefreshSettings, rules: list[VariantRule] | None = None
) -> LoadedCache:
    """Open a cache, or adopt any other folder of images in place (core.cache: nothing of ours
    is written into it); an empty or new folder becomes a cache of our own. `rules`: an adopted
    folder's new variant rules, saved with it and its files taken stock of again, as
    `adopt --variant` does.

    Refreshes run in worker processes: the GUI thread shares no GIL with downloads and
    decoding, and the workers, below the window's CPU priority, never slow its painting. They
    start once the rows are shown (`ImageCache.start`), so neither the first screen nor the
    first refresh waits for them."""
    adopting = not is_image_cache(folder) and _holds_files(folder)
    cache = ImageCache(
        folder, settings, backend=Backend.PROCESSES, niceness=WORKER_NICENESS, adopt=adopting
    ).open()
    if adopting or rules is not None:
        try:
            cache.adopt(rules)
        except BaseException:
            cache.close()
            raise
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


def set_source(cache: ImageCache, entry: ImageEntry, url: str) -> SourceAnswer:
    """Give one image its source URL by hand (core.sources.set_source): its row anew, known by
    that URL, or why the URL was refused (nothing changed)."""
    try:
        updated = sources.set_source(cache, entry.rel_path or "", url)
    except sources.SourceRefusedError as refused:
        return SourceAnswer(entry.key, None, str(refused))
    log.info("source URL of %s set to %s", entry.rel_path, redact(url))
    return SourceAnswer(entry.key, stat_row(cache, updated), None)


@dataclass(frozen=True)
class SourceAnswer:
    key: str  # the row's key before (a path's, for a file that had no source)
    row: ImageRow | None  # the row anew; None when refused
    refused: str | None


def add_urls(cache: ImageCache, urls: list[str], category: str) -> list[ImageRow]:
    return [stat_row(cache, entry) for entry in cache.add_urls(urls, category)]

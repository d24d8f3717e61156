"""Rebuilding the manifest from the files on disk when it is missing."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from core.models import ImageEntry
from core.naming import InvalidCategoryError, normalize_category
from core.storage import CacheStorage
from core.validation import RASTER_FORMATS, SVG

log = logging.getLogger(__name__)
_MIME_BY_EXTENSION = {f.extension: f.mime_type for f in (*RASTER_FORMATS.values(), SVG)}


def scan_cached_files(storage: CacheStorage) -> Iterator[ImageEntry]:
    """Every file in a category folder, as an entry with no known URL."""
    for folder in sorted(storage.root.iterdir()):
        if not folder.is_dir() or folder == storage.state_dir:
            continue
        try:
            category = normalize_category(folder.name)
        except InvalidCategoryError:
            continue
        if category != folder.name or _leads_out(storage, folder):
            continue
        for file in sorted(folder.iterdir()):
            if file.is_file() and not file.name.startswith(".") and not _leads_out(storage, file):
                yield _describe(file, category, storage.root)


def _leads_out(storage: CacheStorage, path: Path) -> bool:
    target = storage.outside_link(path)
    if target is not None:
        log.warning("%s links outside the cache (to %s); it is left alone", path, target)
    return target is not None


def _describe(file: Path, category: str, root: Path) -> ImageEntry:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    width = height = None
    try:
        with Image.open(file) as image:
            width, height = image.size
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ):
        pass
    stat = file.stat()
    return ImageEntry(
        url=None,
        category=category,
        rel_path=file.relative_to(root).as_posix(),
        size=stat.st_size,
        sha256=digest.hexdigest(),
        content_type=_MIME_BY_EXTENSION.get(file.suffix.lower()),
        width=width,
        height=height,
        downloaded_at=stat.st_mtime,
        last_outcome="found on disk",
    )

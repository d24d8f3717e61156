"""Finding the images on disk: to rebuild a lost manifest, and to adopt a folder in place."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from core.models import ImageEntry
from core.naming import InvalidCategoryError, normalize_category
from core.settings import DEFAULT_CATEGORY
from core.storage import CacheStorage
from core.validation import RASTER_FORMATS, SVG
from core.variants import VariantRule

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


def scan_adopted_folder(storage: CacheStorage, rules: list[VariantRule]) -> list[ImageEntry]:
    """Every image file below an adopted folder, at any depth, without decoding any.

    Hidden files and folders are skipped, and so are links leading out of the folder and the
    variants of an original (they are made from it, not entries of their own). The category is
    the first folder below the root; files directly in it are `images`.
    """
    found: list[ImageEntry] = []
    pending = [(storage.root, DEFAULT_CATEGORY)]
    while pending:
        folder, category = pending.pop()
        try:
            listing = sorted(os.scandir(folder), key=lambda item: item.name)
        except OSError as error:
            log.warning("cannot read the folder %s (%s); it is skipped", folder, error.strerror)
            continue
        names = {item.name for item in listing}
        for item in listing:
            path = Path(item.path)
            if item.name.startswith(".") or (item.is_symlink() and _leads_out(storage, path)):
                continue
            if item.is_dir():
                pending.append((path, item.name if folder == storage.root else category))
            elif (
                item.is_file()
                and path.suffix.lower() in _MIME_BY_EXTENSION
                and not _is_variant_by_name(item.name, names, rules)
            ):
                stat = item.stat()
                found.append(
                    ImageEntry(
                        url=None,
                        category=category,
                        rel_path=path.relative_to(storage.root).as_posix(),
                        size=stat.st_size,
                        content_type=_MIME_BY_EXTENSION[path.suffix.lower()],
                        downloaded_at=stat.st_mtime,
                        last_outcome="adopted",
                    )
                )
    found.sort(key=lambda entry: entry.rel_path or "")
    return found


def _is_variant_by_name(name: str, names: set[str], rules: list[VariantRule]) -> bool:
    """A file is a variant when the original its name points to is beside it."""
    return any(
        (original := rule.original_of(Path(name))) is not None and original.name in names
        for rule in rules
    )

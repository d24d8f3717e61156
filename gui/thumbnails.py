"""Thumbnails decoded off the GUI thread, cached by file version, newest request first.

A thumbnail is keyed by (path, mtime, size, edge): a refreshed file has a new key, so its old
picture is never shown for it (the old one stays cached for the before/after view). A refresh
can hand over the thumbnail its validation already made (`insert`), so that file is not decoded.
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict, deque
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPixmap

from core.models import Thumbnail
from core.validation import make_thumbnail
from gui.tasks import TaskRunner

ThumbnailKey = tuple[str, float, int, int]
FileVersion = tuple[str, float, int]  # path, mtime, size: a ThumbnailKey without its edge

TABLE_EDGE = 48
GRID_EDGE = 128
PREVIEW_EDGE = 320
# Sizes an old picture may still be cached at, best first, for a before/after view.
OLD_PICTURE_EDGES = (PREVIEW_EDGE, GRID_EDGE, TABLE_EDGE)


def decode_thumbnail(path: Path, edge: int, version: tuple[float, int] | None = None) -> QImage:
    """A QImage at most `edge` pixels on its longer side; a null QImage if undecodable, or if
    the file is no longer `version` (its mtime and size): a refresh replaced it since, and the
    new picture must never be cached as the old version's (the details pane's "before")."""
    if path.suffix.lower() == ".svg":
        if not _is_version(path, version):
            return QImage()
        reader = QImageReader(str(path))
        size = reader.size()
        if size.isValid() and not size.isEmpty():
            reader.setScaledSize(size.scaled(QSize(edge, edge), Qt.AspectRatioMode.KeepAspectRatio))
        picture = reader.read()
        return picture if _is_version(path, version) else QImage()
    try:
        with path.open("rb") as file:  # an open file is one version, whatever replaces it
            if version is not None and _version_of(os.fstat(file.fileno())) != version:
                return QImage()
            with Image.open(file) as image:
                image.draft("RGB", (edge, edge))
                thumbnail = make_thumbnail(image, edge)
    except Exception:  # a hostile or damaged file: any decoder error means "no picture"
        return QImage()
    return thumbnail_image(thumbnail) if thumbnail is not None else QImage()


def _version_of(stat: os.stat_result) -> tuple[float, int]:
    return stat.st_mtime, stat.st_size


def _is_version(path: Path, version: tuple[float, int] | None) -> bool:
    try:
        return version is None or _version_of(path.stat()) == version
    except OSError:
        return False


def thumbnail_image(thumbnail: Thumbnail) -> QImage:
    """The core's RGBA thumbnail as a QImage that owns its pixels."""
    qimage = QImage(
        thumbnail.rgba,
        thumbnail.width,
        thumbnail.height,
        thumbnail.width * 4,
        QImage.Format.Format_RGBA8888,
    )
    return qimage.copy()  # QImage only borrows the bytes


class ThumbnailLoader(QObject):
    """Hands out cached thumbnails or placeholders, and decodes missing ones in the background."""

    ready = Signal(object)  # ThumbnailKey

    def __init__(
        self, parent: QObject | None = None, capacity: int = 1500, threads: int = 2
    ) -> None:
        super().__init__(parent)
        self._decoder = TaskRunner(threads, self)
        self._cache: OrderedDict[ThumbnailKey, QPixmap] = OrderedDict()
        self._capacity = capacity
        self._pending: deque[ThumbnailKey] = deque()
        self._running: set[ThumbnailKey] = set()
        self._failed: set[ThumbnailKey] = set()
        self._placeholders: dict[int, QPixmap] = {}

    def cached(self, key: ThumbnailKey) -> QPixmap | None:
        pixmap = self._cache.get(key)
        if pixmap is not None:
            self._cache.move_to_end(key)
        return pixmap

    def cached_version(self, version: FileVersion) -> QPixmap | None:
        """A version of a file as it was once shown, at the best size still cached: a file a
        refresh replaced can no longer be decoded, so its picture is what was kept."""
        return next((p for edge in OLD_PICTURE_EDGES if (p := self.cached((*version, edge)))), None)

    def pixmap(self, key: ThumbnailKey) -> QPixmap:
        """The thumbnail if ready; otherwise a placeholder, and the decode is queued."""
        pixmap = self.cached(key)
        if pixmap is not None:
            return pixmap
        if key not in self._failed:
            self.request(key)
        return self.placeholder(key[3], broken=key in self._failed)

    def request(self, key: ThumbnailKey) -> None:
        if key in self._cache or key in self._running or key in self._failed:
            return
        if key in self._pending:
            self._pending.remove(key)
        self._pending.append(key)  # the newest request (the rows on screen now) goes first
        while len(self._pending) > max(1, 4 * self._capacity // 10):
            self._pending.popleft()  # rows scrolled past long ago
        self._start_next()

    def _start_next(self) -> None:
        while self._pending and len(self._running) < self._decoder.max_threads():
            key = self._pending.pop()
            path, mtime, size, edge = key
            self._running.add(key)
            self._decoder.run(
                functools.partial(decode_thumbnail, Path(path), edge, (mtime, size)),
                functools.partial(self._on_decoded, key),
                functools.partial(self._on_decode_failed, key),
            )

    def insert(self, key: ThumbnailKey, image: QImage) -> None:
        """Cache a thumbnail made elsewhere (by a refresh's validation), so none is decoded."""
        if image.isNull():
            return
        if key in self._pending:
            self._pending.remove(key)
        self._failed.discard(key)
        self._store(key, image)
        self.ready.emit(key)

    def _on_decode_failed(self, key: ThumbnailKey, _message: str) -> None:
        self._on_decoded(key, QImage())  # shown as broken, as an undecodable file is

    def _on_decoded(self, key: ThumbnailKey, image: QImage) -> None:
        self._running.discard(key)
        if image.isNull():
            self._failed.add(key)
        else:
            self._store(key, image)
        self.ready.emit(key)
        self._start_next()

    def _store(self, key: ThumbnailKey, image: QImage) -> None:
        self._cache[key] = QPixmap.fromImage(image)
        self._cache.move_to_end(key)
        while len(self._cache) > self._capacity:
            self._cache.popitem(last=False)

    def placeholder(self, edge: int, broken: bool = False) -> QPixmap:
        cache_key = -edge if broken else edge
        pixmap = self._placeholders.get(cache_key)
        if pixmap is None:
            pixmap = QPixmap(edge, edge)
            pixmap.fill(QColor(0, 0, 0, 0))
            painter = QPainter(pixmap)
            painter.setPen(QColor(160, 160, 160))
            painter.setBrush(QColor(235, 235, 235))
            painter.drawRoundedRect(1, 1, edge - 2, edge - 2, 4, 4)
            if broken:
                painter.setPen(QColor(200, 60, 60))
                painter.drawLine(edge // 4, edge // 4, 3 * edge // 4, 3 * edge // 4)
                painter.drawLine(3 * edge // 4, edge // 4, edge // 4, 3 * edge // 4)
            painter.end()
            self._placeholders[cache_key] = pixmap
        return pixmap

    def is_busy(self) -> bool:
        return bool(self._running or self._pending)

    def shutdown(self) -> None:
        self._pending.clear()
        self._decoder.wait_for_done()

"""The refresh job: one QRunnable per image, told everything it needs in its constructor."""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, QRunnable, Signal

from core.cache import ImageCache
from core.models import ImageEntry
from gui.thumbnails import TABLE_EDGE

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.1


class RefreshSignals(QObject):
    started = Signal(str)  # key
    progress = Signal(str, int)  # key, bytes received
    finished = Signal(str, object)  # key, RefreshResult


class RefreshJob(QRunnable):
    """Refreshes one image through the core and reports through `signals`; never touches widgets.

    `force_refresh` is a plain value fixed at construction and passed as-is to the core.
    """

    def __init__(
        self,
        cache: ImageCache,
        entry: ImageEntry,
        *,
        force_refresh: bool,
        check_for_updates: bool,
        cancel: threading.Event,
    ) -> None:
        super().__init__()
        self.cache = cache
        self.entry = entry
        self.force_refresh = force_refresh
        self.check_for_updates = check_for_updates
        self.cancel = cancel
        self.signals = RefreshSignals()
        self._last_progress = 0.0

    def run(self) -> None:
        key = self.entry.key
        self.signals.started.emit(key)
        try:
            result = self.cache.refresh(
                self.entry,
                force_refresh=self.force_refresh,
                check_for_updates=self.check_for_updates,
                cancel=self.cancel,
                progress=self._report_progress,
                thumbnail_edge=TABLE_EDGE,
            )
        except Exception as error:  # a bug or a broken manifest: report it on the row
            log.exception("refresh of %s failed unexpectedly", key)
            result = self.cache.unexpected_failure(key, self.force_refresh, error, self.entry)
        self.signals.finished.emit(key, result)

    def _report_progress(self, received: int, _total: int | None) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.signals.progress.emit(self.entry.key, received)

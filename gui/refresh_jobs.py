"""The refresh job: one QRunnable per image, told everything it needs in its constructor."""

from __future__ import annotations

import time
from concurrent.futures import Future

from PySide6.QtCore import QObject, QRunnable, Signal

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.models import ImageEntry, RefreshMode, RefreshRequest, RefreshResult
from gui.thumbnails import TABLE_EDGE

PROGRESS_INTERVAL = 0.1


class RefreshSignals(QObject):
    started = Signal(str)  # key
    progress = Signal(str, int)  # key, bytes received
    finished = Signal(str, object)  # key, RefreshResult


class RefreshJob(QRunnable):
    """Refreshes one image through the core and reports through `signals`; never touches widgets.

    `force_refresh` is a plain value fixed at construction and passed as-is to the core. The
    job hands its request to the cache's executor and returns: its pool thread is not held while
    the download runs, and the result is reported from the executor's thread the moment it ends.
    """

    def __init__(
        self,
        cache: ImageCache,
        entry: ImageEntry,
        *,
        force_refresh: bool,
        check: bool = False,
        cancel: Cancellation,
        allow_placeholder: bool = False,
        revert: bool = False,
    ) -> None:
        """`allow_placeholder`, `revert`: the safety net's (gui.safety_net)."""
        super().__init__()
        self.cache = cache
        self.force_refresh = force_refresh
        mode = RefreshMode.REVERT if revert else RefreshMode.from_flags(force_refresh, check)
        self.request = RefreshRequest(
            entry, mode, thumbnail_edge=TABLE_EDGE, allow_placeholder=allow_placeholder
        )
        self.cancel = cancel
        self.signals = RefreshSignals()
        self._last_progress = 0.0

    def run(self) -> None:
        self.signals.started.emit(self.request.key)
        future = self.cache.submit(self.request, cancel=self.cancel, progress=self._report_progress)
        future.add_done_callback(self._report_result)

    def _report_result(self, future: Future[RefreshResult]) -> None:
        self.signals.finished.emit(self.request.key, future.result())

    def _report_progress(self, received: int, _total: int | None) -> None:
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL:
            self._last_progress = now
            self.signals.progress.emit(self.request.key, received)

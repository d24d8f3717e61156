"""The window's one helper for background work: run a plain function on a thread pool, get its
outcome back on the GUI thread (in the spirit of Anki's `run_in_background(task, on_done)`).

Calls are plain functions, so a worker never touches a widget; the outcome crosses threads as
one queued signal of the runner itself, which lives on the GUI thread as long as the window, so
nothing per call has to be kept alive until it reports.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)

OnDone = Callable[[Any], None]
OnFailed = Callable[[str], None]


class TaskRunner(QObject):
    """Runs functions on `threads` threads; `on_done(result)` or `on_failed(message)` follow on
    the GUI thread, in the order the calls end."""

    _ended = Signal(int, bool, object)  # call id, ok, result or message

    def __init__(self, threads: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._ids = itertools.count()
        self._callbacks: dict[int, tuple[OnDone, OnFailed]] = {}
        self._ended.connect(self._deliver)

    def run(
        self,
        task: Callable[[], Any],
        on_done: OnDone,
        on_failed: OnFailed | None = None,
    ) -> None:
        call_id = next(self._ids)
        self._callbacks[call_id] = (on_done, on_failed or _log_failure)

        def call() -> None:
            try:
                result = task()
            except Exception as error:  # reported to the user, never raised into Qt's thread
                log.exception("background task failed")
                self._ended.emit(call_id, False, str(error) or type(error).__name__)
            else:
                self._ended.emit(call_id, True, result)

        self._pool.start(call)

    def is_busy(self) -> bool:
        return bool(self._callbacks)

    def max_threads(self) -> int:
        return self._pool.maxThreadCount()

    def wait_for_done(self, timeout_ms: int = -1) -> bool:
        return self._pool.waitForDone(timeout_ms)

    @Slot(int, bool, object)
    def _deliver(self, call_id: int, ok: bool, outcome: Any) -> None:
        on_done, on_failed = self._callbacks.pop(call_id)
        if ok:
            on_done(outcome)
        else:
            on_failed(outcome)


def _log_failure(message: str) -> None:
    log.warning("background task failed: %s", message)

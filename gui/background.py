"""Run a plain function on a thread pool and get its result back on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _CallSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class BackgroundCall(QRunnable):
    """Calls `function()` off the GUI thread; `done(result)` or `failed(message)` follow."""

    def __init__(self, function: Callable[[], Any]) -> None:
        super().__init__()
        self._function = function
        self.signals = _CallSignals()

    def run(self) -> None:
        try:
            result = self._function()
        except Exception as error:  # reported to the user, never raised into Qt's thread
            log.exception("background task failed")
            self.signals.failed.emit(str(error) or type(error).__name__)
        else:
            self.signals.done.emit(result)


class BackgroundRunner(QObject):
    """Keeps each call alive until it reports, then hands its result to the callbacks."""

    def __init__(self, pool: QThreadPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._alive: set[BackgroundCall] = set()

    def run(
        self,
        function: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
    ) -> None:
        call = BackgroundCall(function)
        call.setAutoDelete(False)
        self._alive.add(call)

        def finished_with(callback: Callable[[Any], None]) -> Callable[[Any], None]:
            def deliver(value: Any) -> None:
                self._alive.discard(call)
                callback(value)

            return deliver

        call.signals.done.connect(finished_with(on_done))
        call.signals.failed.connect(finished_with(on_failed))
        self._pool.start(call)

    def is_busy(self) -> bool:
        return bool(self._alive)

"""Download slots: at most `limit` downloads of one cache at a time, like curl's --parallel-max.

A refresh holds a slot only while its response arrives. It gives the slot back as soon as the
body is received, and is then validated, flushed to disk and installed outside any slot, so
the next download starts at once instead of waiting behind that work. The callers therefore run
a few more threads than slots (see `core.settings.finishing_thread_count`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

_CANCEL_POLL = 0.05  # how often a refresh waiting for a slot looks at its cancel event


class DownloadSlots:
    """A counting limit on concurrent downloads that can be resized while refreshes run."""

    def __init__(self, limit: int) -> None:
        self._changed = threading.Condition()
        self._limit = self._checked(limit)
        self._busy = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def busy(self) -> int:
        return self._busy

    def set_limit(self, limit: int) -> None:
        """Takes effect for the next slot handed out; running downloads are not stopped."""
        with self._changed:
            self._limit = self._checked(limit)
            self._changed.notify_all()

    @contextlib.contextmanager
    def slot(self, cancel: threading.Event | None = None) -> Iterator[Callable[[], None]]:
        """Wait for a slot; yield the function that gives it back early (it is given back on
        exit anyway). A cancel while waiting yields without a slot: the refresh makes no request.
        """
        acquired = self._acquire(cancel)
        released = not acquired
        release_lock = threading.Lock()

        def release() -> None:
            nonlocal released
            with release_lock:
                if released:
                    return
                released = True
            with self._changed:
                self._busy -= 1
                self._changed.notify()

        try:
            yield release
        finally:
            release()

    def _acquire(self, cancel: threading.Event | None) -> bool:
        with self._changed:
            while self._busy >= self._limit:
                if cancel is not None and cancel.is_set():
                    return False
                self._changed.wait(_CANCEL_POLL if cancel is not None else None)
            self._busy += 1
            return True

    @staticmethod
    def _checked(limit: int) -> int:
        if limit < 1:
            raise ValueError("at least one download slot is needed")
        return limit

"""A cancel flag that wakes whatever waits on it, so no wait has to poll it."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

Unsubscribe = Callable[[], None]


class Cancellation:
    """Set once, by anyone; each wait that may take long subscribes how to end itself.

    A download blocked in a read shuts its socket down, a refresh waiting for a download slot is
    woken, a refresh in a worker process is told by a message: each on the thread that cancels,
    the moment it cancels.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._ids = itertools.count()

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = list(self._callbacks.values()), {}
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one waiter's trouble must not keep the others waiting
                log.exception("a cancel callback failed")

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until cancelled or `timeout` passes; True when cancelled."""
        return self._event.wait(timeout)

    def subscribe(self, callback: Callable[[], None]) -> Unsubscribe:
        """Call `callback` when cancelled (at once if it already is); returns the undo."""
        with self._lock:
            if not self._event.is_set():
                token = next(self._ids)
                self._callbacks[token] = callback
                return lambda: self._forget(token)
        callback()
        return lambda: None

    @contextlib.contextmanager
    def on_cancel(self, callback: Callable[[], None]) -> Iterator[None]:
        """`callback` is called if the cancel comes while the block runs."""
        unsubscribe = self.subscribe(callback)
        try:
            yield
        finally:
            unsubscribe()

    def _forget(self, token: int) -> None:
        with self._lock:
            self._callbacks.pop(token, None)

"""One thread that calls functions when their time comes, instead of a timer thread each."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

Undo = Callable[[], None]


class Deadlines:
    """`call_at(when, function)` on time.monotonic()'s clock; the undo drops the call."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._changed = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def call_at(self, when: float, function: Callable[[], None]) -> Undo:
        slot: list[Callable[[], None] | None] = [function]
        with self._changed:
            heapq.heappush(self._due, (when, next(self._order), slot))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()
        return lambda: slot.__setitem__(0, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][2][0] is None:
                    if self._due:
                        heapq.heappop(self._due)  # undone: nothing to call
                    else:
                        self._changed.wait()
                when, _, slot = self._due[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._due)
                function = slot[0]
            if function is not None:
                function()


deadlines = Deadlines()

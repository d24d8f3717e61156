"""One thread that calls functions when their time comes, instead of a timer thread each."""

from __future__ import annotations

import heapq
import itertools
import math
import os
import threading
import time
from collections.abc import Callable

Undo = Callable[[], None]

IDLE_WAKE = 60.0  # seconds: how long the thread sleeps with nothing due


class Deadlines:
    """`call_at(when, function)` on time.monotonic()'s clock; the undo drops the call.

    Every download adds a deadline and drops it when done, a thousand a second: the thread is
    woken only for a call due before the time it already sleeps until, so calls that share one
    time limit, which come in order, never wake it.
    """

    def __init__(self) -> None:
        self._order = itertools.count()
        self._start_over()

    def _start_over(self) -> None:
        """No calls due and no thread yet: as made, or in a forked child (core.worker_processes),
        which has a copy of the parent's calls and lock but not its thread."""
        self._due: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the thread looks again at what is due

    def call_at(self, when: float, function: Callable[[], None]) -> Undo:
        slot: list[Callable[[], None] | None] = [function]
        with self._changed:
            while self._due and self._due[0][2][0] is None:
                heapq.heappop(self._due)  # undone: nothing to call
            heapq.heappush(self._due, (when, next(self._order), slot))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            if when < self._wakes_at:
                self._wakes_at = when
                self._changed.notify()
        return lambda: slot.__setitem__(0, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                while self._due and self._due[0][2][0] is None:
                    heapq.heappop(self._due)
                now = time.monotonic()
                if not self._due or self._due[0][0] > now:
                    self._wakes_at = self._due[0][0] if self._due else now + IDLE_WAKE
                    self._changed.wait(self._wakes_at - now)
                    continue
                _, _, slot = heapq.heappop(self._due)
                function = slot[0]
            if function is not None:
                function()


deadlines = Deadlines()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=deadlines._start_over)

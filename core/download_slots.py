"""Download slots: at most `limit` downloads at a time, like curl's --parallel-max.

A refresh holds a slot only while its response arrives. It prepares first (locks the image,
reads the manifest, hashes the old file) without one, and gives the slot back as soon as the body
is received: it is then validated, flushed to disk and installed outside any slot, so the next
download starts at once instead of waiting behind that work. The executor therefore runs a few
more threads than slots (see `core.settings.finishing_thread_count`). The limit is fixed for the
life of an open cache; with worker processes each worker holds a fixed share of it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol

from core.cancellation import Cancellation


class DownloadGate(Protocol):
    """What one refresh calls around its request (see `Refresher.refresh`)."""

    def wait(self) -> bool:
        """Block until this refresh may download; False when it was cancelled meanwhile."""
        ...

    def done(self) -> None:
        """The response has arrived (or failed): the slot is free for the next download."""
        ...


class DownloadSlots:
    """A counting limit on concurrent downloads whose waits end at once on a cancel."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one download slot is needed")
        self.limit = limit
        self._changed = threading.Condition()
        self._busy = 0

    @contextlib.contextmanager
    def gate(self, cancel: Cancellation | None = None) -> Iterator[SlotGate]:
        """The gate of one refresh; a slot it still holds on exit is given back."""
        gate = SlotGate(self, cancel)
        try:
            yield gate
        finally:
            gate.done()

    def take(self, cancel: Cancellation | None) -> bool:
        """Wait for a free slot and take it; False, without one, once `cancel` is set."""

        def stopped() -> bool:
            return cancel is not None and cancel.is_set()

        with self._wake_on(cancel), self._changed:
            self._changed.wait_for(lambda: stopped() or self._busy < self.limit)
            if stopped():
                return False
            self._busy += 1
            return True

    def give_back(self) -> None:
        with self._changed:
            self._busy -= 1
            # Every waiter: the one woken may have been cancelled, and then must not be the
            # only one to hear of the free slot.
            self._changed.notify_all()

    def _wake_on(self, cancel: Cancellation | None) -> contextlib.AbstractContextManager[None]:
        if cancel is None:
            return contextlib.nullcontext()
        return cancel.on_cancel(self._wake_all)

    def _wake_all(self) -> None:
        with self._changed:
            self._changed.notify_all()


class SlotGate:
    """A DownloadGate that takes one of `slots`, on the thread of its refresh."""

    def __init__(self, slots: DownloadSlots, cancel: Cancellation | None) -> None:
        self._slots = slots
        self._cancel = cancel
        self._held = False

    def wait(self) -> bool:
        self._held = self._slots.take(self._cancel)
        return self._held

    def done(self) -> None:
        held, self._held = self._held, False
        if held:
            self._slots.give_back()

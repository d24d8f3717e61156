"""The one deadline thread: calls come on time, in order of their time, and undone ones never."""

from __future__ import annotations

import threading
import time

from core.deadlines import Deadlines


def test_an_earlier_call_added_after_later_ones_still_comes_first() -> None:
    deadlines = Deadlines()
    made: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    deadlines.call_at(now + 300, lambda: made.append("late"))
    deadlines.call_at(now + 200, lambda: made.append("later"))
    deadlines.call_at(now + 0.05, lambda: (made.append("soon"), done.set()))

    assert done.wait(5)
    assert made == ["soon"]


def test_calls_come_in_order_of_their_time_and_undone_ones_never() -> None:
    deadlines = Deadlines()
    made: list[int] = []
    last = threading.Event()
    now = time.monotonic()
    undo = deadlines.call_at(now + 0.02, lambda: made.append(0))
    deadlines.call_at(now + 0.06, lambda: made.append(2))
    deadlines.call_at(now + 0.04, lambda: made.append(1))
    deadlines.call_at(now + 0.08, last.set)
    undo()

    assert last.wait(5)
    assert made == [1, 2]

"""The open cache's rows are out of the cycle collector's full passes, which otherwise stall the
GUI thread for 25-35 ms at random moments of a batch (measured with `make bench`)."""

from __future__ import annotations

import gc

from tests.gui.helpers import WindowFactory


def test_opening_a_cache_freezes_its_rows_for_the_collector(open_window: WindowFactory) -> None:
    gc.unfreeze()  # whatever earlier tests froze

    opened = open_window(3)

    rows = opened.window.model.rows()
    assert rows and all(gc.is_tracked(row) for row in rows)
    tracked = {id(o) for o in gc.get_objects()}  # every generation but the frozen one
    assert not any(id(row) in tracked for row in rows)
    assert gc.get_freeze_count() >= len(rows)

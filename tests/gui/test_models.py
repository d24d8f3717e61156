"""Every custom model passes Qt's model tester, attached before the model is driven."""

from __future__ import annotations

import logging
from dataclasses import replace

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from gui.image_model import Column
from gui.log_pane import MAX_RECORDS, LevelFilter, LogLine, LogModel
from gui.rows import RowState
from tests.gui.helpers import WindowFactory


def test_image_model_and_filter_proxy_pass_the_model_tester(
    qtbot: QtBot, qtmodeltester: ModelTester, open_window: WindowFactory
) -> None:
    opened = open_window(4)
    window = opened.window
    qtmodeltester.check(window.model)
    qtmodeltester.check(window.proxy)

    window.proxy.set_search("image-1")
    assert window.proxy.rowCount() == 1
    window.proxy.set_search("")
    window.proxy.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    window.model.set_state(opened.urls[:2], RowState.QUEUED)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(opened.urls[0]).entry], force_refresh=True)
    window.model.remove_keys(opened.urls[1:2])
    window.model.set_rows(window.model.rows())
    renamed = replace(
        opened.row(opened.urls[2]),
        entry=replace(opened.row(opened.urls[2]).entry, url=f"{opened.urls[2]}?v=2"),
    )  # a source URL set by hand: the row is known by its new key
    window.model.replace_row(opened.urls[2], renamed)

    assert window.model.rowCount() == 3
    assert window.proxy.rowCount() == 3
    assert window.model.row_for_key(opened.urls[2]) is None
    assert window.model.row_for_key(renamed.key) == renamed


def test_log_model_and_level_filter_pass_the_model_tester(qtmodeltester: ModelTester) -> None:
    model = LogModel()
    levels = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]
    for number in range(12):
        model.append(LogLine(levels[number % 4], f"line {number}"))
    model.flush()
    level_filter = LevelFilter()
    level_filter.setSourceModel(model)
    qtmodeltester.check(model)
    qtmodeltester.check(level_filter)

    level_filter.set_minimum(logging.WARNING)
    assert level_filter.rowCount() == 6
    for number in range(MAX_RECORDS):  # overflow: the oldest lines are dropped in one go
        model.append(LogLine(logging.ERROR, f"more {number}"))
    model.flush()
    level_filter.set_minimum(logging.DEBUG)

    assert model.rowCount() == MAX_RECORDS
    assert model.index(0, 0).data() == "more 0"
    assert model.index(MAX_RECORDS - 1, 0).data() == f"more {MAX_RECORDS - 1}"
    assert level_filter.rowCount() == MAX_RECORDS

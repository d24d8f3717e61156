"""The log pane shows the core's refresh records live; it survives being deleted mid-update."""

from __future__ import annotations

import logging
import re

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from pytestqt.qtbot import QtBot

from gui.log_pane import LogDock, LogLine
from tests.gui.helpers import WindowFactory


def test_a_force_refresh_is_logged_in_the_log_pane(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened = open_window(1)
    window = opened.window
    (url,) = opened.urls
    dock = window.log_dock

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(url).entry], force_refresh=True)
    qtbot.waitUntil(lambda: any("after_mtime" in line.text for line in dock.model.lines()))

    text = "\n".join(line.text for line in dock.model.lines())
    # one line per refresh holds every step: the flag, the download, the deletion, the mtimes
    assert f"refreshed {url} force_refresh=True mode=force: status=200 bytes=" in text
    # Times a person reads, not POSIX seconds: "after_mtime=2026-11-30 02:33:11.358".
    assert re.search(r"after_mtime=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\b", text)
    assert not re.search(r"mtime[= ]\d{9,}\.\d", text), text
    assert "previous file deleted" in text
    shown = dock.filter.rowCount()
    dock.level.setCurrentText("Warnings")
    assert dock.filter.rowCount() < shown


def test_deleting_the_dock_right_after_new_lines_is_safe(qtbot: QtBot) -> None:
    dock = LogDock()
    dock.model.append(LogLine(logging.INFO, "one line"))
    dock.model.flush()  # rows inserted: the view is asked to follow them on the next turn
    assert dock.model.rowCount() == 1

    dock.detach()
    dock.deleteLater()
    QCoreApplication.sendPostedEvents(dock, QEvent.Type.DeferredDelete)  # before the next turn
    assert not shiboken6.isValid(dock)
    QCoreApplication.processEvents()  # a pending call into the dead view would raise here

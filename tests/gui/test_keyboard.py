"""The keyboard contract: Ctrl+A selects all, Ctrl+Shift+R / Ctrl+F5 force-refresh, F5 refreshes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Action
from gui.rows import RowState
from tests.gui.helpers import WindowFactory, show_active
from tests.server import LoopbackServer

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.mark.parametrize(
    ("key", "modifiers"),
    [(Qt.Key.Key_R, CTRL | SHIFT), (Qt.Key.Key_F5, CTRL)],
    ids=["ctrl-shift-r", "ctrl-f5"],
)
def test_select_all_then_force_refresh_shortcut_refreshes_every_row(
    qtbot: QtBot, open_window: WindowFactory, key: Qt.Key, modifiers: Qt.KeyboardModifier
) -> None:
    opened = open_window(5)
    window = opened.window
    before = opened.snapshot()
    show_active(qtbot, window)

    qtbot.keyClick(window.table, Qt.Key.Key_A, CTRL)
    assert len(window.selected_rows()) == 5
    with qtbot.waitSignal(window.controller.batch_finished, timeout=15_000) as finished:
        qtbot.keyClick(window.table, key, modifiers)

    batch = finished.args[0]
    assert (batch.total, batch.failed, batch.cancelled) == (5, 0, 0)
    after = opened.snapshot()
    for url in opened.urls:
        assert after[url][0] > before[url][0], url
        row = opened.row(url)
        assert row.state is RowState.DONE
        assert row.result is not None and row.result.action is Action.REFRESHED
        assert row.result.force_refresh is True
        assert row.file is not None and row.file.mtime == after[url][0]


def test_f5_downloads_only_the_missing_files(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    opened = open_window(3)
    window = opened.window
    missing, *present = opened.urls
    opened.paths[missing].unlink()
    before = {url: opened.paths[url].stat().st_mtime for url in present}
    requests_before = len(server.seen)
    show_active(qtbot, window)

    qtbot.keyClick(window.table, Qt.Key.Key_A, CTRL)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=15_000):
        qtbot.keyClick(window.table, Qt.Key.Key_F5)

    assert [request.path for request in server.seen[requests_before:]] == [urlsplit(missing).path]
    assert opened.paths[missing].exists()
    assert opened.row(missing).result.action is Action.DOWNLOADED
    for url in present:
        assert opened.paths[url].stat().st_mtime == before[url]
        assert opened.row(url).result.action is Action.CACHED

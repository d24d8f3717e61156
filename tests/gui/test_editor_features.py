"""What editors asked for next: show only failed / changed / not refreshed rows, retry the
failed ones, a large preview on double-click, adjustable grid thumbnails."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from core.models import Action, RefreshMode
from gui.filter_proxy import StatusFilter
from gui.grid_delegate import GRID_EDGES, tile_size
from gui.image_model import Column, Role
from gui.main_window import MainWindow
from gui.preview import LARGE_EDGE, PreviewDialog
from gui.thumbnails import GRID_EDGE
from tests.gui.helpers import WindowFactory, show_active
from tests.server import image, jpeg_bytes, send, sequence

CTRL = Qt.KeyboardModifier.ControlModifier


def shown_keys(window: MainWindow) -> set[str]:
    proxy = window.proxy
    return {proxy.index(r, Column.NAME).data(Role.ROW).key for r in range(proxy.rowCount())}


def filter_texts(window: MainWindow) -> list[str]:
    return [window.status_filter.itemText(i) for i in range(window.status_filter.count())]


@pytest.mark.warnings_expected  # a failed refresh logs a WARNING
def test_filters_show_failed_changed_and_not_refreshed_rows_and_retry_fixes_the_failed(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened = open_window(
        {
            "/events/flaky.jpg": sequence(
                image(jpeg_bytes((200, 0, 0))),
                send(404, b"gone for now", "text/plain"),
                image(jpeg_bytes((0, 0, 200))),
            ),
            "/events/changes.jpg": sequence(
                image(jpeg_bytes((0, 200, 0))), image(jpeg_bytes((200, 200, 0)))
            ),
            "/events/untouched.jpg": image(jpeg_bytes()),
        }
    )
    window = opened.window
    flaky, changes, untouched = opened.urls
    with qtbot.waitSignal(window.controller.batch_finished, timeout=20_000):
        window.refresh_entries(
            [opened.row(flaky).entry, opened.row(changes).entry], force_refresh=True
        )
    counted = ["All images", "Failed (1)", "Changed (1)", "Not refreshed yet (1)"]
    qtbot.waitUntil(lambda: filter_texts(window) == counted)  # counted a moment later

    expected = {
        StatusFilter.FAILED: {flaky},
        StatusFilter.CHANGED: {changes},
        StatusFilter.NOT_REFRESHED: {untouched},
        StatusFilter.ALL: {flaky, changes, untouched},
    }
    for status, keys in expected.items():
        window.show_status(status)
        assert shown_keys(window) == keys, status
    window.failures_button.click()  # the status bar's "1 failed" shows them
    assert window.proxy.status() is StatusFilter.FAILED

    with qtbot.waitSignal(window.controller.batch_finished, timeout=20_000) as retried:
        assert window.retry_failed() == [flaky]
    assert retried.args[0].failed == 0
    result = opened.row(flaky).result
    assert result is not None and result.action is Action.REFRESHED
    assert result.mode is RefreshMode.FORCE  # tried again as it was asked the first time
    qtbot.waitUntil(window.failures_button.isHidden)
    assert shown_keys(window) == set()  # nothing failed any more


def test_double_click_opens_a_large_preview(qtbot: QtBot, open_window: WindowFactory) -> None:
    opened = open_window({"/venues/hall.jpg": image(jpeg_bytes(size=(1600, 1000)))})
    window = opened.window
    (url,) = opened.urls
    show_active(qtbot, window)
    index = window.proxy.mapFromSource(window.model.index_for_key(url, Column.NAME))
    point = window.table.visualRect(index).center()

    qtbot.mouseClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseDClick(window.table.viewport(), Qt.MouseButton.LeftButton, pos=point)

    (dialog,) = window.findChildren(PreviewDialog)
    qtbot.waitUntil(lambda: dialog.picture.shown_rect().width() > 500)
    assert dialog.windowTitle().startswith("hall.jpg")
    assert dialog.picture.shown_rect().width() <= LARGE_EDGE
    dialog.close()


def test_grid_thumbnails_grow_and_shrink_and_the_size_is_kept(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    window = open_window(2).window
    show_active(qtbot, window)
    window.set_view("grid")
    assert window.grid_delegate.edge == GRID_EDGE

    qtbot.keyClick(window.grid, Qt.Key.Key_Plus, CTRL)
    bigger = GRID_EDGES[GRID_EDGES.index(GRID_EDGE) + 1]
    assert window.grid_delegate.edge == bigger
    assert window.grid.gridSize() == tile_size(bigger)
    assert window.thumbnail_size.value() == GRID_EDGES.index(bigger)
    window.thumbnail_size.setValue(0)
    assert window.grid_delegate.edge == GRID_EDGES[0]
    assert not window.commands.smaller_thumbnails.isEnabled()

    again = MainWindow()  # the same (test) settings: the size is remembered
    assert again.grid_delegate.edge == GRID_EDGES[0]
    again.close()

"""The grid shows the name column's items: a thumbnail decoded later must be announced for that
column too, or the grid never repaints its tiles (issue 11, point 1; test_real_window.py shows
it on a real screen)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from core.models import RefreshMode
from gui.thumbnails import GRID_EDGE
from tests.gui.helpers import WindowFactory


def test_a_decoded_thumbnail_and_a_refreshed_one_repaint_their_grid_tile(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened = open_window(2)
    window = opened.window
    window.set_view("grid")
    url = opened.urls[1]
    grid_column = window.grid.modelColumn()

    def covers_the_tile(top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> bool:
        tile = window.proxy.mapFromSource(window.model.index_for_key(url)).row()
        return top.row() <= tile <= bottom.row() and top.column() <= grid_column <= bottom.column()

    def request_grid_thumbnail() -> None:
        row = opened.row(url)
        assert row.thumbnail_key is not None
        window.thumbnails.request((*row.thumbnail_key, GRID_EDGE))  # the default size

    with qtbot.waitSignal(window.proxy.dataChanged, check_params_cb=covers_the_tile):
        request_grid_thumbnail()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.controller.start(window.cache, [opened.row(url).entry], RefreshMode.FORCE)
    with qtbot.waitSignal(window.proxy.dataChanged, check_params_cb=covers_the_tile):
        request_grid_thumbnail()  # the new file's picture, decoded for the grid

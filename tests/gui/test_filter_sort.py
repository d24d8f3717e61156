"""The search box and the category list narrow the rows; Size and Modified sort by value."""

from __future__ import annotations

import io
import os
import random

from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from gui.image_model import Column
from gui.main_window import MainWindow
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.server import image

NAMES = {  # URL path -> edge of a noisy JPEG (the bigger, the more bytes)
    "/events/jazz-night.jpg": 12,
    "/events/book-fair.jpg": 90,
    "/events/gala.jpg": 40,
    "/venues/grand-hall.jpg": 60,
    "/venues/jazz-cellar.jpg": 25,
}


def noisy_jpeg(edge: int) -> bytes:
    pixels = random.Random(edge).randbytes(edge * edge * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (edge, edge), pixels).save(out, "JPEG", quality=95)
    return out.getvalue()


def shown_names(window: MainWindow) -> list[str]:
    proxy = window.proxy
    return [proxy.index(r, Column.NAME).data().split("-")[0] for r in range(proxy.rowCount())]


def shown_column(window: MainWindow, column: Column) -> list[str]:
    return [window.proxy.index(r, column).data() for r in range(window.proxy.rowCount())]


def size_text(window: MainWindow, key: str) -> str:
    return str(window.model.index_for_key(key, Column.SIZE).data())


def open_named(open_window: WindowFactory) -> OpenedWindow:
    return open_window({path: image(noisy_jpeg(edge)) for path, edge in NAMES.items()})


def choose_category(window: MainWindow, name: str | None) -> None:
    model = window.categories
    (row,) = [
        r for r in range(model.rowCount()) if model.item(r).data(Qt.ItemDataRole.UserRole) == name
    ]
    window.category_view.setCurrentIndex(model.index(row, 0))


def test_search_and_category_narrow_the_rows(qtbot: QtBot, open_window: WindowFactory) -> None:
    window = open_named(open_window).window
    assert window.proxy.rowCount() == 5

    qtbot.keyClicks(window.search, "JAZZ")
    assert sorted(shown_names(window)) == ["jazz", "jazz"]
    qtbot.keyClicks(window.search, " venues")  # every word, in the name or the URL
    assert shown_names(window) == ["jazz"]
    assert shown_column(window, Column.CATEGORY) == ["venues"]
    assert window.count_label.text() == "1 of 5 images shown"

    window.search.clear()
    choose_category(window, "events")
    assert sorted(shown_column(window, Column.CATEGORY)) == ["events"] * 3
    qtbot.keyClicks(window.search, "jazz")
    assert shown_column(window, Column.NAME) == ["jazz-night.jpg"]

    window.search.clear()
    choose_category(window, None)  # "All images"
    assert window.proxy.rowCount() == 5


def test_size_and_modified_columns_sort_by_value(qtbot: QtBot, open_window: WindowFactory) -> None:
    opened = open_named(open_window)
    window = opened.window
    # Distinct mtimes, in an order unrelated to the names and the sizes; reopen to read them.
    for hours, path in zip((5, 1, 4, 2, 3), opened.paths.values(), strict=True):
        stamp = path.stat().st_mtime - hours * 3600
        os.utime(path, (stamp, stamp))
    with qtbot.waitSignal(window.cache_opened, timeout=10_000):
        window.open_cache(opened.cache_dir)
    rows = window.model.rows()
    by_size = [row.name for row in sorted(rows, key=lambda row: row.file.size)]
    by_mtime = [row.name for row in sorted(rows, key=lambda row: row.file.mtime)]
    as_text = [row.name for row in sorted(rows, key=lambda row: size_text(window, row.key))]
    assert by_size != as_text  # "600 B" > "24.3 KB" as text: only the sort role gets it right
    assert by_mtime != by_size

    window.table.sortByColumn(Column.SIZE, Qt.SortOrder.AscendingOrder)
    assert shown_column(window, Column.NAME) == by_size
    window.table.sortByColumn(Column.SIZE, Qt.SortOrder.DescendingOrder)
    assert shown_column(window, Column.NAME) == by_size[::-1]
    window.table.sortByColumn(Column.MODIFIED, Qt.SortOrder.AscendingOrder)
    assert shown_column(window, Column.NAME) == by_mtime
    window.table.sortByColumn(Column.MODIFIED, Qt.SortOrder.DescendingOrder)
    assert shown_column(window, Column.NAME) == by_mtime[::-1]

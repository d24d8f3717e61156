"""Images are shown by the name people know them by, with their source beside it: the cache's
hash suffix stays out of the way, and two files of the same name are told apart."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from pytestqt.qtbot import QtBot

from gui.cell_paint import PADDING
from gui.grid_delegate import tile_size
from gui.image_model import Column, Role
from gui.main_window import MainWindow
from gui.names import shown_name, source_of
from tests.gui.helpers import WindowFactory
from tests.server import LoopbackServer, image, jpeg_bytes

COMEDIAN = "/performers/comedian-lee-park.jpg"
GOLD_A = "/performers/summer-tour/performer-gold.jpg"
GOLD_B = "/performers/winter-tour/performer-gold.jpg"


def cell_lines(window: MainWindow, url: str) -> tuple[str, str]:
    """The name cell's two lines as the table shows them at its column's width."""
    index = window.model.index_for_key(url, Column.NAME)
    width = window.table.columnWidth(Column.NAME) - 2 * PADDING
    metrics = QFontMetrics(window.table.font())
    return (
        metrics.elidedText(index.data(), Qt.TextElideMode.ElideMiddle, width),
        metrics.elidedText(index.data(Role.DETAIL), Qt.TextElideMode.ElideMiddle, width),
    )


def test_rows_show_the_readable_name_whole_and_the_source_that_tells_them_apart(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    """Issue 11, point 5: the table cut the end of `comedian-lee-park-b5ecd34c8e…`, the grid
    its middle, and two `performer-gold-…` rows could not be told apart."""
    opened = open_window(
        {
            path: image(jpeg_bytes((40 * n, 90, 200)))
            for n, path in enumerate((COMEDIAN, GOLD_A, GOLD_B))
        }
    )
    window = opened.window
    comedian, gold_a, gold_b = opened.urls

    name, source = cell_lines(window, comedian)
    assert name == "comedian-lee-park.jpg"
    assert source.endswith("/performers")
    tile_text = tile_size(window.grid_delegate.edge).width() - 8
    assert QFontMetrics(window.grid.font()).horizontalAdvance(name) <= tile_text  # the grid too

    first, second = cell_lines(window, gold_a), cell_lines(window, gold_b)
    assert first[0] == second[0] == "performer-gold.jpg"
    assert first != second, "two rows look the same"
    assert "summer-tour" in first[1] and "winter-tour" in second[1]

    tooltip = window.model.index_for_key(gold_a, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert gold_a in tooltip and str(opened.paths[gold_a]) in tooltip
    window.search.setText("winter-tour")  # the source is searched too
    assert window.proxy.rowCount() == 1


def test_shown_name_without_a_url_drops_the_cache_suffix() -> None:
    stored = Path("/cache/venues/grand-hall-0123456789abcdef.jpg")
    assert shown_name(None, stored) == "grand-hall.jpg"
    assert shown_name(None, Path("/adopted/uploads/original_hall.jpg")) == "original_hall.jpg"
    assert shown_name("https://cdn.test/a/Grand%20Hall.webp?w=800", stored) == "Grand Hall.webp"
    assert shown_name("https://cdn.test/", stored) == "cdn.test"
    assert source_of("https://cdn.test/a/b.jpg?w=800") == "cdn.test/a/?w=800"
    assert source_of(None) == "found on disk, no source URL"


def test_a_secret_in_the_url_shows_as_stars_in_the_window(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    """The source line shows the query (it may be all that tells two URLs apart): a key or a
    signature in it is `***` there, as everywhere a URL is shown (contract v2)."""
    window = open_window(1).window
    url = server.route("/venues/hall.jpg", image(jpeg_bytes())) + "?token=s3cr3t&w=800"
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.add_urls([url], "venues")  # selected once added: the details pane shows it
    name = window.model.index_for_key(url, Column.NAME)
    shown = [
        name.data(Role.DETAIL),
        name.data(Qt.ItemDataRole.ToolTipRole),
        window.model.index_for_key(url, Column.URL).data(),
        window.details.fields["URL"].toPlainText(),
    ]
    for text in shown:
        assert "s3cr3t" not in text and "token=***" in text, text

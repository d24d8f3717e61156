"""A force refresh that fails keeps the old file and its mtime, and the row says why, readably:
"✖ failed, old file kept" over the reason, in red even on a selected row."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QFontMetrics
from pytestqt.qtbot import QtBot

from core.models import FailureReason
from gui.cell_paint import BADGE, PADDING, wrapped_lines
from gui.image_model import Column, Role
from gui.main_window import MainWindow
from gui.result_text import full_time
from gui.rows import RowState
from tests.gui.helpers import WindowFactory
from tests.server import LoopbackServer, Responder, image, jpeg_bytes, send, sequence

HTML = b"<!doctype html><html><body>Oops, an error page</body></html>"
HTML_REASON = "the server sent an HTML page, not an image"


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@pytest.mark.parametrize(
    ("second_answer", "reason", "sentence"),
    [
        (send(404, HTML, "text/html"), FailureReason.HTTP_STATUS, "the server answered HTTP 404"),
        # an HTML error page served with a 200
        (send(200, HTML, "text/html"), FailureReason.NOT_AN_IMAGE, HTML_REASON),
    ],
    ids=["404", "html-200"],
)
def test_failed_force_refresh_keeps_the_old_file_and_shows_the_reason(
    qtbot: QtBot,
    open_window: WindowFactory,
    second_answer: Responder,
    reason: FailureReason,
    sentence: str,
) -> None:
    opened = open_window({"/venues/hall.jpg": sequence(image(jpeg_bytes()), second_answer)})
    window = opened.window
    (url,) = opened.urls
    before = opened.snapshot()
    row_before = opened.row(url)
    assert row_before.file is not None

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([row_before.entry], force_refresh=True)

    assert opened.snapshot() == before  # same bytes, same mtime on disk
    row = opened.row(url)
    assert row.state is RowState.FAILED
    assert row.file is not None
    assert row.file.mtime == row_before.file.mtime
    assert row.result is not None and row.result.reason is reason
    index = window.model.index_for_key(url, Column.RESULT)
    assert index.data() == "✖ failed, old file kept"
    assert index.data(Role.DETAIL) == row.result.error
    assert row.result.error.startswith(sentence)
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == (
        f"✖ failed, old file kept: {row.result.error}"
    )
    tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert f"reason: {row.result.error}" in tooltip
    assert "previous file was kept" in tooltip
    assert window.model.index_for_key(url, Column.MODIFIED).data() == full_time(before[url][0])


def reason_shown(window: MainWindow, text: str) -> str:
    """The reason as the table's cell shows it: wrapped on its two lines, the rest elided."""
    width = window.table.columnWidth(Column.RESULT) - 2 * PADDING - BADGE - 6
    return " ".join(wrapped_lines(text, window.table.font(), width, 2))


def red_pixels(window: MainWindow, url: str) -> int:
    index = window.proxy.mapFromSource(window.model.index_for_key(url, Column.RESULT))
    picture = window.table.viewport().grab(window.table.visualRect(index)).toImage()
    return sum(
        1
        for x in range(picture.width())
        for y in range(picture.height())
        if (colour := picture.pixelColor(x, y)).red() > 150
        and colour.green() < 100
        and colour.blue() < 100
    )


@pytest.mark.warnings_expected
def test_a_failed_first_download_reads_plainly_and_stays_red_when_selected(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    """Issue 11, point 4: "✖ failed, kept —: the server sent an HTML page, no…" read badly:
    a cryptic "kept —", the reason cut, and no red left on a selected row."""
    opened = open_window(1)
    window = opened.window
    window.resize(1400, 700)
    with qtbot.waitExposed(window):
        window.show()
    url = server.route("/venues/error-page.jpg", send(200, HTML, "text/html"))

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.add_urls([url], "venues")

    index = window.model.index_for_key(url, Column.RESULT)
    assert index.data() == "✖ failed, nothing downloaded yet"
    assert index.data(Role.DETAIL) == HTML_REASON
    assert "—" not in index.data(Qt.ItemDataRole.AccessibleTextRole)
    assert reason_shown(window, HTML_REASON) == HTML_REASON  # whole, not cut
    assert QFontMetrics(window.table.font()).horizontalAdvance(HTML_REASON) > (
        window.table.columnWidth(Column.RESULT) - 2 * PADDING - BADGE - 6
    )  # so it really is wrapped onto the second line

    window.table.selectionModel().clearSelection()
    assert red_pixels(window, url) > 0
    proxy_index = window.proxy.mapFromSource(index)
    window.table.selectionModel().select(
        proxy_index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert red_pixels(window, url) >= BADGE * BADGE // 3  # the mark keeps its red disc

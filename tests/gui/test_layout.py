"""The proof of a refresh is in sight at the first-run size on a 1366 x 768 screen: the before →
after column without scrolling, the old and the new picture whole and the same size, the facts
wrapped instead of cut, the history without sideways scrolling, and the details pane saying what
the row says (issue 11, point 3; tests/gui/test_real_window.py checks the same on a real screen).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QItemSelectionModel, QPoint, QRect
from pytestqt.qtbot import QtBot

from gui.image_model import Column
from gui.main_window import MainWindow, first_run_geometry
from gui.rows import RowState
from gui.thumbnails import TABLE_EDGE
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.server import Responder, image, jpeg_bytes, sequence, stall

SCREEN = QRect(0, 0, 1366, 768)
PICTURE = (640, 400)


def select(window: MainWindow, url: str) -> None:
    index = window.proxy.mapFromSource(window.model.index_for_key(url))
    window.table.selectionModel().setCurrentIndex(
        index,
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )


def two_versions(count: int) -> dict[str, Responder]:
    return {
        f"/events/poster-{n}.jpg": sequence(
            image(jpeg_bytes((200, 40 * n, 40), PICTURE)),
            image(jpeg_bytes((40, 40 * n, 200), PICTURE)),
        )
        for n in range(count)
    }


def force_refresh_all(qtbot: QtBot, opened: OpenedWindow) -> None:
    with qtbot.waitSignal(opened.window.controller.batch_finished, timeout=20_000):
        opened.window.refresh_entries(
            [opened.row(url).entry for url in opened.urls], force_refresh=True
        )


def test_at_the_first_run_size_the_proof_is_in_sight(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    geometry = first_run_geometry(SCREEN)
    assert SCREEN.contains(geometry)
    opened = open_window(two_versions(3))
    window = opened.window
    window.set_first_run_geometry(SCREEN)
    with qtbot.waitExposed(window):
        window.show()
    assert window.geometry().size() == geometry.size()
    force_refresh_all(qtbot, opened)
    select(window, opened.urls[0])
    history = window.details.history
    qtbot.waitUntil(lambda: history.rowCount() == 2)  # downloaded, then refreshed

    header = window.table.horizontalHeader()
    for column in (Column.THUMBNAIL, Column.NAME, Column.RESULT, Column.MODIFIED):
        left = header.sectionViewportPosition(column)
        assert left >= 0 and left + header.sectionSize(column) <= window.table.viewport().width(), (
            f"{column.name} needs sideways scrolling"
        )
    for picture in (window.details.before, window.details.after):
        assert picture.isVisible()
        corner = picture.mapTo(window, QPoint(0, 0))
        assert window.rect().contains(QRect(corner, picture.size())), picture.accessibleName()
        assert picture.visibleRegion().boundingRect() == picture.rect(), picture.accessibleName()
    for name, field in window.details.fields.items():
        document = field.document()
        assert document.idealWidth() <= field.viewport().width() + 1, f"{name} is cut"
        assert document.size().height() <= field.viewport().height() + 1, f"{name} is cut"
    assert history.horizontalHeader().length() <= history.viewport().width()


def test_the_details_pane_says_what_its_row_says_while_it_downloads(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    stalled = threading.Event()
    body = jpeg_bytes((10, 200, 10), PICTURE)
    opened = open_window(
        {"/events/slow.jpg": sequence(image(body), stall(body, 200, 5.0, started=stalled))}
    )
    window = opened.window
    (url,) = opened.urls
    select(window, url)
    status = window.details.fields["Status"]

    window.refresh_entries([opened.row(url).entry], force_refresh=True)
    qtbot.waitUntil(lambda: opened.row(url).state is RowState.RUNNING)
    assert status.toPlainText().startswith("↻ downloading")
    qtbot.waitUntil(stalled.is_set, timeout=10_000)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=5_000):
        window.cancel_refreshes()
    assert status.toPlainText() == "⊘ cancelled, old file kept"


def test_mid_batch_the_old_picture_is_as_large_as_the_new_one(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    """A row never shown in the details pane has its old picture cached at the table's size
    only: it is shown as large as the new one, not as a 48-pixel stamp."""
    opened = open_window(two_versions(2))
    window = opened.window
    window.set_first_run_geometry(SCREEN)
    with qtbot.waitExposed(window):
        window.show()
    shown, other = opened.urls
    row = opened.row(other)
    assert row.thumbnail_key is not None
    key = (*row.thumbnail_key, TABLE_EDGE)
    if window.thumbnails.cached(key) is None:  # the table may have asked for it already
        with qtbot.waitSignal(window.thumbnails.ready, check_params_cb=lambda k: k == key):
            window.thumbnails.request(key)
    select(window, shown)
    force_refresh_all(qtbot, opened)

    select(window, other)
    before, after = window.details.before, window.details.after
    assert before.isVisible() and before.text() == ""  # the old picture, not a note
    qtbot.waitUntil(lambda: after.shown_rect().size() == before.shown_rect().size())
    assert before.shown_rect().width() >= 3 * TABLE_EDGE

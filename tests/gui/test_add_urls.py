"""Adding URLs: add_urls downloads them into a category; paste and drop open the dialog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.models import Action
from gui.dialogs import AddUrlsDialog, urls_in
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.server import LoopbackServer, image, jpeg_bytes, png_bytes

DIALOG_POLL_MS = 10
DIALOG_TRIES = 500


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("no links here", []),
        ("http://a.test/1.jpg", ["http://a.test/1.jpg"]),
        (
            "https://a.test/1.jpg\n  http://b.test/2.png other words\thttps://a.test/1.jpg",
            ["https://a.test/1.jpg", "http://b.test/2.png"],  # in order, once each
        ),
        ("ftp://a.test/x.jpg file:///etc/passwd javascript:alert(1) www.a.test/x.jpg", []),
    ],
)
def test_urls_in_finds_http_urls_in_pasted_text(text: str, expected: list[str]) -> None:
    assert urls_in(text) == expected


def new_images(server: LoopbackServer) -> list[str]:
    return [
        server.route("/new/stage.jpg", image(jpeg_bytes((10, 120, 10)))),
        server.route("/new/plan.png", image(png_bytes(), content_type="image/png")),
    ]


def assert_downloaded(opened: OpenedWindow, urls: list[str], category: str) -> None:
    for url in urls:
        row = opened.row(url)
        assert row.entry.category == category
        assert row.result is not None and row.result.action is Action.DOWNLOADED
        assert row.path is not None and row.path.parent == opened.cache_dir / category
        assert row.file is not None and row.path.stat().st_size == row.file.size


def test_add_urls_adds_rows_and_downloads_them(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    opened = open_window(1)
    window = opened.window
    urls = new_images(server)

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000) as done:
        window.add_urls(urls, "venues")

    assert done.args[0].total == 2 and done.args[0].failed == 0
    assert window.model.rowCount() == 3
    assert_downloaded(opened, urls, "venues")
    categories = [window.categories.item(r).text() for r in range(window.categories.rowCount())]
    assert categories == ["All images (3)", "events (1)", "venues (2)"]


def answer_add_dialog(qtbot: QtBot, answer: Callable[[AddUrlsDialog], None]) -> list[str]:
    """Wait (from the event loop) for the modal Add URLs dialog, note its text, then answer it."""
    texts: list[str] = []
    tries = [0]

    def look() -> None:
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, AddUrlsDialog):
            texts.append(dialog.urls.toPlainText())
            answer(dialog)
        elif tries[0] < DIALOG_TRIES:
            tries[0] += 1
            QTimer.singleShot(DIALOG_POLL_MS, look)

    QTimer.singleShot(0, look)
    return texts


def choose_venues_and_accept(dialog: AddUrlsDialog) -> None:
    dialog.category.setCurrentText("venues")
    button_box = dialog.findChild(QDialogButtonBox)
    button_box.button(QDialogButtonBox.StandardButton.Ok).click()


def test_paste_opens_the_dialog_and_adds_the_urls(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    opened = open_window(1)
    window = opened.window
    urls = new_images(server)
    QGuiApplication.clipboard().setText("see " + "\n".join(urls))

    texts = answer_add_dialog(qtbot, choose_venues_and_accept)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.commands.paste_urls.trigger()

    assert len(texts) == 1 and all(url in texts[0] for url in urls)
    assert_downloaded(opened, urls, "venues")


def test_dropping_urls_opens_the_dialog_and_cancel_adds_nothing(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    opened = open_window(1)
    window = opened.window
    urls = new_images(server)
    data = QMimeData()
    data.setUrls([QUrl(url) for url in urls])
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )

    texts = answer_add_dialog(qtbot, lambda dialog: dialog.reject())
    window.dropEvent(drop)

    assert texts == ["\n".join(urls)]
    assert drop.isAccepted()
    assert window.model.rowCount() == 1
    assert not window.controller.is_running()
    assert [request.path for request in server.seen if request.path.startswith("/new/")] == []

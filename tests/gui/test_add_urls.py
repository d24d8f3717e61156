"""Adding URLs: add_urls downloads them into a category; paste and drop open the dialog."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.models import Action
from gui.dialogs import AddUrlsDialog, skipped_lines, urls_in
from tests.gui.helpers import OpenedWindow, WindowFactory, answer_modal
from tests.server import LoopbackServer, image, jpeg_bytes, png_bytes


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


def answer_add_dialog(answer: Callable[[AddUrlsDialog], None]) -> list[str]:
    """Wait for the modal Add URLs dialog, note its text, then answer it."""
    texts: list[str] = []

    def note_and_answer(dialog: AddUrlsDialog) -> None:
        texts.append(dialog.urls.toPlainText())
        answer(dialog)

    answer_modal(AddUrlsDialog, note_and_answer)
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

    texts = answer_add_dialog(choose_venues_and_accept)
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

    texts = answer_add_dialog(lambda dialog: dialog.reject())
    window.dropEvent(drop)

    assert texts == ["\n".join(urls)]
    assert drop.isAccepted()
    assert window.model.rowCount() == 1
    assert not window.controller.is_running()
    assert [request.path for request in server.seen if request.path.startswith("/new/")] == []


def test_skipped_lines_names_what_is_not_an_http_url() -> None:
    text = "http://a.test/1.jpg\n\nftp://a.test/x.jpg\nnot a url\nhttps://b.test/2.png mailto://x\n"
    assert urls_in(text) == ["http://a.test/1.jpg", "https://b.test/2.png"]
    assert skipped_lines(text) == ["ftp://a.test/x.jpg", "not a url", "mailto://x"]


def test_bad_lines_are_named_in_the_dialog_and_again_after_adding(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    """Issue 11, point 6: Add URLs dropped `ftp://…` and `not a url` without a word."""
    opened = open_window(1)
    window = opened.window
    (url, _) = new_images(server)
    summaries: list[str] = []

    def read_and_accept(dialog: AddUrlsDialog) -> None:
        summaries.append(dialog.summary.text())
        choose_venues_and_accept(dialog)

    answer_modal(AddUrlsDialog, read_and_accept)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.add_urls_dialog(f"{url}\nftp://files.test/hall.jpg\nnot a url\n")

    assert len(summaries) == 1
    assert "1 URL to add" in summaries[0]
    assert "2 lines skipped" in summaries[0]
    assert "ftp://files.test/hall.jpg" in summaries[0] and "not a url" in summaries[0]
    message = window.statusBar().currentMessage()
    assert "Added 1 URL(s) to venues" in message
    assert "2 lines skipped" in message and "ftp://files.test/hall.jpg" in message
    assert_downloaded(opened, [url], "venues")


def test_ctrl_enter_adds_the_urls(qtbot: QtBot) -> None:
    dialog = AddUrlsDialog(["events"], "http://a.test/1.jpg")
    qtbot.addWidget(dialog)
    with qtbot.waitActive(dialog):
        dialog.show()
    dialog.urls.setFocus()

    qtbot.keyClick(dialog.urls, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    assert dialog.result() == AddUrlsDialog.DialogCode.Accepted
    assert dialog.urls.toPlainText() == "http://a.test/1.jpg"  # no new line typed


def test_rows_added_to_another_category_are_brought_into_sight(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    """Issue 11, point 6: after adding to another category the new rows were out of sight."""
    opened = open_window(12)  # events: more rows than the view shows at once
    window = opened.window
    window.resize(1000, 500)
    with qtbot.waitExposed(window):
        window.show()
    events = next(
        r
        for r in range(window.categories.rowCount())
        if "events" in window.categories.item(r).text()
    )
    window.category_view.setCurrentIndex(window.categories.index(events, 0))
    urls = new_images(server)

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.add_urls(urls, "venues")

    assert {row.key for row in window.selected_rows()} == set(urls)
    viewport = window.table.viewport().rect()
    for url in urls:
        index = window.proxy.mapFromSource(window.model.index_for_key(url))
        assert index.isValid(), f"{url} is filtered out of the view"
        assert window.table.visualRect(index).intersects(viewport), f"{url} is out of sight"

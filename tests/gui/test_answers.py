"""Every action answers: a file manager that cannot start, the Preferences' cache folder, the
failed count after the failed rows are gone, a closed log pane brought back (issue 11, point 6;
Add URLs' skipped lines and rows added out of sight are in test_add_urls.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.cache import ImageCache
from core.settings import RefreshSettings
from gui.main_window import MainWindow
from tests.gui.helpers import WindowFactory, answer_modal
from tests.server import LoopbackServer, image, jpeg_bytes, send, sequence


def select_keys(window: MainWindow, keys: list[str]) -> None:
    selection = window.table.selectionModel()
    selection.clearSelection()
    for key in keys:
        index = window.proxy.mapFromSource(window.model.index_for_key(key))
        selection.select(
            index,
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


# The offscreen platform starts no program: like a desktop without xdg-open, it says so.
@pytest.mark.qt_log_ignore("does not support QPlatformServices")
def test_open_in_file_manager_without_a_launcher_says_so_and_copies_the_folder(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened = open_window(1)
    select_keys(opened.window, opened.urls)
    QGuiApplication.clipboard().clear()

    assert opened.window.show_in_file_manager() is False

    folder = str(opened.paths[opened.urls[0]].parent)
    assert QGuiApplication.clipboard().text() == folder
    message = opened.window.statusBar().currentMessage()
    assert "No file manager could be started" in message and folder in message


def test_preferences_show_the_folder_that_is_open(
    qtbot: QtBot, tmp_path: Path, fast_settings: RefreshSettings
) -> None:
    folder = tmp_path / "demo-cache"
    ImageCache(folder, fast_settings).open().close()
    window = MainWindow()
    with qtbot.waitSignal(window.cache_opened, timeout=10_000):
        window.open_cache(folder, remember=False)  # as the demo opens its throwaway cache

    dialog = window.preferences_dialog()
    qtbot.addWidget(dialog)

    assert dialog.cache_dir.text() == str(folder)
    assert dialog.chosen_folder() is None  # unchanged: nothing to open, nothing remembered
    dialog.cache_dir.setText(str(tmp_path / "other"))
    assert dialog.chosen_folder() == tmp_path / "other"


@pytest.mark.warnings_expected  # the failed refreshes log WARNINGs
def test_the_failed_count_goes_when_the_failed_rows_are_deleted(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    opened = open_window(
        {
            "/events/a.jpg": sequence(image(jpeg_bytes()), send(404, b"gone", "text/plain")),
            "/events/b.jpg": sequence(image(jpeg_bytes()), send(404, b"gone", "text/plain")),
            "/events/c.jpg": image(jpeg_bytes()),
        }
    )
    window = opened.window
    failing = opened.urls[:2]
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(url).entry for url in opened.urls], force_refresh=True)
    qtbot.waitUntil(lambda: window.failures_button.text() == "2 failed")
    assert window.commands.retry_failed.isEnabled()

    select_keys(window, failing)
    answer_modal(QMessageBox, lambda box: box.button(QMessageBox.StandardButton.Yes).click())
    window.commands.delete.trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)

    qtbot.waitUntil(lambda: window.failures_button.text() == "")
    assert window.failures_button.isHidden()
    assert not window.commands.retry_failed.isEnabled()


def test_a_closed_log_pane_comes_back_from_the_view_menu(qtbot: QtBot) -> None:
    window = MainWindow()
    with qtbot.waitExposed(window):
        window.show()
    view_menu = next(
        action.menu() for action in window.menuBar().actions() if action.text() == "&View"
    )
    entries = {action.text().replace("&", ""): action for action in view_menu.actions()}
    log_entry, details_entry = entries["Log"], entries["Details Pane"]

    window.log_dock.close()  # its title bar's close button
    assert not log_entry.isChecked()
    log_entry.trigger()
    assert window.log_dock.isVisible() and log_entry.isChecked()

    details_entry.trigger()
    assert not window.details.isVisible()
    details_entry.trigger()
    assert window.details.isVisible()


def test_an_empty_cache_says_how_to_add_images(
    qtbot: QtBot, tmp_path: Path, fast_settings: RefreshSettings, server: LoopbackServer
) -> None:
    folder = tmp_path / "new-cache"
    ImageCache(folder, fast_settings).open().close()
    window = MainWindow()
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitSignal(window.cache_opened, timeout=10_000):
        window.open_cache(folder)

    assert window.empty_hint.isVisible() and not window.table.isVisible()
    buttons = {action.text() for action in window.empty_hint.actions_offered()}
    assert {"&Add URLs…", "&Paste URLs", "&Open Folder…"} <= buttons

    url = server.route("/events/first.jpg", image(jpeg_bytes()))
    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.add_urls([url], "events")
    assert window.table.isVisible() and not window.empty_hint.isVisible()

"""The safety net in the window: Ctrl+Shift+R then Ctrl+Z puts the picture back and the row
says so; a refused placeholder, the per-batch choice to accept it; Mark as Placeholder; the
change badge; View ▸ Only Changed Pictures."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QToolButton
from pytestqt.qtbot import QtBot

from core.models import Action, PictureChange
from core.placeholders import PlaceholderList
from gui.image_model import Role
from gui.result_text import result_text
from gui.rows import RowState
from tests.gui.helpers import OpenedWindow, WindowFactory, show_active
from tests.pictures import flat, photo, reencoded
from tests.server import LoopbackServer, image

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
BATCH_MS = 15_000


def one_image_that_becomes(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory, old: bytes, new: bytes
) -> tuple[OpenedWindow, str]:
    """A window on one image, downloaded as `old`, that the server now sends as `new`; shown,
    with every row selected."""
    opened = open_window({"/events/hero.jpg": image(old)})
    (url,) = opened.urls
    server.route("/events/hero.jpg", image(new))
    show_active(qtbot, opened.window)
    qtbot.keyClick(opened.window.table, Qt.Key.Key_A, CTRL)
    return opened, url


def test_ctrl_shift_r_then_ctrl_z_restores_the_picture_and_the_row_shows_it(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    old, new = photo(1), photo(2)
    opened, url = one_image_that_becomes(qtbot, server, open_window, old, new)
    window = opened.window
    assert not window.safety.undo.isEnabled()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_R, CTRL | SHIFT)
    refreshed = opened.row(url)
    assert refreshed.result is not None and refreshed.result.action is Action.REFRESHED
    assert refreshed.result.change is PictureChange.CHANGED
    assert result_text(refreshed).startswith("✔ refreshed · changed ")
    assert opened.paths[url].read_bytes() == new
    assert window.safety.undo.isEnabled()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, CTRL)
    assert opened.paths[url].read_bytes() == old
    row = opened.row(url)
    assert row.state is RowState.DONE
    assert row.result is not None and row.result.action is Action.REVERTED
    assert row.file is not None and row.file.mtime == opened.paths[url].stat().st_mtime
    assert row.file.mtime > refreshed.result.after_mtime  # type: ignore[operator]
    assert row.entry.sha256 == row.result.after_sha256
    text = result_text(row)
    assert text.startswith("↶ reverted · changed ")
    # The details pane shows the row, and Ctrl+Z again undoes the revert.
    assert window.details.fields["Status"].toPlainText() == text
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_Z, CTRL)
    assert opened.paths[url].read_bytes() == new
    # Revert to Previous, from the details pane's button, and the history that lists it all.
    (button,) = [
        b
        for b in window.details.findChildren(QToolButton)
        if b.defaultAction() is window.safety.revert
    ]
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert opened.paths[url].read_bytes() == old
    qtbot.waitUntil(lambda: window.details.history.rowCount() >= 5)
    outcomes = [window.details.history.item(r, 2).text().split(",")[0] for r in range(5)]
    assert outcomes == ["reverted", "reverted", "reverted", "refreshed", "downloaded"]


@pytest.mark.warnings_expected  # a refused refresh logs a WARNING
def test_a_placeholder_is_refused_in_the_window_and_accepted_when_chosen_for_the_batch(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    real, grey = photo(3), flat((128, 128, 128))
    opened, url = one_image_that_becomes(qtbot, server, open_window, real, grey)
    window = opened.window

    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS) as finished:
        qtbot.keyClick(window.table, Qt.Key.Key_R, CTRL | SHIFT)
    assert finished.args[0].refused == 1
    row = opened.row(url)
    assert row.result is not None and row.result.action is Action.REFUSED
    assert row.state is RowState.FAILED
    assert result_text(row).startswith("⊗ refused, old file kept: refused as a placeholder")
    assert "refused as a placeholder" in result_text(row)
    assert "flat colour" in result_text(row)
    assert opened.paths[url].read_bytes() == real
    assert "refused as placeholder" in window.statusBar().currentMessage()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        window.safety.allow_placeholders.trigger()
    row = opened.row(url)
    assert row.result is not None and row.result.action is Action.REFRESHED
    assert opened.paths[url].read_bytes() == grey
    # The next batch guards again: the choice was for that batch only.
    server.route("/events/hero.jpg", image(real))
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_R, CTRL | SHIFT)
    server.route("/events/hero.jpg", image(flat((20, 20, 20))))
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS) as finished:
        qtbot.keyClick(window.table, Qt.Key.Key_R, CTRL | SHIFT)
    assert finished.args[0].refused == 1


def test_mark_as_placeholder_and_only_changed_pictures(
    qtbot: QtBot, server: LoopbackServer, open_window: WindowFactory
) -> None:
    first, second = photo(4), photo(5)
    opened = open_window({"/events/a.jpg": image(first), "/events/b.jpg": image(second)})
    window = opened.window
    url_a, url_b = opened.urls
    show_active(qtbot, window)
    flags = QItemSelectionModel.SelectionFlag
    window.table.selectionModel().select(
        window.proxy.mapFromSource(window.model.index_for_key(url_a)),
        flags.ClearAndSelect | flags.Rows,
    )
    assert [row.key for row in window.selected_rows()] == [url_a]
    window.safety.mark_placeholder.trigger()
    qtbot.waitUntil(lambda: "Marked" in window.statusBar().currentMessage())
    (marked,) = PlaceholderList().items()
    assert marked.name == opened.paths[url_a].name

    # a: re-encoded (the same picture); b: a different picture. Only b is "changed".
    server.route("/events/a.jpg", image(reencoded(first, quality=70)))
    server.route("/events/b.jpg", image(photo(6)))
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        window.refresh_entries([opened.row(url).entry for url in opened.urls], force_refresh=True)
    assert opened.row(url_b).result.change is PictureChange.CHANGED  # type: ignore[union-attr]
    # a looks like the marked placeholder, and so did the file it replaces: it passes.
    assert opened.row(url_a).result.change is PictureChange.SAME_PICTURE  # type: ignore[union-attr]
    assert "· same picture" in result_text(opened.row(url_a))

    window.set_view("grid")
    window.safety.changed_only.trigger()
    assert window.proxy.rowCount() == 1
    shown = window.proxy.mapToSource(window.proxy.index(0, 0))
    assert window.model.data(shown, Role.ROW).key == url_b
    window.safety.changed_only.trigger()
    assert window.proxy.rowCount() == 2

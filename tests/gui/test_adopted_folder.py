"""An adopted folder's own commands in the window: Set Source URL… gives one image its URL by
hand (a file without a source becomes refreshable), Folder Settings… edits the variant rules
(and reopens the folder with them), and the details pane shows an original's variants, the old
picture of each beside the new one after a refresh. Bad input loses nothing, and no secret is
ever shown."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QTableWidgetItem,
    QTextEdit,
    QToolButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from core.cache import ImageCache
from core.models import Action
from core.sources import import_sources, read_sources
from core.storage import adopted_state_dir
from core.variants import VariantRule, load_rules
from gui.folder_settings import FIT, SIZE, VARIANT, FolderSettingsDialog
from gui.main_window import MainWindow
from gui.picture import Picture
from gui.rows import ImageRow
from gui.source_url_dialog import SourceUrlDialog
from gui.thumbnails import PREVIEW_EDGE
from gui.variant_pictures import NOT_SHOWN_BEFORE
from tests.gui.helpers import WindowFactory, answer_modal, show_active
from tests.server import LoopbackServer, image
from tests.uploads import SECRET, THUMBS, Uploads, build_uploads, listing, picture

OPEN_MS = 10_000
BATCH_MS = 20_000
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


class AdoptedWindow:
    def __init__(self, window: MainWindow, uploads: Uploads) -> None:
        self.window = window
        self.uploads = uploads

    def row_of(self, path: Path) -> ImageRow:
        rows = [row for row in self.window.model.rows() if row.path == path]
        assert len(rows) == 1, f"no row for {path}"
        return rows[0]

    def select(self, path: Path) -> ImageRow:
        row = self.row_of(path)
        self.window.reveal([row.key])
        assert self.window.single_selected_row() == row
        return row


@pytest.fixture
def adopted(
    qtbot: QtBot, server: LoopbackServer, tmp_path: Path, tracked_windows: list[MainWindow]
) -> AdoptedWindow:
    """A small uploads tree adopted with the thumbnail rule and its export imported, open in a
    window (the export's bad rows are refused quietly by core)."""
    uploads = build_uploads(tmp_path, server, count=2)
    with ImageCache(uploads.root, adopt=True) as cache:
        cache.adopt([VariantRule.parse(THUMBS)])
        import_sources(cache, read_sources(uploads.sources))
    window = MainWindow()
    tracked_windows.append(window)
    with qtbot.waitSignal(window.cache_opened, timeout=OPEN_MS):
        window.open_cache(uploads.root)
    show_active(qtbot, window)
    return AdoptedWindow(window, uploads)


def shown_texts(widget: QWidget) -> str:
    """Everything a person can read in a widget's labels and text fields (those shown)."""
    texts = [label.text() for label in widget.findChildren(QLabel) if label.isVisible()]
    texts += [e.toPlainText() for e in widget.findChildren(QTextEdit) if e.isVisible()]
    texts += [e.text() for e in widget.findChildren(QLineEdit) if e.isVisible()]
    return "\n".join(texts)


def window_texts(window: MainWindow) -> str:
    model = window.model
    cells = [
        str(model.index(r, c).data(role) or "")
        for r in range(model.rowCount())
        for c in range(model.columnCount())
        for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)
    ]
    log = [line.text for line in window.log_dock.model.lines()]
    return "\n".join([shown_texts(window), window.statusBar().currentMessage(), *cells, *log])


def button_of(window: MainWindow, action_text: str) -> QToolButton:
    (button,) = [
        b
        for b in window.details.findChildren(QToolButton)
        if b.defaultAction() is not None and b.defaultAction().text() == action_text
    ]
    return button


def centre_blue(picture: Picture) -> int:
    """The blue of the middle of what a Picture draws (the fixture's old pictures are blue, the
    new ones red)."""
    shown = picture.shown_rect()
    assert shown.isValid() and picture.text() == "", picture.text()
    grabbed = picture.grab(shown).toImage()
    return grabbed.pixelColor(grabbed.width() // 2, grabbed.height() // 2).blue()


# --- Set Source URL… ----------------------------------------------------------------------------


def test_a_file_without_a_source_is_given_one_by_hand_and_then_refreshed(
    qtbot: QtBot, adopted: AdoptedWindow, server: LoopbackServer
) -> None:
    window, lonely = adopted.window, adopted.uploads.unsourced[0]
    thumb = lonely.with_name(lonely.name.replace("original_", "thumb_"))
    new_body = picture((230, 60, 10), (800, 600))
    url = server.route("/by-hand/face.jpg", image(new_body)) + f"?size=large&key={SECRET}"
    row = adopted.select(lonely)
    assert row.entry.url is None and window.adopted.set_source.isEnabled()
    tree = listing(adopted.uploads.root)
    answers: list[str] = []

    def answer(dialog: SourceUrlDialog) -> None:
        answers.append(shown_texts(dialog))
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        for bad in ("ftp://files.example/face.jpg", "face.jpg", url.replace(SECRET, "***")):
            dialog.url.setText(bad)
            ok.click()
            answers.append(f"{dialog.isVisible()} {dialog.problem.text()}")
        dialog.url.setText(url)
        ok.click()

    answer_modal(SourceUrlDialog, answer)
    with qtbot.waitSignal(window.adopted.source_set, timeout=OPEN_MS) as set_:
        qtbot.mouseClick(button_of(window, "Set Source &URL…"), Qt.MouseButton.LeftButton)

    intro, *refusals = answers
    assert "(none: the file is never refreshed)" in intro and str(lonely) in intro
    assert refusals[:2] == ["True Not set: not an http or https URL."] * 2
    assert refusals[2].startswith("True Not set: the URL holds *** where a secret was hidden")
    assert set_.args == [url]
    assert listing(adopted.uploads.root) == tree  # setting a URL touches no file
    updated = adopted.row_of(lonely)
    assert updated.entry.url == url and window.details.shown_key() == url
    assert window.details.fields["URL"].toPlainText() == url.replace(SECRET, "***")

    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        window.commands.force_refresh.trigger()  # the refreshed row, still selected
    result = adopted.row_of(lonely).result
    assert result is not None and result.action is Action.REFRESHED, result
    assert lonely.read_bytes() == new_body
    assert result.variants is not None and [v.path for v in result.variants] == [thumb]
    assert SECRET not in window_texts(window)


@pytest.mark.warnings_expected  # the refusal is logged
def test_editing_a_url_shows_it_only_redacted_and_cancel_or_a_refusal_changes_nothing(
    qtbot: QtBot, adopted: AdoptedWindow
) -> None:
    window = adopted.window
    originals = adopted.uploads.originals
    first, second = [path for path, url in originals.items() if SECRET in url][:2]
    first_url, second_url = originals[first], originals[second]
    adopted.select(first)
    seen: list[str] = []

    def cancel(dialog: SourceUrlDialog) -> None:
        seen.append(shown_texts(dialog) + dialog.windowTitle())
        dialog.reject()

    answer_modal(SourceUrlDialog, cancel)
    window.adopted.set_source.trigger()
    (texts,) = seen
    assert "Edit Source URL" in texts and first_url.replace(SECRET, "***") in texts
    assert SECRET not in texts
    assert adopted.row_of(first).entry.url == first_url

    # The URL of another file is refused by core: the status bar says why; no row changes.
    rows = window.model.rows()
    with qtbot.waitSignal(window.adopted.source_refused, timeout=OPEN_MS) as refused:
        window.adopted.set_source_url(adopted.row_of(first), second_url)
    taken_by = second.relative_to(adopted.uploads.root)
    assert refused.args == [f"this URL is already the source of {taken_by}"]
    assert window.model.rows() == rows
    assert "Source URL not set: this URL is already" in window.statusBar().currentMessage()
    assert SECRET not in window_texts(window)


def test_set_source_and_folder_settings_are_disabled_for_a_cache_of_our_own(
    open_window: WindowFactory,
) -> None:
    opened = open_window(2)
    window = opened.window
    window.reveal([opened.urls[0]])

    assert window.single_selected_row() is not None
    assert not window.adopted.set_source.isEnabled()
    assert not window.adopted.folder_settings.isEnabled()


# --- Folder Settings… ---------------------------------------------------------------------------


def fill(dialog: FolderSettingsDialog, row: int, variant: str, size: str, fit: str) -> None:
    dialog.rules.setItem(row, VARIANT, QTableWidgetItem(variant))
    dialog.rules.setItem(row, SIZE, QTableWidgetItem(size))
    combo = dialog.rules.cellWidget(row, FIT)
    assert isinstance(combo, QComboBox)
    combo.setCurrentText(fit)


def dialog_answer(steps: Callable[[FolderSettingsDialog, QDialogButtonBox], None]) -> None:
    def answer(dialog: FolderSettingsDialog) -> None:
        steps(dialog, dialog.findChildren(QDialogButtonBox)[-1])

    answer_modal(FolderSettingsDialog, answer)


def test_folder_settings_edits_the_variant_rules_and_reopens_the_folder_with_them(
    qtbot: QtBot, adopted: AdoptedWindow
) -> None:
    window, root = adopted.window, adopted.uploads.root
    state = adopted_state_dir(root)
    tree = listing(root)
    seen: list[str] = []

    def bad_then_cancel(dialog: FolderSettingsDialog, buttons: QDialogButtonBox) -> None:
        seen.append(dialog.rules.item(0, VARIANT).text())
        dialog.add_rule(("original_", "small_", "250", "fit"))  # no height
        buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        seen.append(dialog.problem.text())
        dialog.reject()

    dialog_answer(bad_then_cancel)
    window.adopted.folder_settings.trigger()
    assert seen[0] == "thumb_"
    assert seen[1].startswith("Not saved: Rule 2: not a variant rule: 'original_:small_:250:fit'")
    assert load_rules(state) == [VariantRule.parse(THUMBS)]  # nothing saved

    def good(dialog: FolderSettingsDialog, buttons: QDialogButtonBox) -> None:
        dialog.add_rule(("original_", "x", "1x1", "crop"))
        fill(dialog, 1, "small_", " 120 × 90 ", "fit")
        buttons.button(QDialogButtonBox.StandardButton.Ok).click()

    dialog_answer(good)
    with qtbot.waitSignal(window.cache_opened, timeout=OPEN_MS):
        window.adopted.folder_settings.trigger()
    rules = [VariantRule.parse(THUMBS), VariantRule.parse("original_:small_:120x90:fit")]
    assert window.cache is not None and window.cache.variant_rules == rules
    assert load_rules(state) == rules
    assert listing(root) == tree  # nothing of ours in the folder

    original = next(iter(adopted.uploads.originals))
    small = original.with_name(original.name.replace("original_", "small_"))
    adopted.select(original)
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        window.commands.force_refresh.trigger()
    result = adopted.row_of(original).result
    assert result is not None and result.action is Action.REFRESHED
    assert result.variants is not None and small in [v.path for v in result.variants]
    assert small.is_file()  # a missing variant is made with its original


# --- The details pane: variants, new beside old -------------------------------------------------


def test_the_details_pane_shows_an_originals_variants_and_after_a_refresh_old_beside_new(
    qtbot: QtBot, adopted: AdoptedWindow
) -> None:
    window = adopted.window
    originals = list(adopted.uploads.originals)
    original, other = originals[0], originals[1]
    thumb = original.with_name(original.name.replace("original_", "thumb_"))
    old = thumb.stat()
    adopted.select(original)
    qtbot.waitUntil(lambda: len(window.details.variants.panels) == 1)
    (panel,) = window.details.variants.panels
    now = (str(thumb), old.st_mtime, old.st_size, PREVIEW_EDGE)
    qtbot.waitUntil(lambda: window.thumbnails.cached(now) is not None)
    # As it is now: one picture, the old one (blue), its time.
    assert panel.title.text() == f"{thumb.name} · 250×250 crop"
    assert not panel.before.isVisibleTo(window) and centre_blue(panel.after) > 150
    assert panel.after_caption.text().startswith("Modified ")

    window.reveal([adopted.row_of(original).key, adopted.row_of(other).key])
    with qtbot.waitSignal(window.controller.batch_finished, timeout=BATCH_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_R, CTRL_SHIFT)
    adopted.select(original)
    new = thumb.stat()
    assert new.st_mtime != old.st_mtime
    new_key = (str(thumb), new.st_mtime, new.st_size, PREVIEW_EDGE)
    qtbot.waitUntil(lambda: window.thumbnails.cached(new_key) is not None)
    (panel,) = window.details.variants.panels
    qtbot.waitUntil(lambda: panel.before.isVisibleTo(window) and panel.before.text() == "")
    # After: the old picture (blue) beside the new one (red), each with its time.
    assert centre_blue(panel.before) > 150 and centre_blue(panel.after) < 80
    assert panel.before_caption.text().startswith("Before: ")
    assert panel.after_caption.text().startswith("After: ")
    assert panel.before.shown_rect().size() == panel.after.shown_rect().size()

    # A variant never shown before its refresh says so rather than show another picture.
    adopted.select(other)
    qtbot.waitUntil(
        lambda: (
            bool(window.details.variants.panels)
            and window.details.variants.panels[0].before.text() == NOT_SHOWN_BEFORE
        )
    )
    assert SECRET not in window_texts(window)

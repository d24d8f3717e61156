"""An adopted folder's own commands in the window: Set Source URL… for one image (Image menu,
context menu, a button in the details pane) and Folder Settings… for its variant rules (File
menu). Both are disabled for a cache of our own layout, whose URLs name its files.

The writes go through core in the window's background lane; the GUI thread never waits on disk.
New variant rules are saved as the folder is opened again: a cache's rules are fixed while it is
open (its worker processes read them when they start).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.secrets import redact
from core.variants import VariantRule
from gui import cache_loading
from gui.actions import make_action
from gui.folder_settings import FolderSettingsDialog
from gui.rows import ImageRow
from gui.source_url_dialog import SourceUrlDialog

if TYPE_CHECKING:
    from gui.main_window import MainWindow

log = logging.getLogger("core.gui")


class AdoptedFolderActions(QObject):
    source_set = Signal(str)  # the image's key from now on: its new URL
    source_refused = Signal(str)  # why

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.set_source = make_action(
            window,
            "Set Source &URL…",
            "Type the URL the selected image of an adopted folder is downloaded from",
        )
        self.folder_settings = make_action(
            window,
            "Folder &Settings…",
            "The derived sizes (variant rules) of the adopted folder open now",
            "preferences",
        )
        for name in ("set_source", "folder_settings"):
            getattr(self, name).setObjectName(f"action_{name}")
        self._install()
        self._connect()
        self._update()

    def _install(self) -> None:
        w, a = self.window, self.window.commands
        w.file_menu.insertAction(a.add_urls, self.folder_settings)
        w.image_menu.insertAction(a.preview, self.set_source)
        w.context_menu.insertAction(a.copy_url, self.set_source)
        w.details.add_action_button(self.set_source)

    def _connect(self) -> None:
        w = self.window
        self.set_source.triggered.connect(self.edit_source_of_selected)
        self.folder_settings.triggered.connect(self.edit_folder_settings)
        w.table.selectionModel().selectionChanged.connect(self._update)
        w.cache_opened.connect(self._update)

    # --- one image's source URL ------------------------------------------------------------------
    def edit_source_of_selected(self) -> None:
        row = self._selected_row()
        if row is None or row.key in self.window.controller.running_keys():
            self.window.statusBar().showMessage(
                "Select one image of an adopted folder, not being refreshed, first.", 5000
            )
            return
        dialog = SourceUrlDialog(row, self.window)
        if dialog.exec() == SourceUrlDialog.DialogCode.Accepted:
            self.set_source_url(row, dialog.chosen_url())
        dialog.deleteLater()  # the URL typed, a key in it, is kept no longer than needed

    def set_source_url(self, row: ImageRow, url: str) -> None:
        """Give the image its source URL in the background; `source_set` (its row then shows
        the URL, and the image can be refreshed) or `source_refused` follows."""
        cache = self.window.cache
        if cache is None:
            return
        self.window.background.run(
            functools.partial(cache_loading.set_source, cache, row.entry, url),
            self._on_source_answered,
            self._on_source_refused,
        )

    def _on_source_answered(self, answer: cache_loading.SourceAnswer) -> None:
        if answer.row is None:
            self._on_source_refused(answer.refused or "")
            return
        w, row = self.window, answer.row
        w.model.replace_row(answer.key, row)
        if w.details.shown_key() == answer.key:
            w.show_details(row)
        w.statusBar().showMessage(f"Source URL of {row.name} set: {redact(row.entry.url)}", 10000)
        self._update()
        self.source_set.emit(row.key)

    def _on_source_refused(self, reason: str) -> None:
        log.warning("source URL not set: %s", reason)
        self.window.statusBar().showMessage(f"Source URL not set: {reason}", 15000)
        self.source_refused.emit(reason)

    def _selected_row(self) -> ImageRow | None:
        return self.window.single_selected_row() if self._adopted() else None

    # --- the folder's variant rules --------------------------------------------------------------
    def edit_folder_settings(self) -> None:
        cache = self.window.cache
        if cache is None or not self._adopted():
            return
        dialog = FolderSettingsDialog(cache.root, cache.variant_rules, self.window)
        if dialog.exec() == FolderSettingsDialog.DialogCode.Accepted:
            self.apply_rules(dialog.chosen_rules())
        dialog.deleteLater()

    def apply_rules(self, rules: list[VariantRule]) -> None:
        """Save the rules with the folder and open it again with them (`cache_opened`)."""
        w = self.window
        if w.cache is None:
            return
        if w.controller.is_running():
            w.statusBar().showMessage(
                "Cancel the running refreshes before changing the folder's settings.", 5000
            )
            return
        shown = ", ".join(str(rule) for rule in rules) or "none"
        log.info("variant rules of %s: %s", w.cache.root, shown)
        w.open_cache(w.cache.root, remember=False, rules=rules)

    # --- bookkeeping ----------------------------------------------------------------------------
    def _adopted(self) -> bool:
        cache = self.window.cache
        return cache is not None and cache.storage.adopted

    def _update(self) -> None:
        self.folder_settings.setEnabled(self._adopted())
        self.set_source.setEnabled(self._selected_row() is not None)

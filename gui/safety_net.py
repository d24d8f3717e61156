"""The safety net in the window: Revert to Previous (context menu, details pane), Ctrl+Z right
after a refresh, Mark as Placeholder, a force refresh that accepts placeholders (a choice made
per batch), and View ▸ Only Changed Pictures.

Reverts run as refresh jobs (RefreshMode.REVERT) through the window's RefreshController, so a
reverted row updates, shows its thumbnail and counts in the batch like a refreshed one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from core.models import PictureChange, RefreshMode, RefreshResult
from core.placeholders import PlaceholderList
from gui.actions import make_action
from gui.refresh_controller import BatchProgress

if TYPE_CHECKING:
    from gui.main_window import MainWindow

log = logging.getLogger("core.gui")

# Replacements worth undoing: a refresh that brought the same bytes kept nothing.
UNDOABLE = (PictureChange.SAME_PICTURE, PictureChange.CHANGED)


class SafetyNetActions(QObject):
    """Adds the safety net's actions to a MainWindow's menus and details pane."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.placeholders = PlaceholderList()
        self.revert = make_action(
            window,
            "Re&vert to Previous",
            "Put back the version the last refresh replaced (the current one is kept in turn)",
            "revert",
        )
        self.undo = make_action(
            window,
            "&Undo Last Refresh",
            "Revert the images the last refresh (or revert) replaced",
            "revert",
            (QKeySequence.StandardKey.Undo,),
        )
        self.allow_placeholders = make_action(
            window,
            "Force Refresh, &Allowing Placeholders",
            "Force-refresh the selection and let placeholders replace the pictures, this once",
            "force-refresh",
        )
        self.mark_placeholder = make_action(
            window,
            "&Mark as Placeholder",
            "Refresh never puts this picture (or one like it) in place of a real one, in any cache",
            "placeholder",
        )
        self.changed_only = make_action(
            window,
            "Only &Changed Pictures",
            "Show only the images whose last refresh changed the picture",
            None,
            ("Ctrl+3",),
        )
        self.changed_only.setCheckable(True)
        for name in ("revert", "undo", "allow_placeholders", "mark_placeholder", "changed_only"):
            action: QAction = getattr(self, name)
            action.setObjectName(f"action_{name}")
        self._batch: BatchProgress | None = None
        self._replaced: list[str] = []  # keys the running batch replaced
        self._undo_keys: list[str] = []  # keys the last finished batch replaced
        self._install()
        self._connect()
        self._update()

    def _install(self) -> None:
        w, a = self.window, self.window.commands
        w.image_menu.insertSeparator(a.cancel)
        for action in (self.revert, self.allow_placeholders, self.mark_placeholder):
            w.image_menu.insertAction(a.cancel, action)
        w.image_menu.insertSeparator(a.cancel)
        w.edit_menu.insertAction(a.select_all, self.undo)
        w.edit_menu.insertSeparator(a.select_all)
        w.view_menu.addSeparator()
        w.view_menu.addAction(self.changed_only)
        w.context_menu.insertSeparator(a.copy_url)
        for action in (self.revert, self.allow_placeholders, self.mark_placeholder):
            w.context_menu.insertAction(a.copy_url, action)
        w.context_menu.insertSeparator(a.copy_url)
        w.details.add_action_button(self.revert)

    def _connect(self) -> None:
        w = self.window
        self.revert.triggered.connect(self.revert_selected)
        self.undo.triggered.connect(self.undo_last)
        self.allow_placeholders.triggered.connect(self.refresh_allowing_placeholders)
        self.mark_placeholder.triggered.connect(self.mark_selected_as_placeholder)
        self.changed_only.toggled.connect(w.proxy.set_changed_only)
        w.table.selectionModel().selectionChanged.connect(self._update)
        w.cache_opened.connect(self._on_cache_opened)
        w.controller.batch_changed.connect(self._on_batch_changed)
        w.controller.job_finished.connect(self._on_job_finished)
        w.controller.batch_finished.connect(self._on_batch_finished)

    # --- commands -------------------------------------------------------------------------------
    def revert_selected(self) -> list[str]:
        rows = self.window.selected_rows()
        if not rows:
            self.window.statusBar().showMessage("Select the images to revert first.", 4000)
            return []
        return self.window.refresh_entries(
            [row.entry for row in rows], force_refresh=False, mode=RefreshMode.REVERT
        )

    def undo_last(self) -> list[str]:
        """Revert what the last finished batch replaced (Ctrl+Z right after a refresh)."""
        rows = [row for key in self._undo_keys if (row := self.window.model.row_for_key(key))]
        if not rows or self.window.controller.is_running():
            return []
        self._undo_keys = []
        self._update()
        self.window.statusBar().showMessage(f"Reverting {len(rows)} image(s)…", 4000)
        return self.window.refresh_entries(
            [row.entry for row in rows], force_refresh=False, mode=RefreshMode.REVERT
        )

    def refresh_allowing_placeholders(self) -> list[str]:
        rows = self.window.selected_rows()
        return self.window.refresh_entries(
            [row.entry for row in rows], force_refresh=True, allow_placeholder=True
        )

    def mark_selected_as_placeholder(self) -> None:
        files = [row.path for row in self.window.selected_rows() if row.path and row.file]
        if not files:
            return
        max_pixels = self.window.preferences.refresh_settings().max_pixels
        placeholders = self.placeholders

        def mark_all() -> list[str]:
            return [placeholders.add(path, max_pixels)[0].name for path in files]

        self.window.background.run(
            mark_all,
            lambda names: self.window.statusBar().showMessage(
                f"Marked {', '.join(names)} as placeholder(s): a refresh that brings such a"
                " picture keeps the old one.",
                10000,
            ),
            lambda message: self.window.statusBar().showMessage(
                f"Could not mark as placeholder: {message}", 10000
            ),
        )

    # --- bookkeeping ----------------------------------------------------------------------------
    def _on_cache_opened(self, _folder: str) -> None:
        self._undo_keys = []
        self._update()

    def _on_batch_changed(self, batch: BatchProgress) -> None:
        if batch is not self._batch:  # a new batch: what the last one did is no longer undone
            self._batch = batch
            self._replaced = []
            self._undo_keys = []
            self._update()

    def _on_job_finished(self, key: str, result: RefreshResult) -> None:
        if result.ok and result.change in UNDOABLE:
            self._replaced.append(key)

    def _on_batch_finished(self, batch: BatchProgress) -> None:
        self._undo_keys = list(self._replaced)
        self._update()
        if batch.refused:
            self.window.statusBar().showMessage(
                f"{batch.refused} refused as placeholder(s): the old pictures are kept. Image ▸"
                " Force Refresh, Allowing Placeholders replaces them anyway.",
                15000,
            )
        elif self._undo_keys:
            self.window.statusBar().showMessage(
                f"{batch.total - batch.failed - batch.cancelled} of {batch.total} done;"
                f" {len(self._undo_keys)} picture(s) replaced (Ctrl+Z reverts them).",
                10000,
            )

    def _update(self) -> None:
        w = self.window
        has_selection = w.cache is not None and w.table.selectionModel().hasSelection()
        for action in (self.revert, self.allow_placeholders, self.mark_placeholder):
            action.setEnabled(has_selection)
        self.undo.setEnabled(bool(self._undo_keys))
        count = len(self._undo_keys)
        self.undo.setText(f"&Undo Last Refresh ({count} image{'s' if count != 1 else ''})")

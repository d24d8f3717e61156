"""The main window: categories, the image list (table or grid), details, log and status."""

from __future__ import annotations

import functools
import gc
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.cache import ImageCache
from core.logging_setup import CORE_LOGGER
from core.models import ImageEntry, RefreshMode, RefreshResult
from gui import cache_loading
from gui.actions import Actions
from gui.app_settings import AppSettings, Preferences
from gui.details_pane import DetailsPane
from gui.dialogs import AddUrlsDialog, PreferencesDialog, show_about, urls_in
from gui.filter_proxy import ImageFilterProxy
from gui.grid_delegate import TILE, GridDelegate
from gui.health_panel import HealthPanel
from gui.icons import icon
from gui.image_model import Column, ImageTableModel, Role
from gui.log_pane import LogDock
from gui.refresh_controller import BatchProgress, RefreshController
from gui.rows import ImageRow, RowState
from gui.table_header import RowSelectionHeader
from gui.tasks import TaskRunner
from gui.thumbnails import TABLE_EDGE, ThumbnailLoader, thumbnail_image

log = logging.getLogger("core.gui")

ALL_CATEGORIES = None
# QProgressBar.setValue repaints every dirty widget of the window at once (the table too): once
# per finished job it starves the GUI thread, so the bar shows the count at most 10 times a second.
PROGRESS_INTERVAL_MS = 100


class MainWindow(QMainWindow):
    cache_opened = Signal(str)  # folder
    cache_failed = Signal(str)  # message

    def __init__(self, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Image Refresh")
        self.setWindowIcon(icon("app"))
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.app_settings = settings or AppSettings()
        self.preferences: Preferences = self.app_settings.load()
        self.cache: ImageCache | None = None

        self.background = TaskRunner(1, self)  # manifest reads and writes, one at a time
        self.thumbnails = ThumbnailLoader(self)
        self.controller = RefreshController(self)
        self.model = ImageTableModel(self.thumbnails, self)
        self.proxy = ImageFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.commands = Actions.create(self)

        self._build_views()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self.log_dock = LogDock(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        core_logger = logging.getLogger(CORE_LOGGER)
        if core_logger.getEffectiveLevel() > logging.INFO:
            core_logger.setLevel(logging.INFO)
        self._connect()
        self.health = HealthPanel(self)  # Health menu, column filter, status, reports
        self._restore_window_state()
        self._update_actions()

    # --- construction -------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.categories = QStandardItemModel(self)
        self.category_view = QListView()
        self.category_view.setModel(self.categories)
        self.category_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.category_view.setAccessibleName("Categories")
        self.category_view.setMinimumWidth(140)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name or URL")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search images")

        self.table = QTableView()
        self.table.setHorizontalHeader(RowSelectionHeader(self.table))
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setIconSize(QSize(TABLE_EDGE, TABLE_EDGE))
        self.table.verticalHeader().setDefaultSectionSize(TABLE_EDGE + 6)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.setAccessibleName("Cached images table")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(Column.THUMBNAIL, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.THUMBNAIL, TABLE_EDGE + 10)
        for column, width in (
            (Column.NAME, 210),
            (Column.CATEGORY, 90),
            (Column.DIMENSIONS, 95),
            (Column.SIZE, 75),
            (Column.MODIFIED, 150),
            (Column.RESULT, 330),
        ):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        # The refresh result sits next to the modified time: before → after reads at a glance.
        header.moveSection(header.visualIndex(Column.RESULT), header.visualIndex(Column.URL))

        self.grid = QListView()
        self.grid.setModel(self.proxy)
        self.grid.setModelColumn(Column.NAME)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setGridSize(TILE)
        self.grid.setSpacing(4)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setSelectionModel(self.table.selectionModel())
        self.grid_delegate = GridDelegate(self.thumbnails)
        self.grid.setItemDelegate(self.grid_delegate)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setAccessibleName("Cached images grid")

        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.grid)
        middle = QWidget()
        layout = QVBoxLayout(middle)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.views)

        self.details = DetailsPane(self.thumbnails)
        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.category_view)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([160, 1000, 360])
        self.setCentralWidget(self.splitter)

    def _build_menus_and_toolbar(self) -> None:
        a = self.commands
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(a.open_folder)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(a.add_urls)
        file_menu.addSeparator()
        file_menu.addAction(a.preferences)
        file_menu.addSeparator()
        file_menu.addAction(a.quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        for action in (a.select_all, a.copy_url, a.copy_path, a.paste_urls, a.delete):
            edit_menu.addAction(action)
        image_menu = self.menuBar().addMenu("&Image")
        for action in (a.refresh, a.force_refresh, a.check_updates, a.cancel, a.show_in_folder):
            image_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(a.view_table)
        view_menu.addAction(a.view_grid)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(a.about)

        toolbar = QToolBar("Main toolbar")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(22, 22))
        toolbar_items: tuple[QAction | None, ...] = (
            a.open_folder,
            a.add_urls,
            None,
            a.refresh,
            a.force_refresh,
            a.check_updates,
            a.cancel,
            None,
            a.delete,
            None,
            a.view_table,
            a.view_grid,
        )
        for item in toolbar_items:
            if item is None:
                toolbar.addSeparator()
            else:
                toolbar.addAction(item)
                widget = toolbar.widgetForAction(item)
                if widget is not None:
                    widget.setAccessibleName(item.text().replace("&", ""))
        self.addToolBar(toolbar)
        view_menu.addSeparator()
        view_menu.addAction(toolbar.toggleViewAction())

        self.context_menu = QMenu(self)
        menu_items: tuple[QAction | None, ...] = (
            a.refresh,
            a.force_refresh,
            a.check_updates,
            None,
            a.copy_url,
            a.copy_path,
            a.show_in_folder,
            None,
            a.delete,
        )
        for item in menu_items:
            if item is None:
                self.context_menu.addSeparator()
            else:
                self.context_menu.addAction(item)

    def _build_status_bar(self) -> None:
        self.count_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setFormat("%v of %m")
        self.progress.setAccessibleName("Refresh progress")
        self.failures_label = QLabel()
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.commands.cancel)
        self.cancel_button.setAccessibleName("Cancel refreshes")
        bar = self.statusBar()
        bar.addWidget(self.count_label, 1)
        bar.addPermanentWidget(self.failures_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        self._shown_batch: BatchProgress | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._show_progress_value)
        self._show_batch(None)

    def _connect(self) -> None:
        a = self.commands
        a.open_folder.triggered.connect(self.choose_folder)
        a.add_urls.triggered.connect(lambda: self.add_urls_dialog(""))
        a.paste_urls.triggered.connect(self.paste_urls)
        a.preferences.triggered.connect(self.edit_preferences)
        a.quit.triggered.connect(self.close)
        a.select_all.triggered.connect(self.select_all)
        a.copy_url.triggered.connect(lambda: self._copy(lambda row: row.entry.url))
        a.copy_path.triggered.connect(
            lambda: self._copy(lambda row: str(row.path) if row.path else None)
        )
        a.delete.triggered.connect(self.delete_selected)
        a.refresh.triggered.connect(lambda: self.refresh_selected(force_refresh=False))
        a.force_refresh.triggered.connect(lambda: self.refresh_selected(force_refresh=True))
        a.check_updates.triggered.connect(
            lambda: self.refresh_selected(force_refresh=False, check=True)
        )
        a.cancel.triggered.connect(self.cancel_refreshes)
        a.show_in_folder.triggered.connect(self.show_in_file_manager)
        a.view_table.triggered.connect(lambda: self.set_view("table"))
        a.view_grid.triggered.connect(lambda: self.set_view("grid"))
        a.about.triggered.connect(lambda: show_about(self))

        self.search.textChanged.connect(self.proxy.set_search)
        self.category_view.selectionModel().currentChanged.connect(self._on_category_chosen)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.customContextMenuRequested.connect(
            functools.partial(self._context_menu, self.table)
        )
        self.grid.customContextMenuRequested.connect(
            functools.partial(self._context_menu, self.grid)
        )
        self.grid.activated.connect(lambda _index: self.set_view("table"))
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._rebuild_categories)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_count)

        c = self.controller
        c.job_started.connect(lambda key: self.model.set_state([key], RowState.RUNNING))
        c.job_progress.connect(self.model.set_progress)
        c.job_finished.connect(self._on_job_finished)
        c.jobs_dropped.connect(lambda keys: self.model.set_state(keys, RowState.CANCELLED))
        c.batch_changed.connect(self._show_batch)
        c.batch_finished.connect(self._on_batch_finished)

    # --- opening a cache ------------------------------------------------------------------------
    def open_cache(self, folder: Path, remember: bool = True) -> None:
        """Open a cache folder in the background; `cache_opened` or `cache_failed` follows.

        `remember`: store it as the folder to open next time (not for the demo's temporary one).
        """
        if self.controller.is_running():
            self.statusBar().showMessage(
                "Cancel the running refreshes before opening another folder.", 5000
            )
            return
        self.statusBar().showMessage(f"Opening {folder}…")
        settings = self.preferences.refresh_settings()
        self.background.run(
            lambda: cache_loading.load_cache(folder, settings),
            functools.partial(self._on_cache_loaded, remember=remember),
            self._on_cache_failed,
        )

    def _on_cache_loaded(self, loaded: cache_loading.LoadedCache, remember: bool) -> None:
        previous, self.cache = self.cache, loaded.cache
        if previous is not None:
            self.background.run(previous.close, lambda _none: None, lambda _message: None)
        self.model.set_rows(loaded.rows)
        # The rows and the window now live as long as the cache is open. A full collection
        # during a refresh would walk them all on the GUI thread (25-35 ms, measured); frozen,
        # the collector looks only at objects made since.
        gc.freeze()
        self.background.run(
            loaded.cache.start,
            lambda _none: None,
            functools.partial(log.warning, "cannot start the refresh workers: %s"),
        )
        if remember:
            self.preferences.remember(loaded.cache.root)
            self.app_settings.save(self.preferences)
            self._rebuild_recent_menu()
        self.setWindowTitle(f"Image Refresh — {loaded.cache.root}")
        self.statusBar().showMessage(f"Opened {loaded.cache.root}", 4000)
        self.details.show_row(None)
        self._update_actions()
        self.cache_opened.emit(str(loaded.cache.root))

    def _on_cache_failed(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not open the cache folder: {message}", 15000)
        log.warning("could not open the cache folder: %s", message)
        self.cache_failed.emit(message)

    def choose_folder(self) -> None:
        start = str(self.cache.root) if self.cache else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open cache folder", start)
        if folder:
            self.open_cache(Path(folder))

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.preferences.recent_dirs:
            action = self.recent_menu.addAction(str(folder))
            action.triggered.connect(functools.partial(self.open_cache, folder))
        self.recent_menu.setEnabled(bool(self.preferences.recent_dirs))

    # --- selection ------------------------------------------------------------------------------
    def selected_rows(self) -> list[ImageRow]:
        """The selected rows, top to bottom (the proxy filters but keeps the model's order)."""
        positions, rows = self._selected_positions(), self.model.rows()
        if self.proxy.rowCount() != len(rows):  # filtered: map to the model's positions
            proxy = self.proxy
            positions = [proxy.mapToSource(proxy.index(p, Column.NAME)).row() for p in positions]
        return [rows[position] for position in positions]

    def _selected_positions(self) -> list[int]:
        """The view's rows with a selected cell, top to bottom, read from the selection's ranges.

        Not selectedRows(): it asks the model for the flags of every selected cell, 8,000 calls
        into Python for 1,000 rows.
        """
        return _row_positions(self.table.selectionModel().selection())

    def select_all(self) -> None:
        view = self.grid if self.views.currentWidget() is self.grid else self.table
        view.selectAll()

    def _on_selection_changed(self) -> None:
        self._update_actions()
        self._update_count()
        current = self.table.selectionModel().currentIndex()
        row: ImageRow | None = None
        if current.isValid() and self.table.selectionModel().isSelected(current):
            row = self.model.data(self.proxy.mapToSource(current), Role.ROW)
        elif positions := self._selected_positions():
            first = self.proxy.mapToSource(self.proxy.index(positions[0], Column.NAME))
            row = self.model.data(first, Role.ROW)
        self._show_details(row)

    def _show_details(self, row: ImageRow | None) -> None:
        self.details.show_row(row)
        if row is not None and self.cache is not None:
            cache, entry, key = self.cache, row.entry, row.key
            self.background.run(
                lambda: cache.history(entry),
                lambda history: self.details.show_history(key, history),
                lambda message: log.warning("could not read the history: %s", message),
            )

    def _context_menu(self, view: QAbstractItemView, position: Any) -> None:
        if view.indexAt(position).isValid():
            self.context_menu.popup(view.viewport().mapToGlobal(position))

    # --- refreshing -----------------------------------------------------------------------------
    def refresh_selected(self, *, force_refresh: bool, check: bool = False) -> list[str]:
        rows = self.selected_rows()
        if self.cache is None or not rows:
            self.statusBar().showMessage(
                "Select the images to refresh first (Ctrl+A selects all).", 4000
            )
            return []
        return self.refresh_entries(
            [row.entry for row in rows], force_refresh=force_refresh, check=check
        )

    def refresh_entries(
        self, entries: list[ImageEntry], *, force_refresh: bool, check: bool = False
    ) -> list[str]:
        if self.cache is None:
            return []
        busy = self.controller.running_keys()
        self.model.set_state([e.key for e in entries if e.key not in busy], RowState.QUEUED)
        queued = self.controller.start(
            self.cache, entries, RefreshMode.from_flags(force_refresh, check)
        )
        self._update_actions()
        return queued

    def cancel_refreshes(self) -> None:
        if self.controller.is_running():
            self.controller.cancel()
            self.statusBar().showMessage(
                "Cancelling: running downloads stop, files stay as they were.", 5000
            )

    def _on_job_finished(self, key: str, result: RefreshResult) -> None:
        thumbnail = result.thumbnail
        if (
            thumbnail is not None
            and result.path is not None
            and result.after_mtime is not None
            and result.after_size is not None
        ):
            # The table's thumbnail, made by the refresh's validation: cached before the row
            # changes, under the key ImageRow.with_result gives it, the repaint finds it and the
            # new file is not decoded again (the grid and the details pane decode their sizes).
            self.thumbnails.insert(
                (str(result.path), result.after_mtime, result.after_size, TABLE_EDGE),
                thumbnail_image(thumbnail),
            )
        self.model.apply_result(key, result)
        if self.details.shown_key() == key:
            self._show_details(self.model.row_for_key(key))

    def _show_batch(self, batch: BatchProgress | None) -> None:
        running = batch is not None and not batch.finished
        self._shown_batch = batch
        if batch is not None:
            self.failures_label.setText(f"{batch.failed} failed" if batch.failed else "")
        if not running:
            self._progress_timer.stop()
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)
            self._show_progress_value()  # hidden: no repaint
        elif self.progress.isVisible():
            if not self._progress_timer.isActive():
                self._progress_timer.start()
        else:
            self._show_progress_value()  # still hidden: no repaint
            self.progress.setVisible(True)
            self.cancel_button.setVisible(True)
        self.commands.cancel.setEnabled(running)

    def _show_progress_value(self) -> None:
        batch = self._shown_batch
        if batch is not None:
            self.progress.setRange(0, max(batch.total, 1))
            self.progress.setValue(batch.done)

    def _on_batch_finished(self, batch: BatchProgress) -> None:
        self._show_batch(batch)
        ok = batch.total - batch.failed - batch.cancelled
        parts = [f"{ok} of {batch.total} done"]
        if batch.failed:
            parts.append(f"{batch.failed} failed (hover the row for the reason)")
        if batch.cancelled:
            parts.append(f"{batch.cancelled} cancelled")
        self.statusBar().showMessage(", ".join(parts), 10000)
        self._update_actions()

    # --- other actions --------------------------------------------------------------------------
    def add_urls_dialog(self, text: str) -> None:
        if self.cache is None:
            return
        categories = sorted({row.entry.category for row in self.model.rows()})
        dialog = AddUrlsDialog(categories, text, self)
        if dialog.exec() != AddUrlsDialog.DialogCode.Accepted:
            return
        self.add_urls(dialog.chosen_urls(), dialog.chosen_category())

    def add_urls(self, urls: list[str], category: str) -> None:
        """Record URLs in the manifest (in the background), then download the missing ones."""
        if self.cache is None:
            return
        cache = self.cache
        self.background.run(
            lambda: cache_loading.add_urls(cache, urls, category),
            self._on_urls_added,
            lambda message: self.statusBar().showMessage(
                f"Could not add the URLs: {message}", 10000
            ),
        )

    def _on_urls_added(self, rows: list[ImageRow]) -> None:
        self.model.add_rows(rows)
        missing = [row.entry for row in rows if row.file is None]
        self.refresh_entries(missing, force_refresh=False)
        self.statusBar().showMessage(f"Added {len(rows)} URL(s); downloading {len(missing)}.", 5000)

    def paste_urls(self) -> None:
        text = QGuiApplication.clipboard().text()
        if urls_in(text):
            self.add_urls_dialog(text)
        else:
            self.statusBar().showMessage("The clipboard holds no http(s) URL.", 4000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        data = event.mimeData()
        text = "\n".join(u.toString() for u in data.urls()) if data.hasUrls() else data.text()
        if urls_in(text):
            event.acceptProposedAction()
            self.add_urls_dialog(text)

    def delete_selected(self) -> None:
        rows = self.selected_rows()
        if self.cache is None or not rows:
            return
        busy = self.controller.running_keys()
        rows = [row for row in rows if row.key not in busy]
        answer = QMessageBox.question(
            self,
            "Delete from cache",
            f"Delete {len(rows)} image(s) from the cache? The files are removed from disk.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        cache = self.cache
        entries = [row.entry for row in rows]

        def remove_all() -> list[str]:
            for entry in entries:
                cache.remove(entry)
            return [entry.key for entry in entries]

        self.background.run(
            remove_all,
            self.model.remove_keys,
            lambda message: self.statusBar().showMessage(f"Could not delete: {message}", 10000),
        )

    def _copy(self, field: Any) -> None:
        values = [value for row in self.selected_rows() if (value := field(row))]
        if values:
            QGuiApplication.clipboard().setText("\n".join(values))
            self.statusBar().showMessage(f"Copied {len(values)} line(s).", 3000)

    def show_in_file_manager(self) -> None:
        rows = self.selected_rows()
        if rows and rows[0].path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(rows[0].path.parent)))

    def edit_preferences(self) -> None:
        dialog = PreferencesDialog(self.preferences, self)
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        previous_dir = self.preferences.cache_dir
        dialog.apply_to(self.preferences)
        self.app_settings.save(self.preferences)
        if self.preferences.cache_dir and self.preferences.cache_dir != previous_dir:
            self.open_cache(self.preferences.cache_dir)
        elif self.cache is not None and not self.controller.is_running():
            self.open_cache(self.cache.root)  # new limits take effect on a reopened cache

    def set_view(self, mode: str) -> None:
        grid = mode == "grid"
        self.views.setCurrentWidget(self.grid if grid else self.table)
        self.commands.view_grid.setChecked(grid)
        self.commands.view_table.setChecked(not grid)
        self.app_settings.save_view_mode("grid" if grid else "table")

    # --- bookkeeping ----------------------------------------------------------------------------
    def _rebuild_categories(self) -> None:
        counts: dict[str, int] = {}
        for row in self.model.rows():
            counts[row.entry.category] = counts.get(row.entry.category, 0) + 1
        current = self.category_view.currentIndex().data(Qt.ItemDataRole.UserRole)
        selection = self.category_view.selectionModel()
        selection.blockSignals(True)  # the chosen category stays; only the counts change
        try:
            self.categories.clear()
            everything = QStandardItem(f"All images ({sum(counts.values())})")
            everything.setData(ALL_CATEGORIES, Qt.ItemDataRole.UserRole)
            self.categories.appendRow(everything)
            for name in sorted(counts):
                item = QStandardItem(f"{name} ({counts[name]})")
                item.setData(name, Qt.ItemDataRole.UserRole)
                self.categories.appendRow(item)
            chosen = next(
                (
                    r
                    for r in range(self.categories.rowCount())
                    if self.categories.item(r).data(Qt.ItemDataRole.UserRole) == current
                ),
                0,
            )
            self.category_view.setCurrentIndex(self.categories.index(chosen, 0))
        finally:
            selection.blockSignals(False)
        if chosen == 0 and current is not None:
            self.proxy.set_category(ALL_CATEGORIES)  # the chosen category has no images left
        self._update_count()

    def _on_category_chosen(self, index: QModelIndex) -> None:
        self.proxy.set_category(index.data(Qt.ItemDataRole.UserRole) if index.isValid() else None)

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        selected = len(self._selected_positions())
        text = f"{total} images" if shown == total else f"{shown} of {total} images shown"
        if selected:
            text += f", {selected} selected"
        self.count_label.setText(text)

    def _update_actions(self) -> None:
        has_cache = self.cache is not None
        has_selection = self.table.selectionModel().hasSelection()
        for action in (
            self.commands.refresh,
            self.commands.force_refresh,
            self.commands.check_updates,
            self.commands.copy_url,
            self.commands.copy_path,
            self.commands.delete,
            self.commands.show_in_folder,
        ):
            action.setEnabled(has_cache and has_selection)
        for action in (self.commands.add_urls, self.commands.paste_urls, self.commands.select_all):
            action.setEnabled(has_cache)

    def _restore_window_state(self) -> None:
        geometry, state, splitter = self.app_settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1520, 900)
        if state is not None:
            self.restoreState(state)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.set_view(self.app_settings.view_mode())
        self._rebuild_recent_menu()

    def is_idle(self) -> bool:
        return not (
            self.controller.is_running()
            or self.background.is_busy()
            or self.thumbnails.is_busy()
            or self.health.is_busy()
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        self.controller.cancel()
        self.controller.wait_for_done()
        self.health.shutdown()
        self.thumbnails.shutdown()
        self.background.wait_for_done()
        self.app_settings.save_window_state(
            self.saveGeometry(), self.saveState(), self.splitter.saveState()
        )
        self.log_dock.detach()
        if self.cache is not None:
            self.cache.close()
        event.accept()


def _row_positions(selection: QItemSelection) -> list[int]:
    positions: set[int] = set()
    for number in range(selection.count()):
        selected = selection.at(number)
        positions.update(range(selected.top(), selected.bottom() + 1))
    return sorted(positions)

"""The main window: categories, the image list (table or grid), details, log and status."""

from __future__ import annotations

import functools
import gc
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QRect,
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
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
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
from core.variants import VariantRule
from gui import cache_loading
from gui.actions import Actions
from gui.adopted_folder import AdoptedFolderActions
from gui.app_settings import AppSettings, Preferences
from gui.cell_paint import TwoLineDelegate
from gui.details_pane import DetailsPane
from gui.dialogs import (
    AddUrlsDialog,
    PreferencesDialog,
    describe_skipped,
    show_about,
    urls_in,
)
from gui.empty_hint import EmptyHint
from gui.filter_proxy import ImageFilterProxy, StatusFilter
from gui.grid_delegate import GRID_EDGES, GridDelegate, tile_size
from gui.health_panel import HealthPanel
from gui.icons import icon
from gui.image_model import Column, ImageTableModel, Role, StatusCounts
from gui.log_pane import LogDock
from gui.preview import PreviewDialog
from gui.refresh_controller import BatchProgress, RefreshController
from gui.result_text import is_failed
from gui.rows import ImageRow, RowState
from gui.safety_net import SafetyNetActions
from gui.table_header import RowSelectionHeader
from gui.tasks import TaskRunner
from gui.thumbnails import GRID_EDGE, TABLE_EDGE, ThumbnailLoader, thumbnail_image

log = logging.getLogger("core.gui")

ALL_CATEGORIES = None
# QProgressBar.setValue repaints every dirty widget of the window at once (the table too): once
# per finished job it starves the GUI thread, so the bar shows the count at most 10 times a second.
PROGRESS_INTERVAL_MS = 100
# The failed / changed / not refreshed counts (filter menu, status bar) are counted again at most
# this often: a batch of 1,000 results is a few counts, not 1,000.
COUNTS_INTERVAL_MS = 150

# The first-run size: the window as it was designed (1520 x 900), or the screen less a margin on a
# smaller one (1366 x 768 laptops), so the whole window, its proof of a refresh included, is seen.
DESIGN_SIZE = QSize(1520, 900)
SCREEN_MARGIN = QSize(40, 60)
# Widths of the table's columns at the first run; the source URL takes what is left.
COLUMN_WIDTHS = (
    (Column.NAME, 200),
    (Column.RESULT, 250),
    (Column.MODIFIED, 140),
    (Column.SIZE, 70),
    (Column.DIMENSIONS, 90),
    (Column.CATEGORY, 90),
)
CATEGORIES_WIDTH = 130
DETAILS_SHARE = 0.29  # of the window's width, at the first run
LOG_HEIGHT = 110


def first_run_geometry(available: QRect) -> QRect:
    """Where the window opens when no size was saved: centred on the available screen area."""
    width = min(DESIGN_SIZE.width(), available.width() - SCREEN_MARGIN.width())
    height = min(DESIGN_SIZE.height(), available.height() - SCREEN_MARGIN.height())
    left = available.x() + (available.width() - width) // 2
    top = available.y() + max(0, (available.height() - height) // 2 - 10)
    return QRect(left, top, width, height)


class MainWindow(QMainWindow):
    cache_opened = Signal(str)  # folder
    cache_failed = Signal(str)  # message
    sources_imported = Signal(int, int)  # matched, refused

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
        self.counts = StatusCounts()
        self._view_mode = "table"
        # URLs added (per category) and lines skipped since the last batch summary: said
        # again, with the downloads' outcome, when they end.
        self._added: dict[str, int] = {}
        self._skipped: list[str] = []
        # The title's name for the open folder, if not its path (the demo's throwaway cache).
        self.folder_label: str | None = None

        self._build_views()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self.log_dock = LogDock(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        core_logger = logging.getLogger(CORE_LOGGER)
        if core_logger.getEffectiveLevel() > logging.INFO:
            core_logger.setLevel(logging.INFO)
        self._connect()
        self.safety = SafetyNetActions(self)  # revert, Ctrl+Z, placeholders, changed only
        self.health = HealthPanel(self)  # Health menu, column filter, status, reports
        self.adopted = AdoptedFolderActions(self)  # Set Source URL…, Folder Settings…
        self._restore_window_state()
        self._update_actions()

    # --- construction -------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.categories = QStandardItemModel(self)
        self.category_view = QListView()
        self.category_view.setModel(self.categories)
        self.category_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.category_view.setAccessibleName("Categories")
        self.category_view.setMinimumWidth(110)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name or URL")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search images")
        self.status_filter = QComboBox()
        self.status_filter.setAccessibleName("Show images")
        self.status_filter.setToolTip("Show all images, or only those whose last refresh…")
        for status in StatusFilter:
            self.status_filter.addItem(status.value, status)
        self.status_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

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
        self.cell_delegate = TwoLineDelegate(self.table)
        self.table.setItemDelegate(self.cell_delegate)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(Column.THUMBNAIL, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.THUMBNAIL, TABLE_EDGE + 10)
        for column, width in COLUMN_WIDTHS:
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        # The proof reads left to right: the picture, its name over its source, the refresh
        # (before → after), then the facts; the URL in full last.
        for visual, column in enumerate(
            (Column.THUMBNAIL, Column.NAME, *(column for column, _width in COLUMN_WIDTHS[1:]))
        ):
            header.moveSection(header.visualIndex(column), visual)

        self.grid = QListView()
        self.grid.setModel(self.proxy)
        self.grid.setModelColumn(Column.NAME)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setSpacing(4)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setSelectionModel(self.table.selectionModel())
        self.grid_delegate = GridDelegate(self.thumbnails)
        self.grid.setItemDelegate(self.grid_delegate)
        self.grid.setGridSize(tile_size(self.grid_delegate.edge))
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setAccessibleName("Cached images grid")

        a = self.commands
        self.empty_hint = EmptyHint((a.add_urls, a.paste_urls, a.open_folder))
        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.grid)
        self.views.addWidget(self.empty_hint)
        middle = QWidget()
        layout = QVBoxLayout(middle)
        layout.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(QLabel("Show:"))
        filters.addWidget(self.status_filter)
        layout.addLayout(filters)
        layout.addWidget(self.views)

        self.details = DetailsPane(self.thumbnails)
        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.category_view)
        self.splitter.addWidget(middle)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setCollapsible(1, False)
        self.setCentralWidget(self.splitter)

    def _build_menus_and_toolbar(self) -> None:
        a = self.commands
        file_menu = self.file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(a.open_folder)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(a.import_sources)
        file_menu.addAction(a.add_urls)
        file_menu.addSeparator()
        file_menu.addAction(a.preferences)
        file_menu.addSeparator()
        file_menu.addAction(a.quit)
        edit_menu = self.edit_menu = self.menuBar().addMenu("&Edit")
        for action in (a.select_all, a.copy_url, a.copy_path, a.paste_urls, a.delete):
            edit_menu.addAction(action)
        image_menu = self.image_menu = self.menuBar().addMenu("&Image")
        for action in (
            a.refresh,
            a.force_refresh,
            a.check_updates,
            a.retry_failed,
            a.cancel,
            a.preview,
            a.show_in_folder,
        ):
            image_menu.addAction(action)
        view_menu = self.view_menu = self.menuBar().addMenu("&View")
        for action in (a.view_table, a.view_grid, a.larger_thumbnails, a.smaller_thumbnails):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(a.show_details)
        view_menu.addAction(a.show_log)
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
            a.retry_failed,
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
        view_menu.addAction(toolbar.toggleViewAction())

        self.context_menu = QMenu(self)
        menu_items: tuple[QAction | None, ...] = (
            a.preview,
            None,
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
        # The rows that failed now (not the last batch's count): a click shows only them.
        self.failures_button = QPushButton()
        self.failures_button.setFlat(True)
        self.failures_button.setAccessibleName("Failed images")
        self.failures_button.setToolTip("Show only the images whose last refresh failed")
        self.failures_button.setStyleSheet("color: #be2828; font-weight: bold")
        self.thumbnail_size = QSlider(Qt.Orientation.Horizontal)
        self.thumbnail_size.setRange(0, len(GRID_EDGES) - 1)
        self.thumbnail_size.setPageStep(1)
        self.thumbnail_size.setFixedWidth(110)
        self.thumbnail_size.setAccessibleName("Thumbnail size")
        self.thumbnail_size.setToolTip("Size of the pictures in the grid (Ctrl++ / Ctrl+-)")
        self.cancel_button = QToolButton()
        self.cancel_button.setDefaultAction(self.commands.cancel)
        self.cancel_button.setAccessibleName("Cancel refreshes")
        bar = self.statusBar()
        bar.addWidget(self.count_label, 1)
        bar.addPermanentWidget(self.failures_button)
        bar.addPermanentWidget(self.thumbnail_size)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)
        self._shown_batch: BatchProgress | None = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._show_progress_value)
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(COUNTS_INTERVAL_MS)
        self._counts_timer.timeout.connect(self._update_status_counts)
        self._show_batch(None)
        self._update_status_counts()

    def _connect(self) -> None:
        a = self.commands
        a.open_folder.triggered.connect(self.choose_folder)
        a.import_sources.triggered.connect(self.choose_sources)
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
        a.retry_failed.triggered.connect(self.retry_failed)
        a.cancel.triggered.connect(self.cancel_refreshes)
        a.preview.triggered.connect(self.preview_selected)
        a.show_in_folder.triggered.connect(self.show_in_file_manager)
        a.view_table.triggered.connect(lambda: self.set_view("table"))
        a.view_grid.triggered.connect(lambda: self.set_view("grid"))
        a.larger_thumbnails.triggered.connect(lambda: self._step_thumbnail_size(1))
        a.smaller_thumbnails.triggered.connect(lambda: self._step_thumbnail_size(-1))
        a.show_details.toggled.connect(self._show_details_pane)
        a.show_log.toggled.connect(self.log_dock.setVisible)
        # The dock's own close button hides it: the View menu's entry follows.
        self.log_dock.visibilityChanged.connect(
            lambda _visible: a.show_log.setChecked(not self.log_dock.isHidden())
        )
        a.about.triggered.connect(lambda: show_about(self))

        self.search.textChanged.connect(self.proxy.set_search)
        self.status_filter.currentIndexChanged.connect(
            lambda _index: self.proxy.set_status(self.status_filter.currentData())
        )
        self.failures_button.clicked.connect(lambda: self.show_status(StatusFilter.FAILED))
        self.thumbnail_size.valueChanged.connect(
            lambda position: self.set_thumbnail_edge(GRID_EDGES[position])
        )
        self.category_view.selectionModel().currentChanged.connect(self._on_category_chosen)
        self.table.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.table.customContextMenuRequested.connect(
            functools.partial(self._context_menu, self.table)
        )
        self.grid.customContextMenuRequested.connect(
            functools.partial(self._context_menu, self.grid)
        )
        self.table.activated.connect(self._preview_index)
        self.grid.activated.connect(self._preview_index)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._rebuild_categories)
            signal.connect(self._show_current_view)
        for signal in (
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.modelReset,
            self.model.dataChanged,
        ):
            signal.connect(self._count_soon)
        self.model.dataChanged.connect(self._on_rows_changed)
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
    def open_cache(
        self, folder: Path, remember: bool = True, rules: list[VariantRule] | None = None
    ) -> None:
        """Open a cache folder in the background; `cache_opened` or `cache_failed` follows.

        `remember`: store it as the folder to open next time (not for the demo's temporary one).
        `rules`: an adopted folder's new variant rules, saved as it is opened (Folder Settings).
        """
        if self.controller.is_running():
            self.statusBar().showMessage(
                "Cancel the running refreshes before opening another folder.", 5000
            )
            return
        self.statusBar().showMessage(f"Opening {folder}…")
        settings = self.preferences.refresh_settings()
        self.background.run(
            lambda: cache_loading.load_cache(folder, settings, rules),
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
        self.setWindowTitle(f"Image Refresh — {self.folder_label or loaded.cache.root}")
        self.statusBar().showMessage(f"Opened {loaded.cache.root}", 4000)
        self.details.show_row(None)
        self._show_current_view()
        shown = self.views.currentWidget()
        if shown is not None and not self.search.hasFocus():
            shown.setFocus()  # the arrow keys work at once
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

    def choose_sources(self) -> None:
        if self.cache is None:
            return
        file, _ = QFileDialog.getOpenFileName(
            self, "Import source URLs", str(self.cache.root), "Exports (*.csv *.jsonl *.json)"
        )
        if file:
            self.import_sources(Path(file))

    def import_sources(self, file: Path) -> None:
        """Set the source URLs an export names, in the background; the rows follow."""
        cache = self.cache
        if cache is None:
            return
        self.statusBar().showMessage(f"Importing source URLs from {file.name}…")
        self.background.run(
            functools.partial(cache_loading.import_sources, cache, file),
            self._on_sources_imported,
            lambda message: self.statusBar().showMessage(
                f"Could not import the source URLs: {message}", 15000
            ),
        )

    def _on_sources_imported(self, imported: cache_loading.SourcesImported) -> None:
        self.model.set_rows(imported.rows)
        said = f"{imported.matched} source URL(s) set"
        if imported.refused:
            said += f", {len(imported.refused)} refused ({imported.refused[0]})"
            for reason in imported.refused:
                log.warning("source URL refused: %s", reason)
        self.statusBar().showMessage(said, 15000)
        self.sources_imported.emit(imported.matched, len(imported.refused))

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

    def single_selected_row(self) -> ImageRow | None:
        """The selected row when exactly one is (without listing a selection of thousands)."""
        return self.selected_rows()[0] if len(self._selected_positions()) == 1 else None

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
        self.show_details(row)

    def _on_rows_changed(self, top: QModelIndex, bottom: QModelIndex) -> None:
        """The row in the details pane changed state (queued, downloading, done): say so there
        too, so the pane never says "downloaded" while its row says "downloading"."""
        key = self.details.shown_key()
        position = self.model.index_for_key(key).row() if key is not None else -1
        if top.row() <= position <= bottom.row():
            row = self.model.row_for_key(key) if key is not None else None
            shown = self.details.shown_row()
            if row is not None and row is not shown:
                finished = shown is not None and row.result is not shown.result
                if finished:
                    self.show_details(row)  # a new result: its history too
                else:
                    self.details.show_row(row)

    def show_details(self, row: ImageRow | None) -> None:
        """Show a row in the details pane, then its history (and an adopted original's
        variants), read in the background."""
        self.details.show_row(row)
        if row is not None and self.cache is not None:
            cache, entry, key = self.cache, row.entry, row.key
            self.background.run(
                lambda: cache.history(entry),
                lambda history: self.details.show_history(key, history),
                lambda message: log.warning("could not read the history: %s", message),
            )
            if cache.variant_rules:
                self.background.run(
                    functools.partial(cache_loading.variant_files, cache, entry),
                    functools.partial(self.details.show_variants, key),
                    lambda message: log.warning("could not read the variants: %s", message),
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
        self,
        entries: list[ImageEntry],
        *,
        force_refresh: bool,
        check: bool = False,
        mode: RefreshMode | None = None,
        allow_placeholder: bool = False,
    ) -> list[str]:
        """`mode` (REVERT) and `allow_placeholder` are the safety net's (gui.safety_net)."""
        if self.cache is None:
            return []
        busy = self.controller.running_keys()
        self.model.set_state([e.key for e in entries if e.key not in busy], RowState.QUEUED)
        queued = self.controller.start(
            self.cache,
            entries,
            mode or RefreshMode.from_flags(force_refresh, check),
            allow_placeholder=allow_placeholder,
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
        self.model.apply_result(key, result)  # the details pane follows (_on_rows_changed)

    def retry_failed(self) -> list[str]:
        """Refresh every failed image again, the way its last refresh was asked for."""
        failed = [row for row in self.model.rows() if is_failed(row)]
        queued: list[str] = []
        for mode in RefreshMode:
            entries = [row.entry for row in failed if _retry_mode(row) is mode]
            if entries:
                queued += self.refresh_entries(
                    entries,
                    force_refresh=mode is RefreshMode.FORCE,
                    check=mode is RefreshMode.CHECK,
                )
        self.statusBar().showMessage(f"Retrying {len(queued)} failed image(s).", 4000)
        return queued

    def _show_batch(self, batch: BatchProgress | None) -> None:
        running = batch is not None and not batch.finished
        self._shown_batch = batch
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
            parts.append(f"{batch.failed} failed (Retry Failed tries them again)")
        if batch.cancelled:
            parts.append(f"{batch.cancelled} cancelled")
        text = ", ".join(parts)
        if self._added:
            text = f"{self._added_note()}. {text}"
            self._added, self._skipped = {}, []
        self.statusBar().showMessage(text, 15000)
        self._update_actions()

    # --- other actions --------------------------------------------------------------------------
    def add_urls_dialog(self, text: str) -> None:
        if self.cache is None:
            return
        categories = sorted({row.entry.category for row in self.model.rows()})
        dialog = AddUrlsDialog(categories, text, self)
        if dialog.exec() != AddUrlsDialog.DialogCode.Accepted:
            return
        self.add_urls(dialog.chosen_urls(), dialog.chosen_category(), dialog.skipped())

    def add_urls(
        self,
        urls: list[str],
        category: str,
        skipped: list[str] | None = None,
        *,
        reveal: bool = True,
    ) -> None:
        """Record URLs in the manifest (in the background), then download the missing ones.

        `skipped`: lines of the user's text that were not URLs, named in the answer; `reveal`:
        select the new rows and bring them into sight (see `reveal`)."""
        if self.cache is None:
            return
        cache = self.cache
        self.background.run(
            lambda: cache_loading.add_urls(cache, urls, category),
            functools.partial(
                self._on_urls_added, category=category, skipped=skipped or [], reveal=reveal
            ),
            lambda message: self.statusBar().showMessage(
                f"Could not add the URLs: {message}", 10000
            ),
        )

    def _on_urls_added(
        self, rows: list[ImageRow], category: str, skipped: list[str], reveal: bool
    ) -> None:
        self.model.add_rows(rows)
        missing = [row.entry for row in rows if row.file is None]
        self.refresh_entries(missing, force_refresh=False)
        if reveal:
            self.reveal([row.key for row in rows])
        self._added[category] = self._added.get(category, 0) + len(rows)
        self._skipped += skipped
        self.statusBar().showMessage(f"{self._added_note()}; downloading {len(missing)}.", 15000)
        if not missing:  # nothing to download: no batch summary will say it
            self._added, self._skipped = {}, []

    def _added_note(self) -> str:
        """E.g. "Added 3 URL(s) to venues; 2 lines skipped (not http or https URLs): …"."""
        categories = sorted(self._added)
        where = ", ".join(categories[:-1]) + (" and " if len(categories) > 1 else "")
        note = f"Added {sum(self._added.values())} URL(s) to {where}{categories[-1]}"
        return f"{note}; {describe_skipped(self._skipped)}" if self._skipped else note

    def reveal(self, keys: list[str]) -> None:
        """Bring rows into sight: widen the filters that hide them, select them, scroll to the
        first (new rows added to another category than the one shown)."""
        rows = [row for key in keys if (row := self.model.row_for_key(key)) is not None]
        if not rows:
            return
        hidden = [row for row in rows if not self.proxy.accepts(row)]
        if hidden:
            categories = {row.entry.category for row in rows}
            self._choose_category(categories.pop() if len(categories) == 1 else ALL_CATEGORIES)
            if not all(self.proxy.accepts(row) for row in rows):
                self.search.clear()
            if not all(self.proxy.accepts(row) for row in rows):
                self.show_status(StatusFilter.ALL)
        selection = QItemSelection()
        for row in rows:
            index = self.proxy.mapFromSource(self.model.index_for_key(row.key))
            if index.isValid():
                selection.select(index, index)
        if selection.isEmpty():
            return
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.table.selectionModel().select(selection, flags)
        first = selection.indexes()[0]
        self.table.selectionModel().setCurrentIndex(
            first, QItemSelectionModel.SelectionFlag.NoUpdate
        )
        view = self.grid if self.views.currentWidget() is self.grid else self.table
        view.scrollTo(first)

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
            self._on_deleted,
            lambda message: self.statusBar().showMessage(f"Could not delete: {message}", 10000),
        )

    def _on_deleted(self, keys: list[str]) -> None:
        self.model.remove_keys(keys)
        self.statusBar().showMessage(f"Deleted {len(keys)} image(s) from the cache.", 5000)

    def _copy(self, field: Any) -> None:
        values = [value for row in self.selected_rows() if (value := field(row))]
        if values:
            QGuiApplication.clipboard().setText("\n".join(values))
            self.statusBar().showMessage(f"Copied {len(values)} line(s).", 3000)

    def show_in_file_manager(self) -> bool:
        """Open the selected image's folder; when no file manager starts, say so and put the
        folder's path on the clipboard instead."""
        rows = self.selected_rows()
        if not rows or rows[0].path is None:
            self.statusBar().showMessage("Select a downloaded image first.", 4000)
            return False
        folder = rows[0].path.parent
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        QGuiApplication.clipboard().setText(str(folder))
        self.statusBar().showMessage(
            f"No file manager could be started; the folder's path is on the clipboard: {folder}",
            15000,
        )
        return False

    def preview_selected(self) -> PreviewDialog | None:
        rows = self.selected_rows()
        if not rows:
            self.statusBar().showMessage("Select an image to preview first.", 4000)
            return None
        dialog = PreviewDialog(self.thumbnails, rows[0], self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _preview_index(self, index: QModelIndex) -> None:
        row = self.proxy.data(index, Role.ROW)
        if row is not None:
            dialog = PreviewDialog(self.thumbnails, row, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.show()

    def preferences_dialog(self) -> PreferencesDialog:
        """The Preferences dialog, showing the folder open now as the cache folder."""
        return PreferencesDialog(
            self.preferences, self.cache.root if self.cache is not None else None, self
        )

    def edit_preferences(self) -> None:
        dialog = self.preferences_dialog()
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        dialog.apply_to(self.preferences)
        folder = dialog.chosen_folder()
        self.app_settings.save(self.preferences)
        if folder is not None:
            self.open_cache(folder)
        elif self.cache is not None and not self.controller.is_running():
            self.open_cache(self.cache.root, remember=False)  # new limits: a reopened cache

    def set_view(self, mode: str) -> None:
        grid = mode == "grid"
        self._view_mode = "grid" if grid else "table"
        self._show_current_view()
        self.commands.view_grid.setChecked(grid)
        self.commands.view_table.setChecked(not grid)
        self.thumbnail_size.setVisible(grid)
        self.app_settings.save_view_mode(self._view_mode)

    def _show_current_view(self) -> None:
        """The table or the grid; for an open cache with no image, how to add some. A view
        coming into sight takes the keys (arrows, Home), unless the user is typing a search."""
        empty = self.cache is not None and self.model.rowCount() == 0
        shown = self.empty_hint if empty else self.grid if self._view_mode == "grid" else self.table
        if shown is self.views.currentWidget():
            return
        self.views.setCurrentWidget(shown)
        if not empty and not (self.search.hasFocus() or self.status_filter.hasFocus()):
            shown.setFocus()

    def show_status(self, status: StatusFilter) -> None:
        self.status_filter.setCurrentIndex(self.status_filter.findData(status))

    def set_thumbnail_edge(self, edge: int) -> None:
        edge = min(GRID_EDGES, key=lambda size: abs(size - edge))
        self.grid_delegate.edge = edge
        self.grid.setGridSize(tile_size(edge))
        self.thumbnail_size.blockSignals(True)
        self.thumbnail_size.setValue(GRID_EDGES.index(edge))
        self.thumbnail_size.blockSignals(False)
        self.commands.larger_thumbnails.setEnabled(edge < GRID_EDGES[-1])
        self.commands.smaller_thumbnails.setEnabled(edge > GRID_EDGES[0])
        self.app_settings.save_grid_edge(edge)

    def _step_thumbnail_size(self, step: int) -> None:
        position = GRID_EDGES.index(self.grid_delegate.edge) + step
        self.set_thumbnail_edge(GRID_EDGES[max(0, min(position, len(GRID_EDGES) - 1))])

    def _show_details_pane(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.app_settings.save_details_shown(shown)

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

    def _choose_category(self, category: str | None) -> None:
        for number in range(self.categories.rowCount()):
            if self.categories.item(number).data(Qt.ItemDataRole.UserRole) == category:
                self.category_view.setCurrentIndex(self.categories.index(number, 0))
                return

    def _count_soon(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_status_counts(self) -> None:
        """The filter's counts, the status bar's "N failed" and Retry Failed, from the rows as
        they are now (deleted rows are no longer counted)."""
        self.counts = counts = self.model.status_counts()
        numbers = {
            StatusFilter.FAILED: counts.failed,
            StatusFilter.CHANGED: counts.changed,
            StatusFilter.NOT_REFRESHED: counts.not_refreshed,
        }
        for position in range(self.status_filter.count()):
            status = self.status_filter.itemData(position)
            number = numbers.get(status)
            text = status.value if number is None else f"{status.value} ({number})"
            self.status_filter.setItemText(position, text)
        self.failures_button.setText(f"{counts.failed} failed" if counts.failed else "")
        self.failures_button.setVisible(counts.failed > 0)
        self.commands.retry_failed.setEnabled(self.cache is not None and counts.failed > 0)

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
            self.commands.preview,
        ):
            action.setEnabled(has_cache and has_selection)
        for action in (self.commands.add_urls, self.commands.paste_urls, self.commands.select_all):
            action.setEnabled(has_cache)
        self.commands.retry_failed.setEnabled(has_cache and self.counts.failed > 0)

    def _restore_window_state(self) -> None:
        geometry, state, splitter = self.app_settings.window_state()
        if geometry is None or not self.restoreGeometry(geometry):
            screen = QGuiApplication.primaryScreen()
            available = screen.availableGeometry() if screen else QRect(QPoint(), DESIGN_SIZE)
            self.set_first_run_geometry(available)
        if state is not None:
            self.restoreState(state)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.set_view(self.app_settings.view_mode())
        self.set_thumbnail_edge(self.app_settings.grid_edge(GRID_EDGE))
        self.commands.show_details.setChecked(self.app_settings.details_shown())
        self.details.setVisible(self.app_settings.details_shown())
        self.commands.show_log.setChecked(not self.log_dock.isHidden())
        self._rebuild_recent_menu()

    def set_first_run_geometry(self, available: QRect) -> None:
        """The size and layout of a first start, on a screen whose free area is `available`."""
        geometry = first_run_geometry(available)
        self.setGeometry(geometry)
        details = int(geometry.width() * DETAILS_SHARE)
        middle = geometry.width() - CATEGORIES_WIDTH - details
        self.splitter.setSizes([CATEGORIES_WIDTH, middle, details])
        self.resizeDocks([self.log_dock], [LOG_HEIGHT], Qt.Orientation.Vertical)

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


def _retry_mode(row: ImageRow) -> RefreshMode:
    """How a failed image is tried again: as its failed refresh was asked for; one that failed
    before the window opened is downloaded if missing, else force-refreshed."""
    if row.result is not None:
        return row.result.mode
    return RefreshMode.MISSING if row.file is None else RefreshMode.FORCE


def _row_positions(selection: QItemSelection) -> list[int]:
    positions: set[int] = set()
    for number in range(selection.count()):
        selected = selection.at(number)
        positions.update(range(selected.top(), selected.bottom() + 1))
    return sorted(positions)

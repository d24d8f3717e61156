"""The window's health features: Scan, the Health column's verdicts and filter, Repair, and
Export Report (contract: cli-contract.md, "Health").

A scan runs on this panel's own TaskRunner lane (the window's lane is for the manifest's short
calls), in worker processes started by spawn (the window's Qt threads make fork unsafe); its
progress comes back as a queued signal, so the GUI thread only ever applies finished verdicts.
Repair is the window's own force refresh of the broken rows that have a source URL, so the rows
show before → after as any refresh does; the repaired files are scanned again when the batch
ends. A report is written in the background from plain records and pictures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolBar,
    QWidget,
)

from core.cancellation import Cancellation
from core.health import Health, Verdict
from core.health_scan import SCANNED, HealthRecord
from core.models import Action, ImageEntry, RefreshResult
from core.reports import ReportError, check_report_path, report_rows, write_report
from gui.actions import make_action
from gui.health_text import HealthFilter
from gui.image_model import Column
from gui.refresh_controller import BatchProgress
from gui.rows import ImageRow
from gui.tasks import TaskRunner
from gui.thumbnails import TABLE_EDGE

if TYPE_CHECKING:
    from gui.main_window import MainWindow

log = logging.getLogger(__name__)

LAST_RUN, SELECTION = "last run", "selection"
HEALTH_COLUMN_WIDTH = 260


class HealthPanel(QObject):
    """Attached once to a MainWindow: its actions, menu, toolbar items, filter and status."""

    scan_finished = Signal(object)  # the list of HealthRecords
    report_written = Signal(str)  # the report's path
    report_failed = Signal(str)  # why not
    _scan_progress = Signal(int, int)  # emitted on the scan's thread, delivered queued

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.runner = TaskRunner(1, self)  # one scan or report at a time, off the manifest lane
        self._cancel: Cancellation | None = None
        self._repairing: dict[str, Verdict | None] = {}  # key -> its verdict before the repair
        self._run_keys: list[str] = []  # the rows of the last run, in the order they finished
        self._run_kind = ""
        self._run_open = False  # a refresh batch is adding its rows to the last run
        self._before: dict[str, Verdict | None] = {}  # verdicts before the last run's repair
        self._build(window)
        self._connect(window)
        self._update_actions()

    # --- construction ---------------------------------------------------------------------
    def _build(self, window: MainWindow) -> None:
        self.scan_action = _action(
            window, "&Scan Health", "Check every cached file on disk (no download)",
            "health-scan", "Ctrl+Shift+S",
        )  # fmt: skip
        self.repair_selected_action = _action(
            window, "&Repair Selected", "Force-refresh the selected files that are broken",
            "repair", "Ctrl+Shift+E",
        )  # fmt: skip
        self.repair_all_action = _action(
            window, "Repair &All Broken", "Force-refresh every broken file that has a source URL",
            "repair", None,
        )  # fmt: skip
        self.export_run_action = _action(
            window, "&Export Report of the Last Run…",
            "Write the last scan, refresh or repair as an HTML page or CSV", "export-report",
            "Ctrl+E",
        )  # fmt: skip
        self.export_selection_action = _action(
            window, "Export Report of the &Selection…",
            "Write the selected images as an HTML page or CSV", "export-report", "Ctrl+Shift+X",
        )  # fmt: skip

        self.menu = QMenu("&Health", window)
        self.menu.setObjectName("healthMenu")
        for action in (self.scan_action, self.repair_selected_action, self.repair_all_action):
            self.menu.addAction(action)
        self.menu.addSeparator()
        self.menu.addAction(self.export_run_action)
        self.menu.addAction(self.export_selection_action)
        bar = window.menuBar()
        help_menu = next(
            (
                action
                for action in bar.actions()
                if isinstance(menu := action.menu(), QMenu)
                and window.commands.about in menu.actions()
            ),
            None,
        )
        if help_menu is not None:
            bar.insertMenu(help_menu, self.menu)
        else:
            bar.addMenu(self.menu)

        self.filter_box = QComboBox()
        self.filter_box.setAccessibleName("Health filter")
        self.filter_box.setToolTip("Show only the images of one health")
        self.filter_box.addItem("Any health", None)
        for choice in HealthFilter:
            self.filter_box.addItem(choice.label, choice)
        toolbar = window.findChild(QToolBar, "mainToolbar")
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.scan_action)
            toolbar.addAction(self.repair_all_action)
            for action in (self.scan_action, self.repair_all_action):
                widget = toolbar.widgetForAction(action)
                if widget is not None:
                    widget.setAccessibleName(action.text().replace("&", ""))
        self._place_filter(window, toolbar)
        for item in (self.repair_selected_action, self.export_selection_action):
            window.context_menu.addAction(item)

        self.status_label = QLabel()
        self.status_label.setAccessibleName("Health summary")
        window.statusBar().addPermanentWidget(self.status_label)

        header = window.table.horizontalHeader()
        header.resizeSection(Column.HEALTH, HEALTH_COLUMN_WIDTH)
        # Health right after the file's modified time, before the last refresh and the URL.
        header.moveSection(
            header.visualIndex(Column.HEALTH), header.visualIndex(Column.MODIFIED) + 1
        )

    def _place_filter(self, window: MainWindow, toolbar: QToolBar | None) -> None:
        """The health filter beside the search box, where the list is narrowed (else at the
        toolbar's end)."""
        holder = window.search.parentWidget()
        layout = holder.layout() if holder is not None else None
        if isinstance(layout, QBoxLayout) and layout.indexOf(window.search) >= 0:
            row = QHBoxLayout()
            layout.insertLayout(layout.indexOf(window.search), row)
            layout.removeWidget(window.search)
            row.addWidget(window.search, 1)
            row.addWidget(_label("Health:"))
            row.addWidget(self.filter_box)
        elif toolbar is not None:
            toolbar.addWidget(_label("Health:"))
            toolbar.addWidget(self.filter_box)

    def _connect(self, window: MainWindow) -> None:
        self.scan_action.triggered.connect(self._scan_all)
        self.repair_selected_action.triggered.connect(self.repair_selected)
        self.repair_all_action.triggered.connect(self.repair_all)
        self.export_run_action.triggered.connect(lambda: self._ask_and_export(LAST_RUN))
        self.export_selection_action.triggered.connect(lambda: self._ask_and_export(SELECTION))
        self.filter_box.currentIndexChanged.connect(self._on_filter_chosen)
        self._scan_progress.connect(self._show_progress, Qt.ConnectionType.QueuedConnection)
        window.commands.cancel.triggered.connect(self.cancel_scan)
        window.cache_opened.connect(self._on_cache_opened)
        window.table.selectionModel().selectionChanged.connect(self._update_actions)
        window.model.modelReset.connect(self._update_status)
        controller = window.controller
        controller.job_finished.connect(self._on_job_finished)
        controller.batch_finished.connect(self._on_batch_finished)

    # --- scanning ------------------------------------------------------------------------------
    def is_scanning(self) -> bool:
        return self._cancel is not None

    def is_busy(self) -> bool:
        return self.runner.is_busy()

    def _scan_all(self) -> None:
        self.scan()

    def scan(self, entries: Sequence[ImageEntry] | None = None, *, quiet: bool = False) -> bool:
        """Scan the given entries (every row by default) in the background; False when a scan
        is running or no cache is open. `quiet`: not a run of its own (a repair's re-scan)."""
        cache = self.window.cache
        if cache is None or self._cancel is not None:
            return False
        targets = list(entries) if entries is not None else [r.entry for r in self._rows()]
        cancel = self._cancel = Cancellation()
        progress = self._scan_progress.emit

        def task() -> list[HealthRecord]:
            return list(cache.scan_health(targets, cancel=cancel, progress=progress))

        self.runner.run(
            task,
            lambda records: self._on_scanned(records, quiet),
            self._on_scan_failed,
        )
        self.window.commands.cancel.setEnabled(True)
        self.window.statusBar().showMessage(f"Scanning {len(targets):,} file(s)…")
        self._update_actions()
        return True

    def cancel_scan(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.window.statusBar().showMessage("Stopping the scan; files are only read.", 4000)

    def shutdown(self) -> None:
        """The window closes: stop a scan and wait for this panel's work to end."""
        self.cancel_scan()
        self.runner.wait_for_done()

    def _show_progress(self, done: int, total: int) -> None:
        if self._cancel is not None and not self._cancel.is_set():
            self.window.statusBar().showMessage(f"Scanning… {done:,} of {total:,} files")

    def _on_scanned(self, records: list[HealthRecord], quiet: bool) -> None:
        cancelled = self._cancel is not None and self._cancel.is_set()
        self._cancel = None
        self.window.commands.cancel.setEnabled(self.window.controller.is_running())
        self.window.model.set_health({r.entry.key: r.verdict for r in records})
        wanted = self.filter_box.currentData()
        if wanted is not None:  # a health filter shows the new verdicts at once
            self.window.proxy.set_health(wanted)
        if not quiet:
            self._run_keys, self._run_kind, self._run_open = (
                [r.entry.key for r in records],
                "scan",
                False,
            )
            self._before = {}
        broken = sum(1 for r in records if not r.health.ok)
        remembered = sum(1 for r in records if r.remembered)
        read = sum(1 for r in records if not r.remembered and r.health is not Health.MISSING)
        words = "Scan stopped" if cancelled else "Scan"
        self.window.statusBar().showMessage(
            f"{words}: {len(records):,} file(s), {broken:,} broken; {read:,} read,"
            f" {remembered:,} unchanged since the last scan",
            10000,
        )
        self._update_status()
        self._update_actions()
        self.scan_finished.emit(records)

    def _on_scan_failed(self, message: str) -> None:
        self._cancel = None
        self.window.commands.cancel.setEnabled(self.window.controller.is_running())
        self.window.statusBar().showMessage(f"The scan failed: {message}", 15000)
        log.warning("the health scan failed: %s", message)
        self._update_actions()

    # --- repairing -----------------------------------------------------------------------------
    def repair_selected(self) -> list[str]:
        return self._repair(self.window.selected_rows())

    def repair_all(self) -> list[str]:
        return self._repair(self._rows())

    def _repair(self, rows: Iterable[ImageRow]) -> list[str]:
        health = self.window.model.health_of
        broken = [row for row in rows if (v := health(row.key)) is not None and not v.health.ok]
        repairable = [row for row in broken if row.entry.url is not None]
        if not repairable:
            why = "no source URL" if broken else "nothing broken there (scan first?)"
            self.window.statusBar().showMessage(f"Nothing to repair: {why}.", 5000)
            return []
        before = {row.key: health(row.key) for row in repairable}
        keys = self.window.refresh_entries([row.entry for row in repairable], force_refresh=True)
        self._repairing.update({key: before[key] for key in keys})
        self._before = {key: before[key] for key in keys}
        self._run_keys, self._run_kind, self._run_open = [], "repair", True
        return keys

    def _on_job_finished(self, key: str, _result: RefreshResult) -> None:
        if not self._run_open:  # the first result of a new refresh batch starts a new run
            self._run_keys, self._run_kind, self._run_open = [], "refresh", True
            self._before = {}
        self._run_keys.append(key)

    def _on_batch_finished(self, _batch: BatchProgress) -> None:
        self._run_open = False
        repaired, self._repairing = self._repairing, {}
        # Refreshed files with a verdict are read again: the Health column tells the truth.
        again = {key for key in self._run_keys if key in repaired}
        again |= {key for key in self._run_keys if self.window.model.health_of(key) is not None}
        rows = [row for key in again if (row := self.window.model.row_for_key(key)) is not None]
        if rows and not self.scan([row.entry for row in rows], quiet=True):
            self._repairing.update({row.key: repaired.get(row.key) for row in rows})

    # --- reports -------------------------------------------------------------------------------
    def _ask_and_export(self, which: str) -> None:
        rows = self._report_rows(which)
        if not rows:
            what = "Select the images first" if which == SELECTION else "Scan or refresh first"
            self.window.statusBar().showMessage(f"Nothing to report: {what}.", 5000)
            return
        folder = self.window.cache.root if self.window.cache else Path.home()
        name, _ = QFileDialog.getSaveFileName(
            self.window,
            "Export report",
            str(folder.parent / "image-refresh-report.html"),
            "Web page, with pictures (*.html);;Spreadsheet (*.csv)",
        )
        if name:
            path = Path(name)
            if path.suffix.lower() not in (".html", ".htm", ".csv"):
                path = path.with_suffix(".html")
            self.export_report(path, which)

    def export_report(self, path: Path, which: str = LAST_RUN) -> bool:
        """Write the report of the last run or of the selection in the background;
        `report_written` or `report_failed` follows. False when there is nothing to write."""
        cache = self.window.cache
        rows = self._report_rows(which)
        if cache is None or not rows:
            return False
        try:
            check_report_path(path)
        except ReportError as error:
            self.report_failed.emit(str(error))
            return False
        html = path.suffix.lower() != ".csv"
        items = [(self._record(row), self._old_picture(row) if html else None) for row in rows]
        title = {
            "scan": "Image Refresh: health scan",
            "repair": "Image Refresh: repair",
            "refresh": "Image Refresh: refresh",
        }.get(self._run_kind if which == LAST_RUN else "", "Image Refresh: selected images")
        root = cache.root

        def task() -> str:
            write_report(path, report_rows(items, pictures=html), title, cache_root=root)
            return str(path)

        self.runner.run(task, self._on_report_written, self._on_report_failed)
        return True

    def _on_report_written(self, path: str) -> None:
        self.window.statusBar().showMessage(f"Report written to {path}", 10000)
        self.report_written.emit(path)

    def _on_report_failed(self, message: str) -> None:
        self.window.statusBar().showMessage(f"The report was not written: {message}", 15000)
        self.report_failed.emit(message)

    def _report_rows(self, which: str) -> list[ImageRow]:
        if which == SELECTION:
            return self.window.selected_rows()
        rows = (self.window.model.row_for_key(key) for key in dict.fromkeys(self._run_keys))
        return [row for row in rows if row is not None]

    def _record(self, row: ImageRow) -> dict[str, object]:
        """The row as the command line's JSON record, with its health (before a repair) and
        the health now."""
        verdict = self.window.model.health_of(row.key)
        result = row.result if row.key in self._run_keys else None
        if result is not None:
            record = result.to_json_dict()
        else:
            facts = row.file
            record = {
                "url": row.entry.url,
                "path": str(row.path) if row.path else None,
                "category": row.entry.category,
                "action": SCANNED if verdict else "listed",
                "before_mtime": facts.mtime if facts else None,
                "after_mtime": facts.mtime if facts else None,
                "bytes": facts.size if facts else None,
                "sha256": verdict.sha256 if verdict else row.entry.sha256,
                "ok": verdict.health.ok if verdict else facts is not None,
                "error": None if not verdict or verdict.health.ok else verdict.detail,
            }
        before = self._before.get(row.key) if row.key in self._before else verdict
        if before is not None:
            record["health"], record["detail"] = before.health.value, before.detail
        if result is not None and row.key in self._before and verdict is not None:
            record["health_after"] = verdict.health.value
            record["ok"] = result.ok and verdict.health.ok
        return record

    def _old_picture(self, row: ImageRow) -> bytes | None:
        """The picture the row showed before its refresh, from the thumbnails in memory."""
        result = row.result
        if result is None or result.action not in (Action.REFRESHED, Action.UPDATED):
            return None
        if result.before_mtime is None or result.before_size is None:
            return None
        path = str(row.path if row.path else result.path)
        for edge in (TABLE_EDGE, 256):
            pixmap = self.window.thumbnails.cached(
                (path, result.before_mtime, result.before_size, edge)
            )
            if pixmap is not None:
                return _png(pixmap)
        return None

    # --- state ---------------------------------------------------------------------------------
    def _rows(self) -> list[ImageRow]:
        return self.window.model.rows()

    def _on_cache_opened(self, _folder: str) -> None:
        self._run_keys, self._run_kind, self._before, self._repairing = [], "", {}, {}
        self._update_status()
        self._update_actions()

    def _on_filter_chosen(self, _position: int) -> None:
        self.window.proxy.set_health(self.filter_box.currentData())

    def _update_status(self) -> None:
        scanned, broken = self.window.model.health_counts()
        if not scanned:
            self.status_label.setText("")
            return
        text = f"Health: {broken:,} broken, {scanned - broken:,} ok"
        rows = self.window.model.rowCount()
        if scanned < rows:
            text += f", {rows - scanned:,} not scanned"
        self.status_label.setText(text)

    def _update_actions(self) -> None:
        has_cache = self.window.cache is not None
        idle = self._cancel is None
        selection = self.window.table.selectionModel().hasSelection()
        self.scan_action.setEnabled(has_cache and idle)
        self.repair_all_action.setEnabled(has_cache)
        self.repair_selected_action.setEnabled(has_cache and selection)
        self.export_selection_action.setEnabled(has_cache and selection)
        self.export_run_action.setEnabled(has_cache and bool(self._run_keys))


def _action(parent: QWidget, text: str, tip: str, icon_name: str, shortcut: str | None) -> QAction:
    """The window's kind of action (gui.actions), named for the tests that drive it."""
    action = make_action(parent, text, tip, icon_name, (shortcut,) if shortcut else ())
    action.setObjectName(
        f"action_{text.replace('&', '').replace('…', '').replace(' ', '_').lower()}"
    )
    return action


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setContentsMargins(8, 0, 4, 0)
    return label


def _png(pixmap: QPixmap) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.toImage().save(buffer, b"PNG")
    return bytes(buffer.data().data())

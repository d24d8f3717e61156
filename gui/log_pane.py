"""The log dock: the core's log records, live, with a level filter and copy."""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QBrush, QColor, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.logging_setup import CORE_LOGGER
from core.timestamps import format_mtime

MAX_RECORDS = 5000
LEVELS = {
    "Debug": logging.DEBUG,
    "Info": logging.INFO,
    "Warnings": logging.WARNING,
    "Errors": logging.ERROR,
}


# "before_mtime=1796005357.150000", "(mtime 1796005357.150000": POSIX seconds, as the core logs
# them (its log file keeps them exact); the pane shows them as local times.
_POSIX_TIME = re.compile(r"\b(\w*mtime)([= ])(\d{9,11}\.\d+)\b")


def readable_times(text: str) -> str:
    """`text` with every logged mtime as a local date and time, to the millisecond."""
    return _POSIX_TIME.sub(lambda m: f"{m[1]}{m[2]}{format_mtime(float(m[3]))}", text)


@dataclass(frozen=True, slots=True)
class LogLine:
    level: int
    text: str


class _HandlerSignals(QObject):
    record = Signal(object)  # LogLine


class QtLogHandler(logging.Handler):
    """Turns log records (from any thread) into queued signals for the GUI thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
        self.signals = _HandlerSignals()

    def emit(self, record: logging.LogRecord) -> None:
        # RuntimeError: the window is gone while a worker still logs.
        with contextlib.suppress(RuntimeError):
            self.signals.record.emit(LogLine(record.levelno, readable_times(self.format(record))))


class LogModel(QAbstractListModel):
    """Log lines, appended in batches so a burst of records costs one update."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lines: list[LogLine] = []
        self._incoming: list[LogLine] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(100)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self.flush)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._lines)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        line = self._lines[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return line.text
        if role == Qt.ItemDataRole.UserRole:
            return line.level
        if role == Qt.ItemDataRole.ForegroundRole and line.level >= logging.WARNING:
            return QBrush(QColor(190, 40, 40))
        return None

    def append(self, line: LogLine) -> None:
        self._incoming.append(line)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        if not self._incoming:
            return
        incoming, self._incoming = self._incoming[-MAX_RECORDS:], []
        overflow = len(self._lines) + len(incoming) - MAX_RECORDS
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, min(overflow, len(self._lines)) - 1)
            del self._lines[:overflow]
            self.endRemoveRows()
        start = len(self._lines)
        self.beginInsertRows(QModelIndex(), start, start + len(incoming) - 1)
        self._lines.extend(incoming)
        self.endInsertRows()

    def lines(self) -> list[LogLine]:
        return list(self._lines)


class LevelFilter(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._minimum = logging.INFO

    def set_minimum(self, level: int) -> None:
        self.beginFilterChange()  # invalidateFilter() is deprecated since Qt 6.10
        self._minimum = level
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        level = (
            self.sourceModel().index(source_row, 0, source_parent).data(Qt.ItemDataRole.UserRole)
        )
        return int(level) >= self._minimum


class LogDock(QDockWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Log", parent)
        self.setObjectName("logDock")
        self.handler = QtLogHandler()
        self.model = LogModel(self)
        self.filter = LevelFilter(self)
        self.filter.setSourceModel(self.model)
        self.handler.signals.record.connect(self.model.append)
        logging.getLogger(CORE_LOGGER).addHandler(self.handler)

        self.view = QListView()
        self.view.setModel(self.filter)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setUniformItemSizes(True)
        self.view.setAccessibleName("Log records")
        self.view.setFont(QGuiApplication.font())
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.level.setAccessibleName("Log level filter")
        self.level.currentTextChanged.connect(lambda name: self.filter.set_minimum(LEVELS[name]))
        copy = QPushButton("Copy")
        copy.setAccessibleName("Copy log lines")
        copy.setToolTip("Copy the selected log lines (all lines if none is selected)")
        copy.clicked.connect(self.copy_lines)
        self.view.addAction(self._copy_shortcut())
        self.model.rowsInserted.connect(self._follow)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.level)
        bar.addStretch(1)
        bar.addWidget(copy)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        self.setWidget(body)

    def _copy_shortcut(self) -> QAction:
        action = QAction("Copy", self.view)
        action.setShortcut(QKeySequence.StandardKey.Copy)
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(self.copy_lines)
        return action

    def _follow(self) -> None:
        bar = self.view.verticalScrollBar()
        if bar.value() >= bar.maximum() - 4:
            # the view as context: the call is dropped if the dock is deleted first
            QTimer.singleShot(0, self.view, self.view.scrollToBottom)

    def copy_lines(self) -> None:
        selected = sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())
        indexes = selected or [self.filter.index(r, 0) for r in range(self.filter.rowCount())]
        QGuiApplication.clipboard().setText("\n".join(str(i.data()) for i in indexes))

    def detach(self) -> None:
        logging.getLogger(CORE_LOGGER).removeHandler(self.handler)

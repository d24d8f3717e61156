"""The table model: one row per cached image, read by the table, the grid and the details pane.

`data()` never touches the disk: rows carry a stat taken off the GUI thread, and thumbnails come
from the ThumbnailLoader's memory cache (or a placeholder while they decode).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
)
from PySide6.QtGui import QBrush, QColor

from core.health import Verdict
from core.models import RefreshResult
from core.secrets import redact
from gui.health_text import BROKEN as _BROKEN
from gui.health_text import HEALTHY as _HEALTHY
from gui.health_text import health_sort_key, health_text, health_tooltip
from gui.result_text import (
    Mark,
    full_time,
    is_changed,
    is_failed,
    mark_of,
    result_lines,
    result_text,
    result_tooltip,
)
from gui.rows import ImageRow, RowState
from gui.thumbnails import TABLE_EDGE, ThumbnailKey, ThumbnailLoader

AnyIndex = QModelIndex | QPersistentModelIndex
_ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class Column(enum.IntEnum):
    THUMBNAIL = 0
    NAME = 1
    CATEGORY = 2
    DIMENSIONS = 3
    SIZE = 4
    MODIFIED = 5
    URL = 6
    RESULT = 7
    HEALTH = 8


HEADERS = {
    Column.THUMBNAIL: "",
    Column.NAME: "Name",
    Column.CATEGORY: "Category",
    Column.DIMENSIONS: "Dimensions",
    Column.SIZE: "Size",
    Column.MODIFIED: "Modified",
    Column.URL: "Source URL",
    Column.RESULT: "Last refresh",
    Column.HEALTH: "Health",
}
# Rows a scan's new verdicts are announced for at a time (see set_health).
HEALTH_ROWS_PER_TURN = 1000
# Rows whose sort value changed (a refresh sorted by modified time) move at most twice a second.
RESORT_DELAY_MS = 500


class Role(enum.IntEnum):
    ROW = Qt.ItemDataRole.UserRole + 1
    SORT = Qt.ItemDataRole.UserRole + 2
    # The second line of a two-line cell: the source under the name, the times or the reason
    # under the refresh's headline.
    DETAIL = Qt.ItemDataRole.UserRole + 3
    MARK = Qt.ItemDataRole.UserRole + 4  # result_text.Mark of the row
    HEALTH = Qt.ItemDataRole.UserRole + 5  # the health's value ("ok", "truncated", ...) or None


# What the Health column shows, from the verdicts the model keeps beside its rows.
_HEALTH_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.AccessibleTextRole,
        Role.SORT,
    }
)


MARK_COLOURS = {
    Mark.REFRESHED: QColor(30, 130, 60),
    Mark.SAME_BYTES: QColor(40, 100, 160),
    Mark.FAILED: QColor(190, 40, 40),
    Mark.CANCELLED: QColor(150, 110, 20),
    Mark.RUNNING: QColor(40, 100, 160),
    Mark.QUEUED: QColor(110, 110, 110),
    Mark.UNCHANGED: QColor(110, 110, 110),
    Mark.REFUSED: QColor(150, 60, 150),
    Mark.REVERTED: QColor(30, 110, 130),
}


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


class ImageTableModel(QAbstractTableModel):
    def __init__(self, thumbnails: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ImageRow] = []
        self._health: dict[str, Verdict] = {}  # row key -> the last scan's verdict
        self._health_changed: set[int] = set()  # positions whose new verdict is not announced
        self._health_timer = QTimer(self)
        self._health_timer.setSingleShot(True)
        self._health_timer.setInterval(0)
        self._health_timer.timeout.connect(self._announce_health)
        self._index_of_key: dict[str, int] = {}
        self._index_of_path: dict[str, int] = {}
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnail_ready)
        self._sort: tuple[Column, Qt.SortOrder] | None = None
        self._resort_timer = QTimer(self)
        self._resort_timer.setSingleShot(True)
        self._resort_timer.setInterval(RESORT_DELAY_MS)
        self._resort_timer.timeout.connect(self._resort)

    # --- Qt model interface -------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.ToolTipRole and section == Column.THUMBNAIL:
                return "Thumbnail"
        return super().headerData(section, orientation, role)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        return _ROW_FLAGS if index.isValid() else Qt.ItemFlag.ItemIsDropEnabled

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if column is Column.HEALTH and role in _HEALTH_ROLES:
            return self._health_data(self._health.get(row.key), role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Role.DETAIL:
            return self._detail(row, column)
        if role == Role.MARK:
            return mark_of(row)
        if role == Qt.ItemDataRole.DecorationRole and column is Column.THUMBNAIL:
            key = row.thumbnail_key
            return self._thumbnails.pixmap((*key, TABLE_EDGE)) if key else None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column)
        if role == Qt.ItemDataRole.ForegroundRole and column is Column.RESULT:
            colour = MARK_COLOURS.get(mark_of(row))
            return QBrush(colour) if colour else None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            if column is Column.RESULT:
                return result_text(row) or HEADERS[column]
            return self._display(row, column) or HEADERS[column]
        if role == Role.ROW:
            return row
        if role == Role.SORT:
            return self._sort_key(row, column)
        if role == Role.HEALTH:
            verdict = self._health.get(row.key)
            return verdict.health.value if verdict else None
        return None

    @staticmethod
    def _health_data(verdict: Verdict | None, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return health_text(verdict) or (
                HEADERS[Column.HEALTH] if role == Qt.ItemDataRole.AccessibleTextRole else ""
            )
        if role == Qt.ItemDataRole.ToolTipRole:
            return health_tooltip(verdict)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(_HEALTHY if verdict.health.ok else _BROKEN) if verdict else None
        return health_sort_key(verdict)  # Role.SORT

    # --- presentation ---------------------------------------------------------------------------
    @staticmethod
    def _display(row: ImageRow, column: Column) -> str | None:
        entry = row.entry
        match column:
            case Column.THUMBNAIL:
                return None
            case Column.NAME:
                return row.name
            case Column.CATEGORY:
                return entry.category
            case Column.DIMENSIONS:
                return f"{entry.width} × {entry.height}" if entry.width and entry.height else ""
            case Column.SIZE:
                return human_size(row.file.size if row.file else None)
            case Column.MODIFIED:
                return full_time(row.file.mtime if row.file else None)
            case Column.URL:
                return redact(entry.url) or "(no URL: found on disk)"
            case Column.RESULT:
                lines = result_lines(row)
                return f"{lines.mark.value} {lines.headline}".strip()
            case Column.HEALTH:
                return None  # the model's own (see _health_data)
        return None

    @staticmethod
    def _detail(row: ImageRow, column: Column) -> str | None:
        if column is Column.NAME:
            return row.source
        if column is Column.RESULT:
            return result_lines(row).detail
        return None

    @staticmethod
    def _tooltip(row: ImageRow, column: Column) -> str | None:
        if column is Column.RESULT:
            return result_tooltip(row) or result_text(row) or None
        if column is Column.URL:
            return redact(row.entry.url)
        if column in (Column.NAME, Column.THUMBNAIL):  # the grid's tile too
            lines = [row.name, redact(row.entry.url) or "(no source URL: found on disk)"]
            if row.path:
                lines.append(str(row.path))
            if shown := result_text(row):
                lines.append(shown)
            return "\n".join(lines)
        return None

    @staticmethod
    def _sort_value(row: ImageRow, column: Column) -> Any:
        entry = row.entry
        match column:
            case Column.DIMENSIONS:
                return (entry.width or 0) * (entry.height or 0)
            case Column.SIZE:
                return row.file.size if row.file else -1
            case Column.MODIFIED:
                return row.file.mtime if row.file else 0.0
            case Column.THUMBNAIL | Column.NAME:
                return row.name.lower()
            case Column.RESULT:
                return mark_of(row).name
        return (ImageTableModel._display(row, column) or "").lower()

    def _sort_key(self, row: ImageRow, column: Column) -> Any:
        if column is Column.HEALTH:
            return health_sort_key(self._health.get(row.key))
        return self._sort_value(row, column)

    # --- sorting --------------------------------------------------------------------------------
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort here, one key per row (the proxy forwards its sort() to this).

        QSortFilterProxyModel would call data(), rowCount() and columnCount() in Python for every
        comparison: about 1 s on the GUI thread for 10,000 rows, here some 30 ms.
        """
        self._sort = (Column(column), order) if 0 <= column < len(Column) else None
        self._resort()

    def _sorted(self, rows: Iterable[ImageRow]) -> list[ImageRow]:
        if self._sort is None:
            return list(rows)
        column, order = self._sort
        return sorted(
            rows,
            key=lambda row: self._sort_key(row, column),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )

    def _resort(self) -> None:
        self._resort_timer.stop()
        if self._sort is None:
            return
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [self._rows[index.row()].key for index in persistent]
        self._rows = self._sorted(self._rows)
        self._reindex()
        moved = [
            self.index(self._index_of_key[key], index.column())
            for key, index in zip(keys, persistent, strict=True)
        ]
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def _resort_if_moved(self, old: ImageRow, new: ImageRow) -> None:
        if self._sort is not None and not self._resort_timer.isActive():
            column = self._sort[0]
            if self._sort_key(old, column) != self._sort_key(new, column):
                self._resort_timer.start()

    # --- updates --------------------------------------------------------------------------------
    def set_rows(self, rows: Iterable[ImageRow]) -> None:
        self.beginResetModel()
        self._health.clear()
        self._health_changed.clear()
        self._rows = self._sorted(rows)
        self._reindex()
        self.endResetModel()

    def _reindex(self) -> None:
        self._index_of_key = {row.key: i for i, row in enumerate(self._rows)}
        self._index_of_path = {str(row.path): i for i, row in enumerate(self._rows) if row.path}

    def rows(self) -> list[ImageRow]:
        return list(self._rows)

    def row_for_key(self, key: str) -> ImageRow | None:
        position = self._index_of_key.get(key)
        return self._rows[position] if position is not None else None

    def index_for_key(self, key: str, column: Column = Column.NAME) -> QModelIndex:
        position = self._index_of_key.get(key)
        return self.index(position, column) if position is not None else QModelIndex()

    def update_row(self, key: str, change: Callable[[ImageRow], ImageRow]) -> None:
        position = self._index_of_key.get(key)
        if position is None:
            return
        old, new = self._rows[position], change(self._rows[position])
        self._rows[position] = new
        if old.path != new.path:
            self._index_of_path.pop(str(old.path), None)
            if new.path:
                self._index_of_path[str(new.path)] = position
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(Column) - 1))
        self._resort_if_moved(old, new)

    def replace_row(self, key: str, row: ImageRow) -> None:
        """Put `row` where the row of `key` is, under its own key (an image given a new source
        URL is known by it from now on); the last scan's verdict stays with the file."""
        position = self._index_of_key.get(key)
        if position is None:
            return
        verdict = self._health.pop(key, None)
        if verdict is not None:
            self._health[row.key] = verdict
        old, self._rows[position] = self._rows[position], row
        self._reindex()
        self.dataChanged.emit(self.index(position, 0), self.index(position, len(Column) - 1))
        self._resort_if_moved(old, row)

    def set_state(self, keys: Iterable[str], state: RowState) -> None:
        """One dataChanged for all the rows: 1,000 rows queued at once are one update, not 1,000."""
        positions = []
        for key in keys:
            position = self._index_of_key.get(key)
            if position is not None:
                self._rows[position] = _with_state(self._rows[position], state)
                positions.append(position)
        if positions:
            if self._sort is not None and self._sort[0] is Column.RESULT:  # the state's column
                self._resort_timer.start()
            top, bottom = min(positions), max(positions)
            self.dataChanged.emit(self.index(top, 0), self.index(bottom, len(Column) - 1))

    def set_health(self, verdicts: Mapping[str, Verdict]) -> None:
        """The verdicts of a scan, by row key: kept beside the rows (a scan of 10,000 files
        changes no row). Views and the proxy hear of them a slice of rows per turn of the
        event loop: told at once, the proxy calls filterAcceptsRow (Python) for every row,
        a 30 ms pause for 10,000."""
        for key, verdict in verdicts.items():
            position = self._index_of_key.get(key)
            if position is not None:
                self._health[key] = verdict
                self._health_changed.add(position)
        if self._health_changed and not self._health_timer.isActive():
            self._health_timer.start()
        if self._sort is not None and self._sort[0] is Column.HEALTH:
            self._resort_timer.start()

    def _announce_health(self) -> None:
        # Rows removed since are gone from the view; rows moved by a sort were all repainted.
        changed = sorted(p for p in self._health_changed if p < len(self._rows))
        if not changed:
            self._health_changed.clear()
            return
        ready = changed[:HEALTH_ROWS_PER_TURN]
        self._health_changed.difference_update(ready)
        if self._health_changed:
            self._health_timer.start()
        self.dataChanged.emit(
            self.index(ready[0], Column.HEALTH), self.index(ready[-1], Column.HEALTH)
        )

    def health_of(self, key: str) -> Verdict | None:
        """The last scan's verdict on a row's file (None: not scanned since the cache opened)."""
        return self._health.get(key)

    def health_counts(self) -> tuple[int, int]:
        """How many rows have a verdict, and how many of those are not ok."""
        return len(self._health), sum(1 for v in self._health.values() if not v.health.ok)

    def apply_result(self, key: str, result: RefreshResult) -> None:
        self.update_row(key, lambda row: row.with_result(result))

    def set_progress(self, key: str, received: int) -> None:
        position = self._index_of_key.get(key)
        if position is None:
            return
        row = self._rows[position]
        self._rows[position] = _with_progress(row, received)
        index = self.index(position, Column.RESULT)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole])

    def remove_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self._health.pop(key, None)
        positions = sorted({self._index_of_key[k] for k in keys if k in self._index_of_key})
        for position in reversed(positions):
            self.beginRemoveRows(QModelIndex(), position, position)
            del self._rows[position]
            self.endRemoveRows()
        self._reindex()

    def add_rows(self, rows: Iterable[ImageRow]) -> None:
        new = [row for row in rows if row.key not in self._index_of_key]
        if not new:
            return
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        self._rows.extend(new)
        self._reindex()
        self.endInsertRows()
        self._resort()

    def status_counts(self) -> StatusCounts:
        """How many rows failed, changed, or were not refreshed since the window opened."""
        counts = StatusCounts()
        for row in self._rows:
            if is_failed(row):
                counts.failed += 1
            if is_changed(row):
                counts.changed += 1
            if row.result is None:
                counts.not_refreshed += 1
        return counts

    def _on_thumbnail_ready(self, key: ThumbnailKey) -> None:
        path, mtime, size, _edge = key
        position = self._index_of_path.get(path)
        if position is not None and self._rows[position].thumbnail_key == (path, mtime, size):
            # The picture shows in the table's thumbnail column and on the grid's tile, which
            # is the name column (QListView.modelColumn): both are told, or the grid never
            # repaints its tiles.
            self.dataChanged.emit(
                self.index(position, Column.THUMBNAIL),
                self.index(position, Column.NAME),
                [Qt.ItemDataRole.DecorationRole],
            )


@dataclass
class StatusCounts:
    failed: int = 0
    changed: int = 0
    not_refreshed: int = 0


def _with_state(row: ImageRow, state: RowState, received: int = 0) -> ImageRow:
    # Not dataclasses.replace, which looks the fields up on every call: a Select All and
    # Force Refresh marks 1,000 rows at once on the GUI thread (5 ms against 2.5 ms).
    return ImageRow(row.entry, row.path, row.file, state, row.result, received)


def _with_progress(row: ImageRow, received: int) -> ImageRow:
    return _with_state(row, RowState.RUNNING, received)

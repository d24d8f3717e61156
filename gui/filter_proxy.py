"""Filtering of the image list: by category, by a search in name or URL, and by what the last
refresh did (failed, changed, not refreshed yet); the model sorts."""

from __future__ import annotations

import enum

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

from gui.health_text import HealthFilter
from gui.image_model import ImageTableModel, Role
from gui.result_text import is_changed, is_failed
from gui.rows import ImageRow
from gui.safety_text import picture_changed


class StatusFilter(enum.Enum):
    ALL = "All images"
    FAILED = "Failed"
    CHANGED = "Changed"
    NOT_REFRESHED = "Not refreshed yet"

    def accepts(self, row: ImageRow) -> bool:
        match self:
            case StatusFilter.FAILED:
                return is_failed(row)
            case StatusFilter.CHANGED:
                return is_changed(row)
            case StatusFilter.NOT_REFRESHED:
                return row.result is None
        return True


class ImageFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._category: str | None = None
        self._words: list[str] = []
        self._status = StatusFilter.ALL
        self._changed_only = False  # the safety net's View ▸ Only Changed Pictures
        self._health: HealthFilter | None = None
        self.setSortRole(Role.SORT)

    def category(self) -> str | None:
        return self._category

    def search_words(self) -> list[str]:
        return list(self._words)

    def status(self) -> StatusFilter:
        return self._status

    def set_changed_only(self, enabled: bool) -> None:
        """Show only the rows whose last replacement changed the picture (gui.safety_net)."""
        self.beginFilterChange()
        self._changed_only = enabled
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_category(self, category: str | None) -> None:
        self.beginFilterChange()
        self._category = category
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_search(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_health(self, wanted: HealthFilter | None) -> None:
        """Show only the rows whose health `wanted` accepts (None: every row)."""
        self.beginFilterChange()
        self._health = wanted
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def set_status(self, status: StatusFilter) -> None:
        self.beginFilterChange()
        self._status = status
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts its rows (ImageTableModel.sort); this proxy keeps their order."""
        source = self.sourceModel()
        if isinstance(source, ImageTableModel):
            source.sort(column, order)
        else:
            super().sort(column, order)

    def accepts(self, row: ImageRow) -> bool:
        """Whether the filters let this row through (for rows not in the model yet, too)."""
        if self._category is not None and row.entry.category != self._category:
            return False
        if self._words and not all(word in row.search_text for word in self._words):
            return False
        if self._changed_only and not picture_changed(row):
            return False
        return self._status.accepts(row)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if (
            self._category is None
            and not self._words
            and self._status is StatusFilter.ALL
            and not self._changed_only
            and self._health is None
        ):
            return True  # no call back into the model: this runs for every row on each reset
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._health is not None and not self._health.accepts(index.data(Role.HEALTH)):
            return False
        row: ImageRow | None = index.data(Role.ROW)
        return row is not None and self.accepts(row)

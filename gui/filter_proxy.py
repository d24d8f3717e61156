"""Filtering of the image list, by category and by a search in name or URL; the model sorts."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

from gui.health_text import HealthFilter
from gui.image_model import ImageTableModel, Role


class ImageFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._category: str | None = None
        self._words: list[str] = []
        self._health: HealthFilter | None = None
        self.setSortRole(Role.SORT)

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

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The source model sorts its rows (ImageTableModel.sort); this proxy keeps their order."""
        source = self.sourceModel()
        if isinstance(source, ImageTableModel):
            source.sort(column, order)
        else:
            super().sort(column, order)

    def filterAcceptsRow(
        self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if self._category is None and not self._words and self._health is None:
            return True  # no call back into the model: this runs for every row on each reset
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._category is not None and index.data(Role.CATEGORY) != self._category:
            return False
        if self._health is not None and not self._health.accepts(index.data(Role.HEALTH)):
            return False
        haystack = index.data(Role.SEARCH) or ""
        return all(word in haystack for word in self._words)

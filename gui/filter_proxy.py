"""Filtering of the image list, by category and by a search in name or URL; the model sorts."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

from gui.image_model import ImageTableModel, Role
from gui.safety_text import picture_changed


class ImageFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._category: str | None = None
        self._words: list[str] = []
        self._changed_only = False  # the safety net's View ▸ Only Changed Pictures
        self.setSortRole(Role.SORT)

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
        if self._category is None and not self._words and not self._changed_only:
            return True  # no call back into the model: this runs for every row on each reset
        index = self.sourceModel().index(source_row, 0, source_parent)
        if self._changed_only and not picture_changed(index.data(Role.ROW)):
            return False
        if self._category is not None and index.data(Role.CATEGORY) != self._category:
            return False
        haystack = index.data(Role.SEARCH) or ""
        return all(word in haystack for word in self._words)

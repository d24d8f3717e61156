"""A table header that paints without scanning the selection.

Qt's header works out, for every section it paints, whether the sections beside it are wholly
selected ("selected position", for styles that draw selected headers joined). For a table whose
rows are selected whole that answer never changes anything on screen, but it costs a flags() call
into Python for every selected row and every column: 17 ms per header repaint with 1,000 rows
selected, and many times that while refresh workers share the GIL.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor, QMouseEvent
from PySide6.QtWidgets import QHeaderView, QStyle, QStyleOptionHeader, QWidget

_Position = QStyleOptionHeader.SectionPosition


class RowSelectionHeader(QHeaderView):
    """A horizontal header for views that select whole rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setHighlightSections(False)
        self._pressed = -1

    def initStyleOptionForIndex(self, option: QStyleOptionHeader, logicalIndex: int) -> None:  # noqa: N803 (Qt's name)
        """Qt's own options for a section, minus the selection-derived ones."""
        model = self.model()
        if self.window().isActiveWindow():
            option.state |= QStyle.StateFlag.State_Active
        if self.sectionsClickable() and logicalIndex == self._pressed:
            option.state |= QStyle.StateFlag.State_Sunken
        if self.underMouse() and logicalIndex == self.logicalIndexAt(
            self.mapFromGlobal(QCursor.pos())
        ):
            option.state |= QStyle.StateFlag.State_MouseOver
        if self.isSortIndicatorShown() and self.sortIndicatorSection() == logicalIndex:
            option.sortIndicator = (
                QStyleOptionHeader.SortIndicator.SortDown
                if self.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
                else QStyleOptionHeader.SortIndicator.SortUp
            )
        option.section = logicalIndex
        option.orientation = self.orientation()
        option.textAlignment = self.defaultAlignment()
        option.iconAlignment = Qt.AlignmentFlag.AlignVCenter
        text = model.headerData(logicalIndex, self.orientation(), Qt.ItemDataRole.DisplayRole)
        option.text = str(text) if text is not None else ""
        option.position = self._position(self.visualIndex(logicalIndex))
        option.selectedPosition = QStyleOptionHeader.SelectedPosition.NotAdjacent

    def _position(self, visual: int) -> _Position:
        shown = [v for v in range(self.count()) if not self.isSectionHidden(self.logicalIndex(v))]
        first, last = visual == shown[0], visual == shown[-1]
        if first and last:
            return _Position.OnlyOneSection
        if first:
            return _Position.Beginning
        return _Position.End if last else _Position.Middle

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pressed = self.logicalIndexAt(event.position().toPoint())
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._pressed = -1
        super().mouseReleaseEvent(event)

"""Paints a grid tile: the thumbnail, the file name, its modified time and the refresh mark."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.image_model import Role
from gui.result_text import clock, mark_of
from gui.rows import ImageRow
from gui.thumbnails import GRID_EDGE, ThumbnailLoader

TILE = QSize(GRID_EDGE + 36, GRID_EDGE + 56)


class GridDelegate(QStyledItemDelegate):
    def __init__(self, thumbnails: ThumbnailLoader) -> None:
        super().__init__()
        self._thumbnails = thumbnails

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return TILE

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row: ImageRow | None = index.data(Role.ROW)
        if row is None:
            return
        painter.save()
        rect: QRect = option.rect
        palette = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect.adjusted(2, 2, -2, -2), palette.highlight())
            painter.setPen(palette.highlightedText().color())
        else:
            painter.setPen(palette.text().color())
        key = row.thumbnail_key
        pixmap = (
            self._thumbnails.pixmap((*key, GRID_EDGE))
            if key
            else self._thumbnails.placeholder(GRID_EDGE)
        )
        x = rect.x() + (rect.width() - pixmap.width()) // 2
        painter.drawPixmap(x, rect.y() + 6 + (GRID_EDGE - pixmap.height()) // 2, pixmap)
        text_rect = QRect(rect.x() + 4, rect.y() + GRID_EDGE + 10, rect.width() - 8, 18)
        metrics = painter.fontMetrics()
        name = metrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, name)
        mark = mark_of(row).value
        when = clock(row.file.mtime if row.file else None)
        painter.drawText(
            text_rect.translated(0, 18), Qt.AlignmentFlag.AlignCenter, f"{mark} {when}".strip()
        )
        painter.restore()

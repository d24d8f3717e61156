"""Paints a grid tile: the thumbnail, the file's name, its source, the refresh mark with the
file's time, and what it was before the last refresh (or why that refresh failed)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gui.cell_paint import BADGE, SECONDARY, paint_badge, text_colour
from gui.image_model import AnyIndex, Role
from gui.result_text import Mark, clock, mark_of
from gui.rows import ImageRow
from gui.thumbnails import GRID_EDGE, ThumbnailLoader

# Thumbnail sizes the grid offers (View ▸ Larger / Smaller Thumbnails, the status bar's slider).
GRID_EDGES = (96, 128, 160, 200, 256)
TEXT_LINES = 4  # name, source, mark and time, "was …" or the failure's reason
LINE_HEIGHT = 17


def tile_size(edge: int) -> QSize:
    return QSize(edge + 36, edge + 12 + TEXT_LINES * LINE_HEIGHT)


TILE = tile_size(GRID_EDGE)


class GridDelegate(QStyledItemDelegate):
    def __init__(self, thumbnails: ThumbnailLoader) -> None:
        super().__init__()
        self._thumbnails = thumbnails
        self.edge = GRID_EDGE

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return tile_size(self.edge)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        row: ImageRow | None = index.data(Role.ROW)
        if row is None:
            return
        edge = self.edge
        painter.save()
        rect: QRect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect.adjusted(2, 2, -2, -2), option.palette.highlight())
        key = row.thumbnail_key
        pixmap = (
            self._thumbnails.pixmap((*key, edge)) if key else self._thumbnails.placeholder(edge)
        )
        x = rect.x() + (rect.width() - pixmap.width()) // 2
        painter.drawPixmap(x, rect.y() + 6 + (edge - pixmap.height()) // 2, pixmap)

        metrics = QFontMetrics(option.font)
        painter.setFont(option.font)
        line = QRect(rect.x() + 4, rect.y() + edge + 10, rect.width() - 8, LINE_HEIGHT)
        painter.setPen(text_colour(option))
        name = metrics.elidedText(row.name, Qt.TextElideMode.ElideMiddle, line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignCenter, name)
        line.translate(0, LINE_HEIGHT)
        painter.setPen(text_colour(option) if selected else SECONDARY)
        source = metrics.elidedText(row.source, Qt.TextElideMode.ElideMiddle, line.width())
        painter.drawText(line, Qt.AlignmentFlag.AlignCenter, source)
        line.translate(0, LINE_HEIGHT)
        mark = mark_of(row)
        when = clock(row.file.mtime if row.file else None)
        width = metrics.horizontalAdvance(when) + (BADGE + 4 if mark.value else 0)
        left = line.x() + (line.width() - width) // 2
        if mark.value:
            paint_badge(painter, QRect(left, line.y(), BADGE, line.height()), mark)
            left += BADGE + 4
        painter.setPen(text_colour(option, mark))
        painter.drawText(
            QRect(left, line.y(), line.right() - left, line.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            when,
        )
        line.translate(0, LINE_HEIGHT)
        earlier = _earlier(row, mark)
        if earlier:
            painter.setPen(text_colour(option, mark if mark is Mark.FAILED else None))
            if not selected and mark is not Mark.FAILED:
                painter.setPen(SECONDARY)
            text = metrics.elidedText(earlier, Qt.TextElideMode.ElideRight, line.width())
            painter.drawText(line, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def _earlier(row: ImageRow, mark: Mark) -> str:
    """The tile's last line: the time the file had before its last refresh replaced it, or
    why that refresh failed (the tooltip and the details pane say more)."""
    result = row.result
    if result is None:
        return ""
    if mark is Mark.FAILED:
        return result.error or "failed"
    if result.before_mtime is not None and result.before_mtime != result.after_mtime:
        return f"was {clock(result.before_mtime)}"
    return ""

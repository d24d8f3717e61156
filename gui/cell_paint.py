"""Painting of the table's two-line cells and of the refresh mark, shared with the grid.

A cell shows its DisplayRole on the first line and Role.DETAIL below (wrapped onto a third line
when it needs one: a failure's reason is what people read). The refresh mark is a coloured
badge, so a failed row stays red when it is selected.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from gui.image_model import MARK_COLOURS, AnyIndex, Column, Role
from gui.result_text import Mark

PADDING = 4
BADGE = 16  # the refresh mark's coloured disc, in pixels
# Grey for the second line (the source under a name), readable on white and on the highlight.
SECONDARY = QColor(105, 105, 105)


def wrapped_lines(text: str, font: QFont, width: int, max_lines: int) -> list[str]:
    """`text` broken at word boundaries (or anywhere, for a long URL) into at most `max_lines`
    lines of `width` pixels; the last line is elided if the text needs more."""
    if not text or width <= 0:
        return []
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    lines: list[str] = []
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start = line.textStart()
        lines.append(text[start : start + line.textLength()])
    layout.endLayout()
    if len(lines) > max_lines:
        rest = "".join(lines[max_lines - 1 :])
        elided = QFontMetrics(font).elidedText(rest, Qt.TextElideMode.ElideRight, width)
        lines = [*lines[: max_lines - 1], elided]
    return [line.rstrip() for line in lines]


def paint_badge(painter: QPainter, rect: QRect, mark: Mark) -> None:
    """The mark (✔ ✖ = …) in white on a disc of its colour, centred in `rect`."""
    if mark is Mark.NONE:
        return
    colour = MARK_COLOURS.get(mark, QColor(110, 110, 110))
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    disc = QRectF(
        rect.center().x() - BADGE / 2 + 1, rect.center().y() - BADGE / 2 + 1, BADGE, BADGE
    )
    painter.drawEllipse(disc)
    painter.setPen(QColor(255, 255, 255))
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, mark.value)
    painter.restore()


def text_colour(option: QStyleOptionViewItem, mark: Mark | None = None) -> QColor:
    """Highlighted text on a selected row; the mark's colour, else the text colour, on others."""
    selected = bool(option.state & QStyle.StateFlag.State_Selected)
    group = (
        QPalette.ColorGroup.Active
        if option.state & QStyle.StateFlag.State_Active
        else QPalette.ColorGroup.Inactive
    )
    if selected:
        return option.palette.color(group, QPalette.ColorRole.HighlightedText)
    if mark is not None and mark in MARK_COLOURS:
        return MARK_COLOURS[mark]
    return option.palette.color(group, QPalette.ColorRole.Text)


class TwoLineDelegate(QStyledItemDelegate):
    """The thumbnail (never tinted by the selection: it is the proof), the name over its
    source, and the last refresh over its times or its reason."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        column = index.column()
        if column not in (Column.THUMBNAIL, Column.NAME, Column.RESULT):
            super().paint(painter, option, index)
            return
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        background.icon = QIcon()
        background.features &= ~QStyleOptionViewItem.ViewItemFeature.HasDecoration
        widget: QWidget | None = option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, background, painter, widget)
        if column == Column.THUMBNAIL:
            pixmap = index.data(Qt.ItemDataRole.DecorationRole)
            if isinstance(pixmap, QPixmap) and not pixmap.isNull():
                rect = option.rect
                painter.drawPixmap(
                    rect.x() + (rect.width() - pixmap.width()) // 2,
                    rect.y() + (rect.height() - pixmap.height()) // 2,
                    pixmap,
                )
            return
        painter.save()
        rect = option.rect.adjusted(PADDING, 2, -PADDING, -2)
        metrics = QFontMetrics(option.font)
        line_height = metrics.lineSpacing()
        first = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        detail = str(index.data(Role.DETAIL) or "")
        if column == Column.RESULT:
            mark = index.data(Role.MARK)
            paint_badge(painter, QRect(rect.x(), rect.y(), BADGE + 2, rect.height()), mark)
            rect.setLeft(rect.left() + BADGE + 6)
            first = first.removeprefix(mark.value).strip() if mark else first
            lines = [
                metrics.elidedText(first, Qt.TextElideMode.ElideRight, rect.width()),
                *wrapped_lines(detail, option.font, rect.width(), 2),
            ]
            colours = [text_colour(option, mark)] * len(lines)
        else:
            lines = [
                metrics.elidedText(first, Qt.TextElideMode.ElideMiddle, rect.width()),
                metrics.elidedText(detail, Qt.TextElideMode.ElideMiddle, rect.width()),
            ]
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            colours = [text_colour(option), text_colour(option) if selected else SECONDARY]
        lines = [line for line in lines if line]
        top = rect.y() + (rect.height() - line_height * len(lines)) // 2
        painter.setFont(option.font)
        for number, (line, colour) in enumerate(zip(lines, colours, strict=False)):
            painter.setPen(colour)
            line_rect = QRect(rect.x(), top + number * line_height, rect.width(), line_height)
            painter.drawText(
                line_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line
            )
        painter.restore()

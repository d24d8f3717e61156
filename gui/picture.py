"""A picture fitted into the room it is given: the details pane's before and after, a variant's,
the preview's."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

PICTURE_MAX_HEIGHT = 200


class Picture(QWidget):
    """A picture fitted into the width it is given, up or down: the old version, which may be
    cached only at a thumbnail's size, shows as large as the new one."""

    def __init__(self, caption: str, max_height: int = PICTURE_MAX_HEIGHT) -> None:
        super().__init__()
        self.setAccessibleName(caption)
        self._max_height = max_height
        self.setMinimumSize(80, 60)
        policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._pixmap = QPixmap()
        self._text = ""

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self._pixmap, self._text = pixmap, ""
        self.update()

    def show_text(self, text: str) -> None:
        self._pixmap, self._text = QPixmap(), text
        self.update()

    def text(self) -> str:
        return self._text

    def shown_rect(self) -> QRect:
        """Where the picture is drawn, in this widget (empty when it shows text)."""
        if self._pixmap.isNull():
            return QRect()
        size = self._pixmap.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(
            (self.width() - size.width()) // 2,
            (self.height() - size.height()) // 2,
            size.width(),
            size.height(),
        )

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return min(self._max_height, max(60, width * 5 // 8))

    def sizeHint(self) -> QSize:
        return QSize(160, 100)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._pixmap.isNull():
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._text)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(self.shown_rect(), self._pixmap)

"""A large preview of one image (double-click or Enter on a row or a tile)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from core.secrets import redact
from gui.picture import Picture
from gui.result_text import full_time, result_text
from gui.rows import ImageRow
from gui.thumbnails import ThumbnailKey, ThumbnailLoader

LARGE_EDGE = 1024


class PreviewDialog(QDialog):
    """The picture at up to 1024 pixels, decoded off the GUI thread like every thumbnail."""

    def __init__(self, thumbnails: ThumbnailLoader, row: ImageRow, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{row.name} — Image Refresh")
        self._thumbnails = thumbnails
        self._key: ThumbnailKey | None = (
            (*row.thumbnail_key, LARGE_EDGE) if row.thumbnail_key else None
        )
        self.picture = Picture("Preview")
        self.picture.setMinimumSize(320, 200)
        caption = QLabel(
            "\n".join(
                line
                for line in (
                    row.name,
                    redact(row.entry.url) or "(no source URL: found on disk)",
                    f"Modified {full_time(row.file.mtime)}" if row.file else "not downloaded",
                    result_text(row),
                )
                if line
            )
        )
        caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        caption.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addWidget(caption)
        layout.addWidget(buttons)
        thumbnails.ready.connect(self._on_ready)
        self._show()
        screen = QGuiApplication.primaryScreen()
        room = screen.availableGeometry().size() * 0.8 if screen else None
        width = min(LARGE_EDGE, room.width()) if room else 800
        height = min(LARGE_EDGE * 5 // 8 + 120, room.height()) if room else 620
        self.resize(width, height)

    def _show(self) -> None:
        if self._key is None:
            self.picture.show_text("(no file in the cache)")
        else:
            self.picture.show_pixmap(self._thumbnails.pixmap(self._key))

    def _on_ready(self, key: ThumbnailKey) -> None:
        if key == self._key:
            self._show()

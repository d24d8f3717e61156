"""The details pane: a large preview (old and new side by side after a refresh) and the facts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.models import HistoryEntry
from gui.image_model import human_size
from gui.result_text import clock, full_time, result_text
from gui.rows import ImageRow
from gui.thumbnails import GRID_EDGE, PREVIEW_EDGE, TABLE_EDGE, ThumbnailKey, ThumbnailLoader

HISTORY_HEADERS = ["When", "Mode", "Before", "After", "Outcome"]
# Sizes an old picture may still be cached at, best first, for the before/after view.
PICTURE_EDGES = (PREVIEW_EDGE, GRID_EDGE, TABLE_EDGE)


class _Picture(QLabel):
    """A picture that scales down to the width it is given, keeping its aspect ratio."""

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(100, 80)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(caption)
        self._original = QPixmap()

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self._original = pixmap
        self.setText("")
        self._fit()

    def show_text(self, text: str) -> None:
        self._original = QPixmap()
        self.setPixmap(QPixmap())
        self.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._original.isNull():
            return
        width = min(self.width(), self._original.width())
        self.setPixmap(
            self._original.scaledToWidth(max(width, 1), Qt.TransformationMode.SmoothTransformation)
        )


class DetailsPane(QWidget):
    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._row: ImageRow | None = None
        thumbnails.ready.connect(self._on_thumbnail_ready)

        self.before = _Picture("Before")
        self.after = _Picture("Picture")
        self.before_caption = QLabel()
        self.after_caption = QLabel()
        for caption in (self.before_caption, self.after_caption):
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pictures = QGridLayout()
        pictures.addWidget(self.before, 0, 0)
        pictures.addWidget(self.after, 0, 1)
        pictures.addWidget(self.before_caption, 1, 0)
        pictures.addWidget(self.after_caption, 1, 1)

        self.fields: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name in (
            "Name",
            "Status",
            "Modified",
            "Dimensions",
            "Size",
            "Type",
            "URL",
            "Path",
            "SHA-256",
            "Source last modified",
            "ETag",
            "Downloaded",
        ):
            value = QLineEdit()  # read-only: long URLs and hashes scroll, select and copy
            value.setReadOnly(True)
            value.setFrame(False)
            value.setAccessibleName(name)
            self.fields[name] = value
            form.addRow(f"{name}:", value)

        self.history = QTableWidget(0, len(HISTORY_HEADERS))
        self.history.setHorizontalHeaderLabels(HISTORY_HEADERS)
        self.history.verticalHeader().hide()
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Sized once per fill (show_history), from the rows in view: in ResizeToContents mode
        # every replaced cell measures its whole column again, 0.6 s for 100 refreshes.
        self.history.horizontalHeader().setStretchLastSection(True)
        self.history.horizontalHeader().setResizeContentsPrecision(0)
        self.history.setAccessibleName("Refresh history")
        self.history.setMinimumHeight(120)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(pictures)
        layout.addLayout(form)
        self.actions_row = QHBoxLayout()  # buttons other modules add (gui.safety_net: Revert)
        layout.addLayout(self.actions_row)
        layout.addWidget(QLabel("Refresh history:"))
        layout.addWidget(self.history)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_row(None)

    def show_row(self, row: ImageRow | None) -> None:
        self._row = row
        if row is None:
            for value in self.fields.values():
                value.clear()
            self.before.hide()
            self.before_caption.hide()
            self.after.show_text("Select an image to see its details.")
            self.after_caption.clear()
            self.history.setRowCount(0)
            return
        entry = row.entry
        facts = {
            "Name": row.name,
            "Status": result_text(row) or "—",
            "Modified": full_time(row.file.mtime if row.file else None),
            "Dimensions": f"{entry.width} × {entry.height}" if entry.width else "",
            "Size": human_size(row.file.size if row.file else None),
            "Type": entry.content_type or "",
            "URL": entry.url or "(no URL: the file was found on disk)",
            "Path": str(row.path) if row.path else "(not downloaded)",
            "SHA-256": entry.sha256 or "",
            "Source last modified": entry.last_modified or "",
            "ETag": entry.etag or "",
            "Downloaded": full_time(entry.downloaded_at) if entry.downloaded_at else "",
        }
        for name, text in facts.items():
            self.fields[name].setText(text)
            self.fields[name].setCursorPosition(0)
        self._show_pictures()

    def show_history(self, key: str, history: list[HistoryEntry]) -> None:
        if self._row is None or self._row.key != key:
            return
        self.history.setRowCount(len(history))
        for r, item in enumerate(history):
            cells = [
                full_time(item.at),
                item.mode + (" (force_refresh=True)" if item.force_refresh else ""),
                clock(item.before_mtime),
                clock(item.after_mtime),
                item.outcome + (f": {item.error}" if item.error else ""),
            ]
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.history.setItem(r, c, cell)
        self.history.resizeColumnsToContents()

    def _keys(self) -> tuple[ThumbnailKey | None, ThumbnailKey | None]:
        row = self._row
        if row is None:
            return None, None
        current = (*row.thumbnail_key, PREVIEW_EDGE) if row.thumbnail_key else None
        result = row.result
        previous = None
        if (
            result is not None
            and row.path is not None
            and result.before_mtime is not None
            and result.before_size is not None
            and result.after_mtime != result.before_mtime
        ):
            previous = (
                str(result.path or row.path),
                result.before_mtime,
                result.before_size,
                PREVIEW_EDGE,
            )
        return previous, current

    def _show_pictures(self) -> None:
        previous, current = self._keys()
        row = self._row
        assert row is not None
        comparing = previous is not None and row.result is not None
        self.before.setVisible(comparing)
        self.before_caption.setVisible(comparing)
        if comparing and previous is not None and row.result is not None:
            old = next(
                (
                    p
                    for edge in PICTURE_EDGES
                    if (p := self._thumbnails.cached((*previous[:3], edge)))
                ),
                None,
            )
            if old is not None:
                self.before.show_pixmap(old)
            else:
                self.before.show_text("(the old picture was not\nshown before the refresh)")
            self.before_caption.setText(f"Before: {clock(row.result.before_mtime)}")
            self.after_caption.setText(f"After: {clock(row.result.after_mtime)}")
        else:
            self.after_caption.setText(f"Modified {clock(row.file.mtime)}" if row.file else "")
        if current is None:
            self.after.show_text("(no file in the cache)")
        else:
            self.after.show_pixmap(self._thumbnails.pixmap(current))

    def _on_thumbnail_ready(self, key: ThumbnailKey) -> None:
        previous, current = self._keys()
        if key in (previous, current):
            self._show_pictures()

    def shown_key(self) -> str | None:
        return self._row.key if self._row is not None else None

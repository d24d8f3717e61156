"""The details pane: the proof of a refresh on top (the old and the new picture, the same size,
with their times), then an adopted original's variants (gui.variant_pictures), the facts,
wrapped so nothing is cut, and the image's refresh history."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QAction,
    QFontMetrics,
    QResizeEvent,
    QTextOption,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.models import HistoryEntry
from core.secrets import redact
from gui.image_model import human_size
from gui.picture import Picture
from gui.result_text import clock, full_time, result_text
from gui.rows import ImageRow, VariantFile
from gui.thumbnails import PREVIEW_EDGE, ThumbnailKey, ThumbnailLoader
from gui.variant_pictures import VariantPictures

HISTORY_HEADERS = ["When", "Before → After", "Outcome"]
FIELDS = (
    "Name",
    "Status",
    "Modified",
    "Size",
    "Dimensions",
    "Type",
    "URL",
    "File",
    "SHA-256",
    "Source date",
    "ETag",
    "Downloaded",
)


def _seconds(mtime: float | None) -> str:
    return clock(mtime)[:8]


class WrappedValue(QTextEdit):
    """A read-only value that wraps anywhere (long URLs, paths, hashes) and is as tall as its
    text: nothing is cut, and it selects and copies exactly."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName(name)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.document().setDocumentMargin(1)
        self.viewport().setAutoFillBackground(False)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._fit_height()

    def set_value(self, text: str) -> None:
        if text != self.toPlainText():
            self.setPlainText(text)
            self._fit_height()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        document = self.document()
        document.setTextWidth(max(self.viewport().width(), 20))
        lines = max(1, round(document.size().height()))
        self.setFixedHeight(lines + 2 * self.frameWidth())


class DetailsPane(QWidget):
    def __init__(self, thumbnails: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._thumbnails = thumbnails
        self._row: ImageRow | None = None
        thumbnails.ready.connect(self._on_thumbnail_ready)

        self.before = Picture("Before")
        self.after = Picture("Picture")
        self.before_caption = QLabel()
        self.after_caption = QLabel()
        for caption in (self.before_caption, self.after_caption):
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pictures = QGridLayout()
        pictures.setContentsMargins(6, 6, 6, 0)
        pictures.addWidget(self.before, 0, 0)
        pictures.addWidget(self.after, 0, 1)
        pictures.addWidget(self.before_caption, 1, 0)
        pictures.addWidget(self.after_caption, 1, 1)

        self.fields: dict[str, WrappedValue] = {}
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(2)
        for name in FIELDS:
            value = WrappedValue(name)
            self.fields[name] = value
            form.addRow(f"{name}:", value)

        self.history = QTableWidget(0, len(HISTORY_HEADERS))
        self.history.setHorizontalHeaderLabels(HISTORY_HEADERS)
        self.history.verticalHeader().hide()
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setWordWrap(False)
        self.history.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.history.setTextElideMode(Qt.TextElideMode.ElideRight)
        # Fixed widths from the fixed formats of the times (no measuring of every cell: that
        # costs 0.6 s for 100 refreshes); the outcome takes what is left and elides.
        header = self.history.horizontalHeader()
        metrics = QFontMetrics(self.history.font())
        for column, sample in ((0, "00-00 00:00"), (1, "00:00:00 → 00:00:00")):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 14)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.history.setAccessibleName("Refresh history")
        self.history.setMinimumHeight(120)

        self.variants = VariantPictures(thumbnails)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.variants)
        layout.addLayout(form)
        self._actions_row = QHBoxLayout()  # buttons of other modules (see add_action_button)
        self._actions_row.addStretch(1)
        layout.addLayout(self._actions_row)
        layout.addWidget(QLabel("Refresh history:"))
        layout.addWidget(self.history, 1)
        self.facts_area = QScrollArea()
        self.facts_area.setWidgetResizable(True)
        self.facts_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.facts_area.setFrameShape(QFrame.Shape.NoFrame)
        self.facts_area.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(pictures)  # the proof stays in sight: it never scrolls away
        outer.addWidget(self.facts_area, 1)
        self.setMinimumWidth(260)
        self.show_row(None)

    def add_action_button(self, action: QAction) -> QToolButton:
        """A button for an action on the shown image (Revert to Previous, Set Source URL…),
        after those added before."""
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setAccessibleName(action.text().replace("&", ""))
        self._actions_row.insertWidget(self._actions_row.count() - 1, button)
        return button

    def show_row(self, row: ImageRow | None) -> None:
        """Show a row; the same row again (a new state) updates what changed."""
        same_image = row is not None and self._row is not None and row.key == self._row.key
        if not same_image:
            self.history.setRowCount(0)
            self.variants.show_variants([], None)
        self._row = row
        self.facts_area.setVisible(row is not None)
        if row is None:
            for value in self.fields.values():
                value.set_value("")
            self.before.hide()
            self.before_caption.hide()
            self.after.show_text("Select an image to see its details.")
            self.after_caption.clear()
            return
        entry = row.entry
        facts = {
            "Name": row.name,
            "Status": result_text(row) or "not refreshed since the folder was opened",
            "Modified": full_time(row.file.mtime if row.file else None),
            "Size": human_size(row.file.size if row.file else None),
            "Dimensions": f"{entry.width} × {entry.height}" if entry.width else "",
            "Type": entry.content_type or "",
            "URL": redact(entry.url) or "(no URL: the file was found on disk)",
            "File": str(row.path) if row.path else "(not downloaded)",
            "SHA-256": entry.sha256 or "",
            "Source date": entry.last_modified or "",
            "ETag": entry.etag or "",
            "Downloaded": full_time(entry.downloaded_at) if entry.downloaded_at else "",
        }
        for name, text in facts.items():
            self.fields[name].set_value(text)
        self._show_pictures()

    def show_history(self, key: str, history: list[HistoryEntry]) -> None:
        if self._row is None or self._row.key != key:
            return
        self.history.setRowCount(len(history))
        for r, item in enumerate(history):
            mode = f"{item.mode} (force_refresh=True)" if item.force_refresh else item.mode
            outcome = f"{item.outcome}, {mode}" + (f": {item.error}" if item.error else "")
            # Short in the table (seconds), to the millisecond in the tooltip.
            exact = f"{clock(item.before_mtime)} → {clock(item.after_mtime)}"
            cells = [
                datetime.fromtimestamp(item.at).strftime("%m-%d %H:%M"),
                f"{_seconds(item.before_mtime)} → {_seconds(item.after_mtime)}",
                outcome,
            ]
            tooltip = f"{full_time(item.at)}\n{exact}\n{outcome}"
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(tooltip)
                self.history.setItem(r, c, cell)

    def show_variants(self, key: str, variants: list[VariantFile]) -> None:
        """An adopted original's variants as they are on disk now (read off the GUI thread),
        beside what its last refresh replaced of them."""
        if self._row is None or self._row.key != key:
            return
        self.variants.show_variants(variants, self._row.result)

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
            old = self._thumbnails.cached_version(previous[:3])
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

    def shown_row(self) -> ImageRow | None:
        return self._row

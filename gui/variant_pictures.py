"""An adopted original's derived sizes in the details pane (`thumb_x.jpg` of `original_x.jpg`):
each as it is now; after a refresh (or revert) that remade it, its old picture beside the new.

The old picture is the one the window showed before the refresh, found in the thumbnail cache by
the version the refresh itself says it replaced (core's MadeVariant): never a guess, never the new
file under an old name. A variant not shown before its refresh says so.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from core.models import MadeVariant, RefreshResult
from gui.picture import Picture
from gui.result_text import clock
from gui.rows import VariantFile
from gui.thumbnails import PREVIEW_EDGE, FileVersion, ThumbnailKey, ThumbnailLoader

NOT_SHOWN_BEFORE = "(the old variant was not\nshown before the refresh)"
NONE_BEFORE = "(there was no variant\nbefore the refresh)"
NO_FILE_YET = "(no file yet: the next\nrefresh makes it)"
VARIANT_MAX_HEIGHT = 130  # smaller than the original's: the facts below stay in sight


class VariantPanel(QWidget):
    """One variant: its name and rule, then its picture now, or its old and new side by side."""

    def __init__(self, variant: VariantFile) -> None:
        super().__init__()
        self.path = variant.path
        self.title = QLabel(f"{variant.path.name} · {variant.rule}")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.before = Picture(f"{variant.path.name} before the refresh", VARIANT_MAX_HEIGHT)
        self.after = Picture(variant.path.name, VARIANT_MAX_HEIGHT)
        self.before_caption = QLabel()
        self.after_caption = QLabel()
        for caption in (self.before_caption, self.after_caption):
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pictures = QGridLayout()  # the title stays out of it: one picture takes the whole width
        pictures.addWidget(self.before, 0, 0)
        pictures.addWidget(self.after, 0, 1)
        pictures.addWidget(self.before_caption, 1, 0)
        pictures.addWidget(self.after_caption, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.title)
        layout.addLayout(pictures)


class VariantPictures(QWidget):
    """The variants of the image the details pane shows (hidden when it has none)."""

    def __init__(self, thumbnails: ThumbnailLoader) -> None:
        super().__init__()
        self._thumbnails = thumbnails
        thumbnails.ready.connect(self._on_thumbnail_ready)
        self._variants: list[VariantFile] = []
        self._made: dict[Path, MadeVariant] = {}
        self.panels: list[VariantPanel] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self.title = QLabel("Variants, made anew from it by each refresh:")
        self._layout.addWidget(self.title)
        self.hide()

    def show_variants(self, variants: list[VariantFile], result: RefreshResult | None) -> None:
        """`variants` as they are on disk now; `result`: the image's last refresh, which says
        what it replaced of each."""
        self._variants = variants
        self._made = {made.path: made for made in (result.variants or ())} if result else {}
        if [panel.path for panel in self.panels] != [variant.path for variant in variants]:
            for panel in self.panels:
                self._layout.removeWidget(panel)
                panel.deleteLater()
            self.panels = [VariantPanel(variant) for variant in variants]
            for panel in self.panels:
                self._layout.addWidget(panel)
        self.setVisible(bool(variants))
        self._paint()

    def _paint(self) -> None:
        for panel, variant in zip(self.panels, self._variants, strict=True):
            made = self._replaced(variant)
            panel.before.setVisible(made is not None)
            panel.before_caption.setVisible(made is not None)
            if variant.file is None:
                panel.after.show_text(NO_FILE_YET)
                panel.after_caption.clear()
                continue
            now: ThumbnailKey = (
                str(variant.path),
                variant.file.mtime,
                variant.file.size,
                PREVIEW_EDGE,
            )
            panel.after.show_pixmap(self._thumbnails.pixmap(now))
            if made is None:
                panel.after_caption.setText(f"Modified {clock(variant.file.mtime)}")
                continue
            old = self._old_version(made)
            pixmap = self._thumbnails.cached_version(old) if old is not None else None
            if pixmap is not None:
                panel.before.show_pixmap(pixmap)
            else:
                panel.before.show_text(NONE_BEFORE if old is None else NOT_SHOWN_BEFORE)
            panel.before_caption.setText(
                f"Before: {clock(made.before_mtime)}" if old is not None else "Before: none"
            )
            panel.after_caption.setText(f"After: {clock(made.after_mtime)}")

    def _replaced(self, variant: VariantFile) -> MadeVariant | None:
        """What the last refresh replaced of the variant, if the file now is the one it made."""
        made = self._made.get(variant.path)
        if made is None or variant.file is None:
            return None
        if (made.after_mtime, made.after_size) != (variant.file.mtime, variant.file.size):
            return None  # changed since by someone else: shown as it is now
        return made

    @staticmethod
    def _old_version(made: MadeVariant) -> FileVersion | None:
        if made.before_mtime is None or made.before_size is None:
            return None
        return str(made.path), made.before_mtime, made.before_size

    def _on_thumbnail_ready(self, key: ThumbnailKey) -> None:
        if any(key[0] == str(variant.path) for variant in self._variants):
            self._paint()

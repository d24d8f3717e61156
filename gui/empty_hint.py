"""What an empty cache shows instead of an empty table: how to put images into it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget


class EmptyHint(QWidget):
    def __init__(self, actions: tuple[QAction, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._actions = actions
        self.setAccessibleName("Empty cache")
        title = QLabel("<h3>This cache has no images yet</h3>")
        text = QLabel(
            "Add the URLs of the images to keep (Add URLs…), paste them (Ctrl+V) or drop "
            "them on this window: they are downloaded at once.<br>"
            "Or open a folder of images, a cache or any other, where it is (Open Folder…)."
        )
        text.setWordWrap(True)
        for label in (title, text):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for action in actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def actions_offered(self) -> tuple[QAction, ...]:
        return self._actions

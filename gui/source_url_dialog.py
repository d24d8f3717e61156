"""Set Source URL…: one image's source URL, typed by hand.

The URL in use is shown only redacted (`key=***`): the field starts empty, so the mask is
never saved back as if it were the key, and a URL holding it is refused with the other bad URLs
(core.sources.url_problem, the check `sources import` makes).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.secrets import redact
from core.sources import url_problem
from gui.dialogs import PROBLEM_STYLE
from gui.rows import ImageRow


class SourceUrlDialog(QDialog):
    def __init__(self, row: ImageRow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        has_url = row.entry.url is not None
        self.setWindowTitle("Edit Source URL" if has_url else "Set Source URL")
        intro = QLabel(
            "The URL this image is downloaded from when it is refreshed. Type or paste it in"
            " full, keys included: they are kept for its server and shown as *** everywhere."
        )
        intro.setWordWrap(True)
        current = QLabel(redact(row.entry.url) or "(none: the file is never refreshed)")
        current.setWordWrap(True)
        current.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        current.setAccessibleName("Source URL now")
        image = QLabel(str(row.path) if row.path else row.name)
        image.setWordWrap(True)
        image.setAccessibleName("Image")
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://… (the full URL)")
        self.url.setAccessibleName("New source URL")
        self.url.setMinimumWidth(420)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(PROBLEM_STYLE)
        self.problem.setAccessibleName("Problem")
        self.url.textChanged.connect(lambda _text: self.problem.clear())
        form = QFormLayout()
        form.addRow("Image:", image)
        form.addRow("Now:", current)
        form.addRow("New URL:", self.url)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Set URL")
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def chosen_url(self) -> str:
        return self.url.text().strip()

    def _accept_if_valid(self) -> None:
        problem = url_problem(self.chosen_url())
        if problem is not None:
            self.problem.setText(f"Not set: {problem}.")
            return
        self.accept()

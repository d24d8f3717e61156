"""Small dialogs: adding URLs, preferences, about."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from core.naming import InvalidCategoryError, normalize_category
from gui.app_settings import Preferences

DEFAULT_CATEGORIES = ["events", "performers", "venues", "images"]


def urls_in(text: str) -> list[str]:
    """The http(s) URLs in pasted or dropped text, one per line or separated by spaces."""
    words = (w.strip("<>()[]{}\"'.,;") for w in text.split())
    return list(dict.fromkeys(w for w in words if w.startswith(("http://", "https://"))))


class AddUrlsDialog(QDialog):
    def __init__(
        self, categories: list[str], text: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add URLs")
        self.urls = QPlainTextEdit(text)
        self.urls.setPlaceholderText("Paste image URLs here, one per line")
        self.urls.setAccessibleName("Image URLs")
        self.category = QComboBox()
        self.category.setEditable(True)
        self.category.addItems(list(dict.fromkeys([*categories, *DEFAULT_CATEGORIES])))
        self.category.setAccessibleName("Category")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b03030")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add and download")
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Category:", self.category)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("URLs of images to add to the cache:"))
        layout.addWidget(self.urls)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def chosen_urls(self) -> list[str]:
        return urls_in(self.urls.toPlainText())

    def chosen_category(self) -> str:
        return normalize_category(self.category.currentText())

    def _accept_if_valid(self) -> None:
        if not self.chosen_urls():
            self.problem.setText("No http:// or https:// URL found in the text.")
            return
        try:
            self.chosen_category()
        except InvalidCategoryError as error:
            self.problem.setText(str(error))
            return
        self.accept()


class PreferencesDialog(QDialog):
    def __init__(self, preferences: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.jobs = QSpinBox()
        self.jobs.setRange(1, 64)
        self.jobs.setValue(preferences.jobs)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 600)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(preferences.timeout)
        self.max_size = QSpinBox()
        self.max_size.setRange(1, 4096)
        self.max_size.setSuffix(" MB")
        self.max_size.setValue(preferences.max_megabytes)
        self.retries = QSpinBox()
        self.retries.setRange(0, 10)
        self.retries.setValue(preferences.retries)
        self.kept_versions = QSpinBox()  # the safety net's bound (core.versions)
        self.kept_versions.setRange(0, 1_000_000)
        self.kept_versions.setSuffix(" MB")
        self.kept_versions.setSpecialValueText("none")
        self.kept_versions.setValue(preferences.kept_versions_megabytes)
        self.cache_dir = QLineEdit(str(preferences.cache_dir or ""))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder = QHBoxLayout()
        folder.addWidget(self.cache_dir)
        folder.addWidget(browse)
        for widget, name in (
            (self.jobs, "Downloads at once"),
            (self.timeout, "Timeout"),
            (self.max_size, "Largest image"),
            (self.retries, "Retries"),
            (self.kept_versions, "Replaced versions kept to revert to"),
            (self.cache_dir, "Cache folder"),
            (browse, "Browse for the cache folder"),
        ):
            widget.setAccessibleName(name)
        form = QFormLayout(self)
        form.addRow("Downloads at once:", self.jobs)
        form.addRow("Timeout (connect, between bytes):", self.timeout)
        form.addRow("Largest image:", self.max_size)
        form.addRow("Retries of transient failures:", self.retries)
        form.addRow("Replaced versions kept, in all:", self.kept_versions)
        form.addRow("Cache folder:", folder)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Cache folder", self.cache_dir.text())
        if folder:
            self.cache_dir.setText(folder)

    def apply_to(self, preferences: Preferences) -> None:
        preferences.jobs = self.jobs.value()
        preferences.timeout = self.timeout.value()
        preferences.max_megabytes = self.max_size.value()
        preferences.retries = self.retries.value()
        preferences.kept_versions_megabytes = self.kept_versions.value()
        text = self.cache_dir.text().strip()
        preferences.cache_dir = Path(text).expanduser() if text else preferences.cache_dir


def show_about(parent: QWidget) -> None:
    QMessageBox.about(
        parent,
        "About Image Refresh",
        f"<h3>Image Refresh {__version__}</h3>"
        "<p>Lists the cached web images with their thumbnails and file times, and "
        "force-refreshes the ones you pick. A refresh that fails keeps the old file.</p>",
    )

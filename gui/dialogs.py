"""Small dialogs: adding URLs, preferences, about."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QKeySequence, QShortcut
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
from core.http_client import check_url
from core.models import RefreshError
from core.naming import InvalidCategoryError, normalize_category
from gui.app_settings import Preferences

DEFAULT_CATEGORIES = ["events", "performers", "venues", "images"]
SKIPPED_SHOWN = 3  # skipped lines named in a message; the rest are counted
PROBLEM_STYLE = "color: #b03030"  # why a dialog's input was not taken


def _words(text: str) -> list[str]:
    return [w.strip("<>()[]{}\"'.,;") for w in text.split()]


def _is_image_url(word: str) -> bool:
    """An http(s) URL the cache would take (the same check as ImageCache.add_urls)."""
    if not word.startswith(("http://", "https://")):
        return False
    try:
        check_url(word)
    except RefreshError:
        return False
    return True


def urls_in(text: str) -> list[str]:
    """The http(s) URLs in pasted or dropped text, one per line or separated by spaces."""
    return list(dict.fromkeys(w for w in _words(text) if _is_image_url(w)))


def skipped_lines(text: str) -> list[str]:
    """The lines of `text` that give no URL to add, or hold a link that is not http(s):
    `ftp://…`, `not a url`. Blank lines are not counted."""
    skipped = []
    for line in text.splitlines():
        words = [w for w in _words(line) if w]
        if not words:
            continue
        urls = [w for w in words if _is_image_url(w)]
        other_links = [w for w in words if "://" in w and w not in urls]
        if not urls:
            skipped.append(line.strip())
        else:
            skipped.extend(other_links)
    return skipped


def describe_skipped(skipped: list[str]) -> str:
    """E.g. "2 lines skipped (not http or https URLs): ftp://a/x.jpg, not a url"."""
    shown = ", ".join(skipped[:SKIPPED_SHOWN])
    more = f" and {len(skipped) - SKIPPED_SHOWN} more" if len(skipped) > SKIPPED_SHOWN else ""
    lines = "line" if len(skipped) == 1 else "lines"
    return f"{len(skipped)} {lines} skipped (not http or https URLs): {shown}{more}"


class AddUrlsDialog(QDialog):
    def __init__(
        self, categories: list[str], text: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add URLs")
        self.urls = QPlainTextEdit(text)
        self.urls.setPlaceholderText("Paste image URLs here, one per line (Ctrl+Enter adds them)")
        self.urls.setAccessibleName("Image URLs")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("What will be added")
        self.urls.textChanged.connect(self._summarise)
        self.category = QComboBox()
        self.category.setEditable(True)
        self.category.addItems(list(dict.fromkeys([*categories, *DEFAULT_CATEGORIES])))
        self.category.setAccessibleName("Category")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(PROBLEM_STYLE)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add and download")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("Ctrl+Enter")
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        # Enter makes a new line in the text: Ctrl+Enter (either Enter key) adds the URLs.
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self._accept_if_valid)
        form = QFormLayout()
        form.addRow("Category:", self.category)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("URLs of images to add to the cache:"))
        layout.addWidget(self.urls)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(560, 380)
        self._summarise()

    def chosen_urls(self) -> list[str]:
        return urls_in(self.urls.toPlainText())

    def skipped(self) -> list[str]:
        """The lines that will not be added (shown in the dialog, said again after adding)."""
        return skipped_lines(self.urls.toPlainText())

    def _summarise(self) -> None:
        urls, skipped = self.chosen_urls(), self.skipped()
        parts = [f"{len(urls)} URL{'' if len(urls) == 1 else 's'} to add."] if urls else []
        if skipped:
            parts.append(describe_skipped(skipped) + ".")
        self.summary.setText(" ".join(parts))
        self.problem.clear()

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
    def __init__(
        self,
        preferences: Preferences,
        open_folder: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`open_folder`: the cache open in the window, shown as the cache folder."""
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._shown_folder = open_folder or preferences.cache_dir
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
        self.cache_dir = QLineEdit(str(self._shown_folder or ""))
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

    def chosen_folder(self) -> Path | None:
        """A folder to open and remember, if the user named one other than the one shown."""
        text = self.cache_dir.text().strip()
        folder = Path(text).expanduser() if text else None
        return folder if folder is not None and folder != self._shown_folder else None


def show_about(parent: QWidget) -> None:
    QMessageBox.about(
        parent,
        "About Image Refresh",
        f"<h3>Image Refresh {__version__}</h3>"
        "<p>Lists the cached web images with their thumbnails and file times, and "
        "force-refreshes the ones you pick. A refresh that fails keeps the old file.</p>",
    )
